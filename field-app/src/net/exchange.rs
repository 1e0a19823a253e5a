//! One connection's exchange with the server, and syncing once until caught up.

use std::time::{Duration, Instant};

use fieldsync_protocol::wire::{ClientMessage, ErrorCode, ServerMessage};
use fieldsync_store::host::DeviceEvent;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::{self, Message};

use super::{Backoff, NetError, SharedTablet, Socket, connect, lock};
use crate::{AppError, SyncStatus};

/// How often the session is told that time passed (re-sends of unanswered pushes).
const TICK: Duration = Duration::from_secs(1);

/// What a [`sync_until_caught_up`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Local changes the server acknowledged.
    pub sent: usize,
    /// Documents updated from the server.
    pub received: usize,
    /// Documents removed because they left the tablet's scope (jobs no longer assigned).
    pub removed: usize,
    /// Reasons of changes the server refused during this sync.
    pub refused: Vec<String>,
    /// Connections opened (more than one when a connection dropped).
    pub connections: u32,
    /// Repairs run: the server did not have the history this tablet's cursor came from
    /// (restored from an older copy, or replaced), or held other versions of its documents;
    /// every document was compared and each side got what it lacked.
    pub repairs: u32,
    /// The server's comparison at the end found documents that differ: it refused some of
    /// this tablet's changes (they stay on the tablet; see `refused`).
    pub differs: bool,
    /// Where sync stands at the end.
    pub status: SyncStatus,
}

/// Limits of a [`sync_until_caught_up`].
#[derive(Clone, Debug)]
pub struct SyncLimits {
    /// Give up after this long.
    pub timeout: Duration,
    /// Delays between connection attempts.
    pub backoff: Backoff,
}

impl Default for SyncLimits {
    /// A minute, retrying from half a second up to five seconds apart.
    fn default() -> Self {
        SyncLimits {
            timeout: Duration::from_secs(60),
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(5)),
        }
    }
}

/// How a connection's exchange ended.
pub(super) enum Ended {
    /// Caught up, everything acknowledged, photos transferred.
    CaughtUp,
    /// The service was asked to stop.
    Stopped,
}

/// One connection's exchange.
pub(super) struct Exchange<'a> {
    pub(super) tablet: &'a SharedTablet,
    pub(super) socket: Socket,
    pub(super) started: Instant,
    pub(super) connection: u64,
    pub(super) report: &'a mut SyncReport,
    /// Set once the server welcomed this connection.
    pub(super) welcomed: bool,
    pub(super) caught_up: bool,
    /// A repair is under way: not done before the server compared the documents again.
    pub(super) repairing: bool,
    /// The server compared the tablet's documents with its own: a server restored from an
    /// older copy is found out this way even when the tablet's cursor is older than the copy
    /// (its acknowledged changes after the copy come back by a repair).
    pub(super) verified: bool,
}

impl<'a> Exchange<'a> {
    /// An exchange on a newly opened `socket`.
    pub(super) fn new(
        tablet: &'a SharedTablet,
        socket: Socket,
        report: &'a mut SyncReport,
    ) -> Exchange<'a> {
        Exchange {
            tablet,
            socket,
            started: Instant::now(),
            connection: 0,
            report,
            welcomed: false,
            caught_up: false,
            repairing: false,
            verified: false,
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn send(&mut self, messages: Vec<ClientMessage>) -> Result<(), NetError> {
        for message in messages {
            self.socket
                .feed(Message::Binary(message.encode().into()))
                .await
                .map_err(|e| NetError::Connection(e.to_string()))?;
        }
        self.socket
            .flush()
            .await
            .map_err(|e| NetError::Connection(e.to_string()))
    }

    /// Handles one frame from the server.
    async fn frame(
        &mut self,
        frame: Option<Result<Message, tungstenite::Error>>,
    ) -> Result<(), NetError> {
        let bytes = match frame {
            None | Some(Ok(Message::Close(_))) => {
                return Err(NetError::Connection(
                    "the server closed the connection".into(),
                ));
            }
            Some(Err(e)) => return Err(NetError::Connection(e.to_string())),
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(_)) => return Ok(()), // pings are answered by tungstenite
        };
        let message = ServerMessage::decode(&bytes).map_err(|e| {
            NetError::Connection(format!("unreadable message from the server: {e}"))
        })?;
        self.welcomed |= matches!(message, ServerMessage::Welcome { .. });
        let now = self.now_ms();
        let (send, events) = lock(self.tablet).received(now, message)?;
        for event in events {
            match event {
                DeviceEvent::Acked(n) => self.report.sent += n,
                DeviceEvent::Updated(docs) => self.report.received += docs.len(),
                DeviceEvent::Removed(n) => self.report.removed += n,
                DeviceEvent::Refused(reason) => self.report.refused.push(reason),
                DeviceEvent::CaughtUp => self.caught_up = true,
                DeviceEvent::Repairing => {
                    self.repairing = true;
                    self.report.repairs += 1;
                }
                DeviceEvent::Verified { same } => {
                    self.repairing = false;
                    self.verified = true;
                    self.report.differs = !same;
                }
                DeviceEvent::Failed(ErrorCode::UpgradeRequired, message) => {
                    return Err(NetError::UpgradeRequired(message));
                }
                // Revoked while connected: as a token refused at the upgrade.
                DeviceEvent::Failed(ErrorCode::Revoked, reason) => {
                    return Err(NetError::Refused {
                        status: 401,
                        reason,
                    });
                }
                DeviceEvent::Failed(_, message) => return Err(NetError::Connection(message)),
            }
        }
        self.send(send).await
    }

    fn done(&self) -> Result<bool, NetError> {
        let tablet = lock(self.tablet);
        Ok(self.caught_up
            && self.verified
            && !self.repairing
            && tablet.pending()? == 0
            && tablet.transfers_idle())
    }

    /// Runs the connection until caught up (when `until_caught_up`), until `stop` is set, or
    /// until it fails. Local changes made meanwhile arrive on `outgoing`.
    pub(super) async fn run(
        &mut self,
        until_caught_up: bool,
        mut outgoing: Option<&mut mpsc::UnboundedReceiver<(u64, Vec<ClientMessage>)>>,
        mut stop: Option<&mut watch::Receiver<bool>>,
        status: Option<&watch::Sender<SyncStatus>>,
    ) -> Result<Ended, NetError> {
        let first = lock(self.tablet).connected(self.now_ms())?;
        self.connection = lock(self.tablet).connection_id();
        self.send(first).await?;
        let mut tick = tokio::time::interval(TICK);
        loop {
            if let Some(status) = status {
                status.send_replace(lock(self.tablet).status()?);
            }
            if until_caught_up && self.done()? {
                return Ok(Ended::CaughtUp);
            }
            tokio::select! {
                frame = self.socket.next() => self.frame(frame).await?,
                _ = tick.tick() => {
                    let now = self.now_ms();
                    let send = lock(self.tablet).tick(now)?;
                    self.send(send).await?;
                }
                Some((connection, messages)) = recv(&mut outgoing) => {
                    if connection == self.connection {
                        self.send(messages).await?;
                    }
                }
                _ = stopped(&mut stop) => return Ok(Ended::Stopped),
            }
        }
    }
}

async fn recv<T>(receiver: &mut Option<&mut mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

async fn stopped(stop: &mut Option<&mut watch::Receiver<bool>>) {
    match stop {
        Some(stop) => {
            // A dropped sender means stop, too.
            let _ = stop.wait_for(|stop| *stop).await;
        }
        None => std::future::pending().await,
    }
}

/// Connects and exchanges with the server until the tablet has caught up, the server has
/// acknowledged (or refused) every local change, and queued photos are uploaded; reconnects
/// with backoff when connecting fails or the connection drops, up to `limits.timeout`.
pub async fn sync_until_caught_up(
    tablet: &SharedTablet,
    mut limits: SyncLimits,
) -> Result<SyncReport, NetError> {
    let pairing = lock(tablet).pairing()?.ok_or(AppError::NotPaired)?;
    let deadline = Instant::now() + limits.timeout;
    let mut report = SyncReport::default();
    let mut last_failure = None;
    let result = loop {
        let attempt = async {
            let socket = connect(tablet, &pairing).await?;
            report.connections += 1;
            let mut exchange = Exchange::new(tablet, socket, &mut report);
            let ended = exchange.run(true, None, None, None).await;
            let _ = exchange.socket.close(None).await;
            ended
        };
        let failure = match tokio::time::timeout_at(deadline.into(), attempt).await {
            Ok(Ok(_)) => break Ok(()),
            Ok(Err(e)) => e,
            Err(_) => NetError::TimedOut {
                seconds: limits.timeout.as_secs(),
                last: last_failure
                    .take()
                    .unwrap_or_else(|| "still exchanging with the server".into()),
            },
        };
        lock(tablet).disconnected();
        lock(tablet).set_last_error(Some(failure.to_string()));
        if failure.is_permanent() || matches!(failure, NetError::TimedOut { .. }) {
            break Err(failure);
        }
        let delay = limits.backoff.next_delay(&mut rand::rng());
        if Instant::now() + delay >= deadline {
            break Err(NetError::TimedOut {
                seconds: limits.timeout.as_secs(),
                last: failure.to_string(),
            });
        }
        tracing::info!(error = %failure, ?delay, "sync connection failed; retrying");
        last_failure = Some(failure.to_string());
        tokio::time::sleep(delay).await;
    };
    let mut guard = lock(tablet);
    if result.is_ok() {
        guard.set_last_error(None);
    }
    // Taken before disconnecting, which forgets this connection's failed transfers.
    report.status = guard.status()?;
    report.status.online = false;
    guard.disconnected();
    drop(guard);
    result.map(|()| report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tablet;
    use crate::net::shared;

    #[tokio::test]
    async fn an_unreachable_server_times_out_with_the_reason_and_keeps_the_outbox() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let author = fieldsync_protocol::Author {
            user: fieldsync_protocol::UserId::new(),
            name: "Tess".into(),
        };
        let token = format!("fsd_{}", "A".repeat(43));
        let mut tablet = Tablet::pair(
            &dir.path().join("tablet.sqlite3"),
            &format!("http://127.0.0.1:{port}"),
            &token,
            author,
        )
        .unwrap();
        let mut payment = crate::PaymentForm::new(fieldsync_protocol::AccountId::new(), None);
        payment.amount = "12.50".into();
        let now = fieldsync_protocol::Timestamp::from_millis(1_790_000_000_000).unwrap();
        tablet.record_payment(now, &payment).unwrap();
        let shared = shared(tablet);
        let limits = SyncLimits {
            timeout: Duration::from_millis(300),
            backoff: Backoff::new(Duration::from_millis(10), Duration::from_millis(20)),
        };
        let err = sync_until_caught_up(&shared, limits).await.unwrap_err();
        assert!(matches!(err, NetError::TimedOut { .. }), "{err}");
        assert!(err.to_string().contains("cannot reach the server"), "{err}");
        let status = lock(&shared).status().unwrap();
        assert!(!status.online);
        assert_eq!(status.pending, 1, "the payment still waits in the outbox");
        assert!(status.last_error.unwrap().contains("cannot reach"));
    }
}
