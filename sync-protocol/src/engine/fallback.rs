//! Automerge's own sync protocol, document by document: the path that always converges.

use std::collections::HashMap;

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, Change};

use crate::{DocId, DocumentError, ValidationError};

/// Most sync messages one side sends for one document on one connection; bounds the exchange
/// when the other side keeps offering changes this side refuses.
const MAX_ROUNDS: u32 = 32;

/// Most bytes of changes kept, per document, waiting for the changes they depend on.
const MAX_WAITING_BYTES: usize = 4 << 20;

/// Per-document automerge sync states for one connection.
#[derive(Debug, Default)]
pub struct Fallback {
    states: HashMap<DocId, DocState>,
}

/// One document's exchange.
#[derive(Debug, Default)]
struct DocState {
    sync: sync::State,
    /// Messages generated.
    rounds: u32,
    /// Changes received whose dependencies have not arrived. Automerge keeps them in the
    /// document's queue and asks for what they lack; the caller may instead drop the document
    /// it passed (nothing in the queue can be checked or stored), and the peer never sends a
    /// change twice on one sync state: so they are kept here, given to the document again
    /// before the next message is read or written, and the next message asks for what they
    /// depend on rather than for the changes themselves. (Seen after a restore: a tablet's
    /// change depending on an office note the server lost, with the note hidden from the
    /// tablet by a false positive of the server's Bloom filter.)
    waiting: Vec<Change>,
}

impl DocState {
    /// `doc` with the waiting changes queued in it (a fork, when there are any).
    fn with_waiting<'d>(
        &self,
        doc: &'d mut AutoCommit,
        fork: &'d mut Option<AutoCommit>,
    ) -> &'d mut AutoCommit {
        if self.waiting.is_empty() {
            return doc;
        }
        let mut copy = doc.fork();
        // Changes that do not apply are only not asked for.
        let _ = copy.apply_changes(self.waiting.iter().cloned());
        fork.insert(copy)
    }
}

impl Fallback {
    /// The next sync message for `doc`, if there is anything to say.
    pub fn generate(&mut self, id: DocId, doc: &mut AutoCommit) -> Option<Vec<u8>> {
        let state = self.states.entry(id).or_default();
        if state.rounds >= MAX_ROUNDS {
            return None;
        }
        let mut fork = None;
        let doc = state.with_waiting(doc, &mut fork);
        let message = doc.sync().generate_sync_message(&mut state.sync)?;
        state.rounds += 1;
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
        let state = self.states.entry(id).or_default();
        if state.rounds >= MAX_ROUNDS || (state.rounds > 0 && !moved) {
            return None;
        }
        let mut fork = None;
        let doc = state.with_waiting(doc, &mut fork);
        let mut message = doc.sync().generate_sync_message(&mut state.sync)?;
        message.changes = Vec::<Vec<u8>>::new().into();
        state.rounds += 1;
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
        let state = self.states.entry(id).or_default();
        let waiting = std::mem::take(&mut state.waiting);
        if !waiting.is_empty() {
            // Queued again: applied with this message if it brings what they lacked.
            let _ = doc.apply_changes(waiting.iter().cloned());
        }
        let arrived: Vec<Change> = message
            .changes
            .iter()
            .filter_map(|bytes| Change::try_from(bytes).ok())
            .collect();
        doc.sync().receive_sync_message(&mut state.sync, message)?;
        let mut seen = std::collections::HashSet::new();
        let mut kept = 0;
        state.waiting = waiting
            .into_iter()
            .chain(arrived)
            .filter(|change| doc.get_change_by_hash(&change.hash()).is_none())
            .filter(|change| seen.insert(change.hash()))
            .filter(|change| {
                kept += change.raw_bytes().len();
                kept <= MAX_WAITING_BYTES
            })
            .collect();
        Ok(())
    }

    /// Forgets every document's state (on disconnect).
    pub fn clear(&mut self) {
        self.states.clear();
    }
}

#[cfg(test)]
mod tests {
    use automerge::ROOT;
    use automerge::transaction::Transactable;

    use super::*;

    fn id() -> DocId {
        "6ecf84f7-2677-01e1-74fc-62fc17b77cbc".parse().unwrap()
    }

    /// The server's side of a repair, as the host drives it: every message is received into
    /// a fork of the stored document, and the fork is dropped when nothing could be stored.
    #[test]
    fn a_change_that_arrives_before_what_it_depends_on_is_kept_and_its_dependency_asked_for() {
        let mut server_doc = AutoCommit::new();
        server_doc.put(ROOT, "title", "Boiler").unwrap();
        server_doc.commit();
        // The tablet holds a change the server lost (an office note), and its own change on
        // top of it.
        let mut tablet_doc = server_doc.fork();
        tablet_doc.put(ROOT, "note", "from the office").unwrap();
        tablet_doc.commit();
        let lost = tablet_doc.get_last_local_change().unwrap();
        tablet_doc.put(ROOT, "status", "completed").unwrap();
        tablet_doc.commit();
        let own = tablet_doc.get_last_local_change().unwrap();

        // The tablet's message carries only its own change (the other hidden by a false
        // positive of the server's Bloom filter).
        let message = sync::Message {
            heads: tablet_doc.get_heads(),
            need: Vec::new(),
            have: Vec::new(),
            changes: vec![own.raw_bytes().to_vec()].into(),
            flags: None,
            version: sync::MessageVersion::V1,
        };
        let mut server = Fallback::default();
        let mut fork = server_doc.fork();
        server.receive(id(), &mut fork, &message.encode()).unwrap();
        assert_eq!(
            fork.get_heads(),
            server_doc.get_heads(),
            "nothing applies yet"
        );
        drop(fork);

        // The answer, written from the stored document, asks for the lost change itself.
        let answer = server.generate(id(), &mut server_doc).unwrap();
        let answer = sync::Message::decode(&answer).unwrap();
        assert_eq!(answer.need, vec![lost.hash()]);

        // When it comes, both apply.
        let message = sync::Message {
            heads: tablet_doc.get_heads(),
            need: Vec::new(),
            have: Vec::new(),
            changes: vec![lost.raw_bytes().to_vec()].into(),
            flags: None,
            version: sync::MessageVersion::V1,
        };
        let mut fork = server_doc.fork();
        server.receive(id(), &mut fork, &message.encode()).unwrap();
        assert_eq!(fork.get_heads(), tablet_doc.get_heads());
        assert!(server.states[&id()].waiting.is_empty());
    }
}
