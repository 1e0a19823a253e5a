//! Automerge's own sync protocol, document by document: the path that always converges.

use std::collections::HashMap;

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};

use crate::{DocId, DocumentError, ValidationError};

/// Most sync messages one side sends for one document on one connection; bounds the exchange
/// when the other side keeps offering changes this side refuses.
const MAX_ROUNDS: u32 = 32;

/// Per-document automerge sync states for one connection.
#[derive(Debug, Default)]
pub struct Fallback {
    states: HashMap<DocId, (sync::State, u32)>,
}

impl Fallback {
    /// The next sync message for `doc`, if there is anything to say.
    pub fn generate(&mut self, id: DocId, doc: &mut AutoCommit) -> Option<Vec<u8>> {
        let (state, rounds) = self.states.entry(id).or_default();
        if *rounds >= MAX_ROUNDS {
            return None;
        }
        let message = doc.sync().generate_sync_message(state)?;
        *rounds += 1;
        Some(message.encode())
    }

    /// [`Fallback::generate`] without the changes: a message that only says what `doc` holds,
    /// so that the peer sends what it lacks, and gives it nothing. Said once, and again only
    /// when `moved` (the peer's last message brought something that was kept): otherwise the
    /// peer would only say the same again.
    pub fn generate_asking(
        &mut self,
        id: DocId,
        doc: &mut AutoCommit,
        moved: bool,
    ) -> Option<Vec<u8>> {
        let (state, rounds) = self.states.entry(id).or_default();
        if *rounds >= MAX_ROUNDS || (*rounds > 0 && !moved) {
            return None;
        }
        let mut message = doc.sync().generate_sync_message(state)?;
        message.changes = Vec::<Vec<u8>>::new().into();
        *rounds += 1;
        Some(message.encode())
    }

    /// Applies a sync message received for `doc`.
    pub fn receive(
        &mut self,
        id: DocId,
        doc: &mut AutoCommit,
        message: &[u8],
    ) -> Result<(), DocumentError> {
        let message = sync::Message::decode(message)
            .map_err(|e| ValidationError::Malformed(format!("sync message: {e}")))?;
        let (state, _) = self.states.entry(id).or_default();
        doc.sync().receive_sync_message(state, message)?;
        Ok(())
    }

    /// Forgets every document's state (on disconnect).
    pub fn clear(&mut self) {
        self.states.clear();
    }
}
