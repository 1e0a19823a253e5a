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

/// Most sync messages taken from the peer for one document on one connection: one answer to
/// each of this side's [`MAX_ROUNDS`] messages, and the peer's own first. Past it the peer's
/// messages for the document are ignored before anything is loaded.
pub const MAX_RECEIVED: u32 = MAX_ROUNDS + 2;

/// Most documents one connection exchanges sync messages about (a repair of a device that
/// holds every document of a company of 100,000 accounts stays under it). Past it, messages
/// about further documents are ignored: a peer naming made-up documents cannot make this side
/// keep a state for each.
pub const MAX_DOCUMENTS: usize = 1 << 18;

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
    /// Messages taken from the peer (see [`Fallback::admit`]).
    received: u32,
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

/// `message` encoded as an automerge peer of the first message version, with no capabilities:
/// a peer that believes this one reads the second version sends a whole saved document when it
/// has much to send, and a saved document's compressed columns cannot be bounded before
/// automerge inflates them (`Fallback::receive` refuses one).
fn first_version(mut message: sync::Message) -> Vec<u8> {
    message.flags = None;
    message.version = sync::MessageVersion::V1;
    message.encode()
}

impl Fallback {
    /// Whether a sync message from the peer about `id` is to be read: at most [`MAX_RECEIVED`]
    /// per document, about at most [`MAX_DOCUMENTS`] documents. Called before the document is
    /// loaded, so that ignored messages cost nothing.
    pub fn admit(&mut self, id: DocId) -> bool {
        if !self.states.contains_key(&id) && self.states.len() >= MAX_DOCUMENTS {
            return false;
        }
        let state = self.states.entry(id).or_default();
        state.received = state.received.saturating_add(1);
        state.received <= MAX_RECEIVED
    }

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
        Some(first_version(message))
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
        Some(first_version(message))
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
        // Only changes, each bounded once inflated, before automerge inflates anything (an
        // honest peer sends no saved document: see `first_version`).
        for data in message.changes.iter() {
            crate::chunks::check_changes(data)
                .map_err(|e| ValidationError::Malformed(format!("sync message: {e}")))?;
        }
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
        for change in &arrived {
            crate::validate::check_change_time(change.timestamp())?;
        }
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

    /// Both sides say they read only the first message version, so a peer never sends a saved
    /// document (whose compressed columns automerge would inflate without a bound), and one
    /// that arrives anyway is refused before automerge reads it.
    #[test]
    fn sync_messages_carry_single_changes_only() {
        let mut a = AutoCommit::new();
        a.put(ROOT, "title", "x".repeat(5_000)).unwrap();
        a.commit();
        let (mut sender, mut receiver) = (Fallback::default(), Fallback::default());
        let mut b = AutoCommit::new();
        // b says what it has (nothing); a then sends everything it has, as changes.
        let hello = receiver.generate(id(), &mut b).unwrap();
        assert_eq!(hello[0], 0x42, "a first-version message");
        sender.receive(id(), &mut a, &hello).unwrap();
        let answer = sender.generate(id(), &mut a).unwrap();
        let decoded = sync::Message::decode(&answer).unwrap();
        assert!(decoded.flags.is_none());
        for data in decoded.changes.iter() {
            crate::chunks::check_changes(data).unwrap();
        }
        receiver.receive(id(), &mut b, &answer).unwrap();
        assert_eq!(b.get_heads(), a.get_heads());

        // A saved document in a message: refused, nothing applied.
        let forged = sync::Message {
            heads: a.get_heads(),
            need: Vec::new(),
            have: Vec::new(),
            changes: vec![a.save()].into(),
            flags: None,
            version: sync::MessageVersion::V2,
        };
        let mut c = AutoCommit::new();
        let error = Fallback::default()
            .receive(id(), &mut c, &forged.encode())
            .unwrap_err();
        assert!(
            error.to_string().contains("not a saved document"),
            "{error}"
        );
        assert!(c.get_heads().is_empty());
    }

    #[test]
    fn messages_past_the_bound_for_a_document_are_not_admitted() {
        let mut fallback = Fallback::default();
        for _ in 0..MAX_RECEIVED {
            assert!(fallback.admit(id()));
        }
        assert!(!fallback.admit(id()));
        let other: DocId = "0a2b7e5c-1d1f-4a5e-9b7e-3c7c1b2a9f10".parse().unwrap();
        assert!(fallback.admit(other), "other documents are counted apart");
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
