//! Group commit: pushed batches from every connection that arrive while a commit is running are
//! stored together in the next transaction, so one fsync acknowledges many changes. Each batch
//! is answered only after its transaction has committed; then every connection is told the new
//! latest sequence number (live fan-out).

use fieldsync_protocol::engine::StoreOutcome;
use fieldsync_protocol::wire::DocData;
use fieldsync_store::host::{DeviceContext, store_checked};
use tokio::sync::{mpsc, oneshot, watch};

use crate::db::{Db, DbError};

/// Most batches in one transaction.
const MAX_BATCHES: usize = 256;

struct Pending {
    device: DeviceContext,
    changes: Vec<DocData>,
    reply: oneshot::Sender<Result<Vec<StoreOutcome>, String>>,
}

/// Handle for storing pushed batches through group commit. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pending({} changes)", self.changes.len())
    }
}

impl GroupCommit {
    /// Starts the committer task on `db`; `latest` receives the latest sequence number after
    /// every commit.
    pub fn start(
        db: Db,
        latest: std::sync::Arc<watch::Sender<u64>>,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
        recent: std::sync::Arc<crate::recent::Recent>,
    ) -> GroupCommit {
        let (queue, rx) = mpsc::channel(4096);
        tokio::spawn(run(db, rx, latest, metrics, recent));
        GroupCommit { queue }
    }

    /// Validates and stores one pushed batch; resolves once it is durably committed.
    pub async fn store(
        &self,
        device: DeviceContext,
        changes: Vec<DocData>,
    ) -> Result<Vec<StoreOutcome>, DbError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                device,
                changes,
                reply,
            })
            .await
            .map_err(|_| DbError::Closed)?;
        answer
            .await
            .map_err(|_| DbError::Closed)?
            .map_err(DbError::Commit)
    }
}

async fn run(
    db: Db,
    mut rx: mpsc::Receiver<Pending>,
    latest: std::sync::Arc<watch::Sender<u64>>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    recent: std::sync::Arc<crate::recent::Recent>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCHES {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let jobs: Vec<(DeviceContext, Vec<DocData>)> = batch
            .iter_mut()
            .map(|p| (p.device.clone(), std::mem::take(&mut p.changes)))
            .collect();
        let size = jobs.iter().map(|(_, c)| c.len()).sum::<usize>();
        let started = std::time::Instant::now();
        let result = db
            .run(move |store| {
                let tx = store.transaction()?;
                let before = tx.latest_seq()?;
                let mut outcomes = Vec::with_capacity(jobs.len());
                for (device, changes) in &jobs {
                    outcomes.push(store_checked(&tx, device, changes)?);
                }
                // What this commit stores, read once for every live session.
                let stored = tx.logged_after(before)?;
                let seq = tx.latest_seq()?;
                tx.commit()?;
                Ok((outcomes, seq, before, stored))
            })
            .await;
        match result {
            Ok((outcomes, seq, before, stored)) => {
                metrics.committed(size, started.elapsed().as_secs_f64());
                let count = |f: fn(&StoreOutcome) -> bool| {
                    outcomes.iter().flatten().filter(|o| f(o)).count()
                };
                metrics.outcomes(
                    count(|o| *o == StoreOutcome::Stored),
                    count(|o| matches!(o, StoreOutcome::Refused(_))),
                    count(|o| *o == StoreOutcome::Deferred),
                );
                tracing::debug!(batches = batch.len(), changes = size, elapsed = ?started.elapsed(), "group commit");
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = pending.reply.send(Ok(outcome));
                }
                // The ring first: the sessions woken next read from it.
                recent.extend(before, stored);
                crate::publish(&latest, seq);
            }
            Err(e) => {
                tracing::error!(error = %e, batches = batch.len(), "group commit failed; nothing acknowledged");
                for pending in batch {
                    let _ = pending.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
