//! Keeping the tablet in sync in the background, for the UI.

use std::sync::Arc;

use fieldsync_protocol::wire::ClientMessage;
use tokio::sync::{mpsc, watch};

use super::exchange::{Exchange, SyncReport};
use super::{Backoff, NetError, SharedTablet, connect, lock};
use crate::{AppError, SyncStatus, Tablet};

/// Keeps a tablet in sync in the background: connects, stays connected, and reconnects with
/// backoff whenever the connection fails. Local actions go through [`SyncService::act`] so
/// that their changes are pushed at once when online.
#[derive(Debug)]
pub struct SyncService {
    tablet: SharedTablet,
    outgoing: mpsc::UnboundedSender<(u64, Vec<ClientMessage>)>,
    status: Arc<watch::Sender<SyncStatus>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SyncService {
    /// Starts syncing `tablet` on the current tokio runtime.
    pub fn start(tablet: SharedTablet, backoff: Backoff) -> Result<SyncService, AppError> {
        let initial = lock(&tablet).status()?;
        let status = Arc::new(watch::Sender::new(initial));
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(keep_in_sync(
            tablet.clone(),
            backoff,
            outgoing_rx,
            stop_rx,
            status.clone(),
        ));
        Ok(SyncService {
            tablet,
            outgoing,
            status,
            stop,
            task,
        })
    }

    /// The sync bar's state, updated after every change.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    /// The shared tablet, for reads.
    pub fn tablet(&self) -> &SharedTablet {
        &self.tablet
    }

    /// Runs a local action (which returns its result and the messages to send) and sends its
    /// messages on the current connection, if any: saved locally first, pushed at once when
    /// online.
    pub fn act<T>(
        &self,
        action: impl FnOnce(&mut Tablet) -> Result<(T, Vec<ClientMessage>), AppError>,
    ) -> Result<T, AppError> {
        let mut tablet = lock(&self.tablet);
        let connection = tablet.connection_id();
        let (value, messages) = action(&mut tablet)?;
        self.status.send_replace(tablet.status()?);
        drop(tablet);
        if !messages.is_empty() {
            // The task is gone only after stop; the change is in the outbox either way.
            let _ = self.outgoing.send((connection, messages));
        }
        Ok(value)
    }

    /// Asks the sync to stop, without waiting for it (the technician signed out).
    pub fn request_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops syncing and waits for the connection to close.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// How often a tablet whose token was refused looks whether it was paired again.
const PAIRING_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// The device token of a pairing, if any.
fn token_of<E>(pairing: &Result<Option<fieldsync_store::Pairing>, E>) -> Option<String> {
    pairing
        .as_ref()
        .ok()
        .and_then(Option::as_ref)
        .map(|p| p.token.clone())
}

async fn keep_in_sync(
    tablet: SharedTablet,
    mut backoff: Backoff,
    mut outgoing: mpsc::UnboundedReceiver<(u64, Vec<ClientMessage>)>,
    mut stop: watch::Receiver<bool>,
    status: Arc<watch::Sender<SyncStatus>>,
) {
    loop {
        let mut report = SyncReport::default();
        let pairing = lock(&tablet).pairing();
        let token = token_of(&pairing);
        let failure = match pairing {
            Ok(Some(pairing)) => match connect(&tablet, &pairing).await {
                Ok(socket) => {
                    let mut exchange = Exchange::new(&tablet, socket, &mut report);
                    let ended = exchange
                        .run(
                            false,
                            Some(&mut outgoing),
                            Some(&mut stop),
                            Some(status.as_ref()),
                        )
                        .await;
                    if exchange.welcomed {
                        backoff.reset();
                    }
                    let _ = exchange.socket.close(None).await;
                    ended.err()
                }
                Err(e) => Some(e),
            },
            Ok(None) => Some(AppError::NotPaired.into()),
            Err(e) => Some(e.into()),
        };
        {
            let mut guard = lock(&tablet);
            guard.disconnected();
            guard.set_last_error(failure.as_ref().map(|e| match e.needs_pairing() {
                true => format!("{e}. Pair this tablet again to sync; its work stays on it"),
                false => e.to_string(),
            }));
            guard.set_needs_pairing(failure.as_ref().is_some_and(NetError::needs_pairing));
            if let Ok(now) = guard.status() {
                status.send_replace(now);
            }
        }
        if *stop.borrow() {
            return;
        }
        if failure.as_ref().is_some_and(NetError::needs_pairing) {
            // Trying again with the same token only gets refused again: wait for the tablet to
            // be paired again (a new token), or to stop.
            tracing::warn!("the server refused this tablet's token: waiting to be paired again");
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(PAIRING_POLL) => {}
                    _ = stop.wait_for(|stop| *stop) => return,
                }
                let now = token_of(&lock(&tablet).pairing());
                if now.is_some() && now != token {
                    break;
                }
            }
            backoff.reset();
            continue;
        }
        let delay = backoff.next_delay(&mut rand::rng());
        match &failure {
            Some(error) => tracing::info!(%error, ?delay, "sync connection failed; retrying"),
            None => tracing::debug!(?delay, "sync connection closed; reconnecting"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}
