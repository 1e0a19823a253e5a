//! Group commit: pushed batches from every connection that arrive while a commit is running are
//! stored together in the next transaction, so one fsync acknowledges many changes. Each batch
//! is answered only after its transaction has committed; then every connection is told the new
//! latest sequence number (live fan-out).
//!
//! The costly part of the checks (parsing each change, and checking a change that starts a
//! document as a new document) is done before a batch is queued, on the submitting side
//! ([`Prechecked`]), so that it runs on other cores while the writer commits.

use fieldsync_protocol::engine::StoreOutcome;
use fieldsync_protocol::wire::{DocData, Lineage};
use fieldsync_store::Prechecked;
use fieldsync_store::host::{DeviceContext, store_checked};
use tokio::sync::{mpsc, oneshot, watch};

use crate::db::{Db, DbError};

/// Most batches in one transaction.
const MAX_BATCHES: usize = 256;

/// Batches of up to this many changes are prechecked on the submitting task itself; larger ones
/// on rayon's pool (one thread per core), so that a connection's worker thread stays free for
/// others and the database's blocking threads for the database.
const PRECHECK_INLINE: usize = 4;

/// Why a batch was not stored.
#[derive(Debug)]
enum Failed {
    /// The disk is full: the batches are refused for now, not broken (the devices keep them
    /// and push them again).
    Full(String),
    /// The group's transaction failed.
    Commit(String),
    /// This batch failed alone; the others of its group were stored.
    Batch(String),
}

type Reply = Result<Committed, Failed>;

/// What became of a batch: one outcome per change, and the latest sequence number after its
/// commit with its lineage (for the device's acknowledgement).
pub type Committed = (Vec<StoreOutcome>, (u64, Lineage));

/// A pushed batch, prechecked.
struct Job {
    device: DeviceContext,
    prechecked: Prechecked,
}

struct Pending {
    job: Job,
    reply: oneshot::Sender<Reply>,
}

/// A batch queued for group commit: a future of its outcomes (one per change), ready once its
/// transaction has committed.
#[derive(Debug)]
pub struct Receipt(oneshot::Receiver<Reply>);

impl Future for Receipt {
    type Output = Result<Committed, DbError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|reply| {
            reply
                .map_err(|_| DbError::Closed)?
                .map_err(|failed| match failed {
                    Failed::Full(why) => DbError::StorageFull(why),
                    Failed::Commit(why) => DbError::Commit(why),
                    Failed::Batch(why) => DbError::BatchFailed(why),
                })
        })
    }
}

/// Handle for storing pushed batches through group commit. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Pending({} changes)",
            self.job.prechecked.changes().len()
        )
    }
}

impl GroupCommit {
    /// Starts the committer task on `db`; `latest` receives the latest sequence number after
    /// every commit.
    pub fn start(
        db: Db,
        latest: std::sync::Arc<watch::Sender<u64>>,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
        live: Live,
    ) -> GroupCommit {
        let (queue, rx) = mpsc::channel(4096);
        tokio::spawn(run(db, rx, latest, metrics, live));
        GroupCommit { queue }
    }

    /// Validates and stores one pushed batch; resolves once it is durably committed.
    pub async fn store(
        &self,
        device: DeviceContext,
        changes: Vec<DocData>,
    ) -> Result<Vec<StoreOutcome>, DbError> {
        Ok(self.submit(device, changes).await?.await?.0)
    }

    /// Prechecks one pushed batch and queues it for group commit; the receipt resolves once it
    /// is durably committed. Batches are committed in the order they are submitted, so a
    /// device may submit its next batch (which may depend on this one) before this one is
    /// committed.
    pub async fn submit(
        &self,
        device: DeviceContext,
        changes: Vec<DocData>,
    ) -> Result<Receipt, DbError> {
        let role = device.pusher();
        let prechecked = if changes.len() <= PRECHECK_INLINE {
            Prechecked::new(changes, role)
        } else {
            let (done, prechecked) = oneshot::channel();
            rayon::spawn(move || {
                // A panic (automerge on hostile bytes) must not reach rayon, which would abort
                // the process: the connection ends instead.
                let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    Prechecked::new(changes, role)
                }));
                if let Ok(checked) = checked {
                    let _ = done.send(checked);
                }
            });
            prechecked.await.map_err(|_| {
                DbError::Commit("checking the pushed changes failed unexpectedly".into())
            })?
        };
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                job: Job { device, prechecked },
                reply,
            })
            .await
            .map_err(|_| DbError::Closed)?;
        Ok(Receipt(answer))
    }
}

/// Where committed changes go live: the ring of recent commits, and the connections to wake.
pub type Live = (
    std::sync::Arc<crate::recent::Recent>,
    std::sync::Arc<crate::fanout::Fanout>,
);

async fn run(
    db: Db,
    mut rx: mpsc::Receiver<Pending>,
    latest: std::sync::Arc<watch::Sender<u64>>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    (recent, fanout): Live,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCHES {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (jobs, replies): (Vec<Job>, Vec<_>) =
            batch.into_iter().map(|p| (p.job, p.reply)).unzip();
        let size = jobs
            .iter()
            .map(|job| job.prechecked.changes().len())
            .sum::<usize>();
        let started = std::time::Instant::now();
        let result = db
            .run(move |store| {
                let tx = store.transaction()?;
                let before = tx.latest_seq()?;
                // Each batch in a savepoint of its own: one that fails (a corrupt document, a
                // panic on hostile bytes) is rolled back alone and its device told why, while
                // the others commit.
                let mut outcomes = Vec::with_capacity(jobs.len());
                for Job { device, prechecked } in jobs {
                    let stored = tx.alone(|tx| store_checked(tx, &device, prechecked))?;
                    if let Err(why) = &stored {
                        tracing::error!(device = device.origin.0, error = %why, "a pushed batch failed; nothing of it was stored");
                    }
                    outcomes.push(stored);
                }
                // What this commit stores, read once for every live session.
                let stored = tx.logged_after(before)?;
                let reached = tx.latest_lineage()?;
                tx.commit()?;
                Ok((outcomes, reached, before, stored))
            })
            .await;
        match result {
            Ok((outcomes, reached, before, stored)) => {
                metrics.committed(size, started.elapsed().as_secs_f64());
                let count = |f: fn(&StoreOutcome) -> bool| {
                    outcomes.iter().flatten().flatten().filter(|o| f(o)).count()
                };
                metrics.outcomes(
                    count(|o| *o == StoreOutcome::Stored),
                    count(|o| matches!(o, StoreOutcome::Refused(_))),
                    count(|o| *o == StoreOutcome::Deferred),
                );
                tracing::debug!(batches = replies.len(), changes = size, elapsed = ?started.elapsed(), "group commit");
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(match outcome {
                        Ok(outcome) => Ok((outcome, reached)),
                        Err(why) => Err(Failed::Batch(why)),
                    });
                }
                let (users, everyone) = db.assignments().take_noted();
                let touched = crate::fanout::Touched {
                    accounts: stored.iter().map(|change| change.account).collect(),
                    users,
                    everyone,
                };
                // The ring first: the sessions woken next read from it.
                recent.extend(before, stored, reached);
                crate::publish(&latest, reached.0);
                fanout.committed(&touched);
            }
            Err(e) => {
                tracing::error!(error = %e, batches = replies.len(), "group commit failed; nothing acknowledged");
                for reply in replies {
                    let _ = reply.send(Err(match &e {
                        DbError::StorageFull(why) => Failed::Full(why.clone()),
                        other => Failed::Commit(other.to_string()),
                    }));
                }
            }
        }
    }
}
