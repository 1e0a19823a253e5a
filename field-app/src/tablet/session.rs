//! The tablet's side of a connection: the sync session driven through the store's
//! [`DeviceHost`], photo transfers, and what the sync bar needs to know.

use fieldsync_protocol::ContentHash;
use fieldsync_protocol::engine::ClientOutput;
use fieldsync_protocol::wire::{ClientMessage, ServerMessage, SyncMode};
use fieldsync_store::host::{DeviceEvent, DeviceHost};

use super::Tablet;
use crate::AppError;

/// Photos whose thumbnails are fetched after each catch-up, at most.
const THUMBNAILS_PER_SYNC: usize = 200;

impl Tablet {
    /// A photo's image (full or thumbnail, by the hash in its record) if it is on the tablet.
    pub fn blob(&self, hash: &ContentHash) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self.store.blob(hash)?)
    }

    /// Asks the server for an image that is not on the tablet (a full photo opened on
    /// demand); returns the messages to send, none when offline or already here. The bytes
    /// arrive with later messages and are then read with [`Tablet::blob`].
    pub fn fetch_blob(&mut self, hash: ContentHash) -> Result<Vec<ClientMessage>, AppError> {
        if !self.session.is_live() {
            return Ok(Vec::new());
        }
        Ok(self
            .transfers
            .download(&self.store, hash)?
            .into_iter()
            .collect())
    }

    /// Whether no photo upload or download is under way on this connection (those that
    /// failed wait for the next connection).
    pub fn transfers_idle(&self) -> bool {
        self.transfers.idle()
    }

    /// Which connection messages are made for now: see [`net::SyncService::act`].
    pub fn connection_id(&self) -> u64 {
        self.connection
    }

    /// A connection is open: returns the messages to send first.
    pub fn connected(&mut self, now_ms: u64) -> Result<Vec<ClientMessage>, AppError> {
        self.connection += 1;
        self.first_sync = None;
        let mut send = DeviceHost::connect(&mut self.store, &mut self.session, now_ms)?.0;
        self.transfers.reset();
        send.extend(self.transfers.start_uploads(&self.store)?);
        Ok(send)
    }

    /// The connection is gone.
    pub fn disconnected(&mut self) {
        self.session.disconnected();
        self.transfers.reset();
        self.first_sync = None;
    }

    /// A message from the server: returns messages to send and events for the UI.
    pub fn received(
        &mut self,
        now_ms: u64,
        message: ServerMessage,
    ) -> Result<(Vec<ClientMessage>, Vec<DeviceEvent>), AppError> {
        match &message {
            ServerMessage::BlobStatus { .. }
            | ServerMessage::BlobChunk { .. }
            | ServerMessage::BlobError { .. } => {
                return Ok((
                    self.transfers.received(&mut self.store, message)?,
                    Vec::new(),
                ));
            }
            ServerMessage::Welcome { mode, .. } => {
                self.last_error = None;
                self.needs_pairing = false;
                self.first_sync = (*mode == SyncMode::Initial).then_some(0);
            }
            ServerMessage::Changes { docs, .. } => {
                if let Some(count) = &mut self.first_sync {
                    *count += docs.len();
                }
            }
            _ => {}
        }
        let outputs = self.session.receive(now_ms, message);
        let (mut send, events) = self.run(outputs)?;
        if events.contains(&DeviceEvent::CaughtUp) {
            self.first_sync = None;
            let tx = self.store.transaction()?;
            tx.set_last_sync_ms(chrono::Utc::now().timestamp_millis())?;
            tx.commit()?;
            // Thumbnails first; full images on demand.
            for hash in self.store.missing_thumbnails(THUMBNAILS_PER_SYNC)? {
                send.extend(self.transfers.download(&self.store, hash)?);
            }
            // Then the customers' files, within the tablet's budget.
            let now = fieldsync_protocol::Timestamp(chrono::Utc::now());
            let files = self.keep_files(now, crate::files::FILE_BUDGET)?;
            for hash in files.into_iter().take(crate::files::FILES_PER_SYNC) {
                send.extend(self.transfers.download(&self.store, hash)?);
            }
        }
        Ok((send, events))
    }

    /// Time passed: returns messages to send again.
    pub fn tick(&mut self, now_ms: u64) -> Result<Vec<ClientMessage>, AppError> {
        let outputs = self.session.tick(now_ms);
        Ok(self.run(outputs)?.0)
    }

    pub(super) fn run(
        &mut self,
        outputs: Vec<ClientOutput>,
    ) -> Result<(Vec<ClientMessage>, Vec<DeviceEvent>), AppError> {
        Ok(DeviceHost::run(
            &mut self.store,
            &mut self.session,
            outputs,
        )?)
    }
}
