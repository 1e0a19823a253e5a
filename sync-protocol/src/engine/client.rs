//! The device side of a connection.

use std::collections::{BTreeMap, VecDeque};

use automerge::AutoCommit;

use super::Fallback;
use crate::wire::{
    ClientMessage, Cursor, DocData, ErrorCode, Lineage, MAX_PUSH_CHANGES, PROTOCOL_VERSION,
    ServerMessage, SyncMode,
};
use crate::{AccountId, DocId, DocumentError};

/// Acknowledgements in a row that defer some of the device's changes before the device asks
/// the server to compare documents anyway (see `ClientSession::maybe_verify`).
const STUCK_AFTER: u32 = 3;

/// Tunables of a device session.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// A push not acknowledged after this long is sent again; a pull not answered, too.
    pub retry_after_ms: u64,
    /// Most change bytes in one push (and never more than [`MAX_PUSH_CHANGES`] changes).
    pub max_batch_bytes: usize,
    /// After a fallback round, the device asks the server to compare documents once no sync
    /// message arrived for this long (a comparison made too early only starts another round).
    pub verify_quiet_ms: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            retry_after_ms: 10_000,
            max_batch_bytes: 512 * 1024,
            verify_quiet_ms: 1_500,
        }
    }
}

/// One unsent local change, from the host's outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The change's hash.
    pub hash: [u8; 32],
    /// Its document.
    pub doc: DocId,
    /// The change's bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for OutboxItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutboxItem({}, {} bytes)", self.doc, self.bytes.len())
    }
}

/// What the host must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOutput {
    /// Send this message to the server.
    Send(ClientMessage),
    /// Merge these documents' data into the local store and, in the same transaction, save
    /// `cursor` as the device's cursor, with its `lineage`.
    Apply {
        /// Data per document.
        docs: Vec<DocData>,
        /// The new cursor.
        cursor: Cursor,
        /// The server's history up to the cursor, named in the next connection's handshake.
        lineage: Lineage,
    },
    /// The server does not have the history this device's cursor names (it was restored from
    /// an older copy, or replaced), or the device's documents differ from the server's: both
    /// sides compare every document (a fallback round follows). For the user interface: the
    /// sync repairs.
    Repairing,
    /// These outbox changes are durably on the server: remove them from the outbox.
    Acked(Vec<[u8; 32]>),
    /// The furthest position the server told of so far (after a commit of the device's
    /// changes, or when it sent documents that do not move the cursor): keep it, with its
    /// lineage, for the next connection's handshake.
    AckedAt((u64, Lineage)),
    /// The server refused this change: keep it in the outbox, marked refused, with the reason.
    Refused {
        /// The change.
        hash: [u8; 32],
        /// Why.
        reason: String,
    },
    /// These documents left the device's scope: drop them (unless they still have unsent changes).
    Evict(Vec<DocId>),
    /// Fallback: start automerge sync for every local document (call
    /// [`ClientSession::fallback_generate`] for each).
    StartFallback,
    /// Fallback: apply this automerge sync message to the document (call
    /// [`ClientSession::fallback_receive`] with the loaded document, store it, and send what
    /// [`ClientSession::fallback_generate`] gives).
    AmSync {
        /// The document.
        doc: DocId,
        /// The sync message.
        message: Vec<u8>,
    },
    /// The server asks which accounts the device holds documents of: list them and call
    /// [`ClientSession::accounts_held`].
    ListAccounts,
    /// Caught up with nothing left to send: compute the heads digest of all local documents and
    /// call [`ClientSession::verify`].
    Verify {
        /// The cursor sequence the digest is for.
        seq: u64,
    },
    /// Everything the server had when it answered has arrived (the sync bar's "last sync").
    CaughtUp,
    /// The server compared the device's documents with its own at `seq`; no more repair
    /// follows on this connection (after [`ClientOutput::Repairing`]: the repair is done).
    Verified {
        /// The cursor sequence the comparison was for.
        seq: u64,
        /// Whether they are the same; if not, the server refused some of the device's changes
        /// (they stay on the device).
        same: bool,
        /// When `same`: the server's attestation of the digest, to keep with the heads it was
        /// made of (see [`ClientMessage::Attested`]).
        attestation: [u8; 16],
    },
    /// A blob message for the host's blob transfer.
    Blob(ServerMessage),
    /// The server refused the connection for good (e.g. the app must be updated).
    Failed {
        /// Why.
        code: ErrorCode,
        /// Explanation to show.
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Offline,
    AwaitWelcome,
    Live,
    Failed,
}

#[derive(Debug)]
struct Batch {
    items: Vec<OutboxItem>,
    sent_at: u64,
}

/// The device side of the sync protocol.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    phase: Phase,
    cursor: Option<Cursor>,
    /// The lineage of `cursor`.
    lineage: Lineage,
    /// The furthest acknowledgement received: the latest sequence number after the commit,
    /// and its lineage.
    acked_at: (u64, Lineage),
    /// Acknowledgements in a row that deferred some of the device's changes.
    deferred_acks: u32,
    epoch: Option<u64>,
    /// Sequence received so far on this connection (after the Welcome), and its lineage.
    have: Option<(u64, Lineage)>,
    next_batch: u64,
    in_flight: BTreeMap<u64, Batch>,
    unsent: VecDeque<OutboxItem>,
    deferred: Vec<OutboxItem>,
    last_pull: Option<u64>,
    complete_at: Option<u64>,
    verified_at: Option<u64>,
    /// When the last fallback sync message arrived: verify only once the exchange is quiet.
    last_am_sync: Option<u64>,
    fallback: Fallback,
}

impl ClientSession {
    /// A session that is not connected yet.
    pub fn new(config: ClientConfig) -> Self {
        ClientSession {
            config,
            phase: Phase::Offline,
            cursor: None,
            lineage: Lineage::EMPTY,
            acked_at: (0, Lineage::EMPTY),
            deferred_acks: 0,
            epoch: None,
            have: None,
            next_batch: 1,
            in_flight: BTreeMap::new(),
            unsent: VecDeque::new(),
            deferred: Vec::new(),
            last_pull: None,
            complete_at: None,
            verified_at: None,
            last_am_sync: None,
            fallback: Fallback::default(),
        }
    }

    /// Whether the session has been welcomed by the server.
    pub fn is_live(&self) -> bool {
        self.phase == Phase::Live
    }

    /// Whether the server refused this client for good.
    pub fn has_failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// The device's cursor as the session knows it.
    pub fn cursor(&self) -> Option<Cursor> {
        self.cursor
    }

    /// A connection is open: say hello with the device's cursor and its lineage (and the
    /// furthest acknowledgement it had, `acked`), say which accounts the device holds documents
    /// of (the [`super::accounts_digest`] of those it keeps, and those it is dropping) and push
    /// the outbox straight away (one round trip).
    pub fn connect(
        &mut self,
        now: u64,
        (cursor, acked): (Option<(Cursor, Lineage)>, (u64, Lineage)),
        (accounts_digest, leaving): ([u8; 32], Vec<AccountId>),
        outbox: Vec<OutboxItem>,
    ) -> Vec<ClientOutput> {
        self.phase = Phase::AwaitWelcome;
        self.acked_at = acked;
        self.lineage = cursor.map_or(Lineage::EMPTY, |(_, lineage)| lineage);
        let cursor = cursor.map(|(cursor, _)| cursor);
        self.cursor = cursor;
        self.epoch = None;
        self.have = None;
        self.in_flight.clear();
        self.unsent = outbox.into();
        self.deferred.clear();
        self.last_pull = None;
        self.complete_at = None;
        self.verified_at = None;
        self.last_am_sync = None;
        self.fallback.clear();
        let mut out = vec![
            ClientOutput::Send(ClientMessage::Hello {
                version: PROTOCOL_VERSION,
                cursor,
            }),
            ClientOutput::Send(ClientMessage::Lineage {
                lineage: self.lineage,
                acked: self.acked_at,
            }),
            ClientOutput::Send(ClientMessage::Holding {
                accounts_digest,
                leaving,
            }),
        ];
        self.flush(now, &mut out);
        out
    }

    /// The connection is gone; unacknowledged changes stay in the host's outbox.
    pub fn disconnected(&mut self) {
        if self.phase != Phase::Failed {
            self.phase = Phase::Offline;
        }
        self.in_flight.clear();
        self.unsent.clear();
        self.deferred.clear();
        self.fallback.clear();
    }

    /// New local changes were saved: push them if connected.
    pub fn local_changes(&mut self, now: u64, items: Vec<OutboxItem>) -> Vec<ClientOutput> {
        let mut out = Vec::new();
        if matches!(self.phase, Phase::Live | Phase::AwaitWelcome) {
            self.unsent.extend(items);
            self.flush(now, &mut out);
        }
        out
    }

    fn flush(&mut self, now: u64, out: &mut Vec<ClientOutput>) {
        while !self.unsent.is_empty() {
            let mut items = Vec::new();
            let mut bytes = 0;
            while let Some(item) = self.unsent.front() {
                let full = bytes + item.bytes.len() > self.config.max_batch_bytes
                    || items.len() == MAX_PUSH_CHANGES;
                if !items.is_empty() && full {
                    break;
                }
                bytes += item.bytes.len();
                items.extend(self.unsent.pop_front());
            }
            let batch = self.next_batch;
            self.next_batch += 1;
            let changes = items
                .iter()
                .map(|i| DocData {
                    doc: i.doc,
                    data: i.bytes.clone(),
                    attested: None,
                })
                .collect();
            out.push(ClientOutput::Send(ClientMessage::Push { batch, changes }));
            self.in_flight.insert(
                batch,
                Batch {
                    items,
                    sent_at: now,
                },
            );
        }
    }

    /// Time passed: send again what was not answered in time.
    pub fn tick(&mut self, now: u64) -> Vec<ClientOutput> {
        let mut out = Vec::new();
        if self.phase != Phase::Live && self.phase != Phase::AwaitWelcome {
            return out;
        }
        let stale: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, b)| now.saturating_sub(b.sent_at) >= self.config.retry_after_ms)
            .map(|(id, _)| *id)
            .collect();
        for item in self.deferred.drain(..).rev() {
            self.unsent.push_front(item);
        }
        for id in stale.into_iter().rev() {
            if let Some(batch) = self.in_flight.remove(&id) {
                for item in batch.items.into_iter().rev() {
                    self.unsent.push_front(item);
                }
            }
        }
        self.flush(now, &mut out);
        if self.phase == Phase::AwaitWelcome {
            return out;
        }
        let waiting = self
            .complete_at
            .is_none_or(|at| Some(at) != self.have.map(|(seq, _)| seq));
        if waiting
            && self
                .last_pull
                .is_none_or(|at| now.saturating_sub(at) >= self.config.retry_after_ms)
        {
            self.pull(now, &mut out);
        }
        self.maybe_verify(now, &mut out);
        out
    }

    fn pull(&mut self, now: u64, out: &mut Vec<ClientOutput>) {
        if let (Some(epoch), Some((seq, _))) = (self.epoch, self.have) {
            self.last_pull = Some(now);
            out.push(ClientOutput::Send(ClientMessage::Pull {
                cursor: Cursor { epoch, seq },
            }));
        }
    }

    /// A message arrived from the server.
    pub fn receive(&mut self, now: u64, message: ServerMessage) -> Vec<ClientOutput> {
        let mut out = Vec::new();
        match message {
            ServerMessage::Welcome { epoch, mode, .. } => {
                self.phase = Phase::Live;
                self.epoch = Some(epoch);
                self.have = match (mode, self.cursor) {
                    (SyncMode::CatchUp, Some(c)) if c.epoch == epoch => Some((c.seq, self.lineage)),
                    _ => Some((0, Lineage::EMPTY)),
                };
                self.complete_at = None;
                self.verified_at = None;
                if mode == SyncMode::Fallback {
                    out.push(ClientOutput::Repairing);
                    // A new round: sync states of an earlier one may be out of step.
                    self.fallback.clear();
                    self.last_am_sync = Some(now);
                    out.push(ClientOutput::StartFallback);
                }
            }
            ServerMessage::Error { code, message } => {
                self.phase = Phase::Failed;
                out.push(ClientOutput::Failed { code, message });
            }
            ServerMessage::Ack {
                batch,
                refused,
                deferred,
                committed,
            } => {
                if self.in_flight.contains_key(&batch) && committed.0 > self.acked_at.0 {
                    self.acked_at = committed;
                    out.push(ClientOutput::AckedAt(committed));
                }
                self.acked(batch, refused, deferred, &mut out)
            }
            ServerMessage::Changes {
                from,
                to,
                lineage,
                docs,
                complete,
            } => self.changes(now, from, (to, lineage), docs, complete, &mut out),
            ServerMessage::AmSync { doc, message } => {
                self.last_am_sync = Some(now);
                out.push(ClientOutput::AmSync { doc, message });
            }
            ServerMessage::Evict { docs } => out.push(ClientOutput::Evict(docs)),
            ServerMessage::ListAccounts => out.push(ClientOutput::ListAccounts),
            message @ (ServerMessage::BlobStatus { .. }
            | ServerMessage::BlobChunk { .. }
            | ServerMessage::BlobError { .. }) => out.push(ClientOutput::Blob(message)),
            ServerMessage::Pong { .. } => {}
            ServerMessage::Seen { at } => {
                if at.0 > self.acked_at.0 {
                    self.acked_at = at;
                    out.push(ClientOutput::AckedAt(at));
                }
            }
            ServerMessage::Verified {
                seq,
                same,
                attestation,
            } => out.push(ClientOutput::Verified {
                seq,
                same,
                attestation,
            }),
        }
        self.maybe_verify(now, &mut out);
        out
    }

    fn acked(
        &mut self,
        batch: u64,
        refused: Vec<crate::wire::Refusal>,
        deferred: Vec<u32>,
        out: &mut Vec<ClientOutput>,
    ) {
        let Some(batch) = self.in_flight.remove(&batch) else {
            return; // an answer to a batch already re-sent and answered
        };
        let mut acked = Vec::new();
        let mut retry = Vec::new();
        for (index, item) in batch.items.into_iter().enumerate() {
            let index = index as u32;
            if let Some(r) = refused.iter().find(|r| r.index == index) {
                out.push(ClientOutput::Refused {
                    hash: item.hash,
                    reason: r.reason.clone(),
                });
            } else if deferred.contains(&index) {
                retry.push(item);
            } else {
                acked.push(item.hash);
            }
        }
        if !acked.is_empty() {
            out.push(ClientOutput::Acked(acked));
        }
        // Deferred changes wait for the next tick: their dependencies are on their way.
        self.deferred_acks = if retry.is_empty() {
            0
        } else {
            self.deferred_acks + 1
        };
        self.deferred.extend(retry);
    }

    fn changes(
        &mut self,
        now: u64,
        from: u64,
        to: (u64, Lineage),
        docs: Vec<DocData>,
        complete: bool,
        out: &mut Vec<ClientOutput>,
    ) {
        let (Some(epoch), Some(have)) = (self.epoch, self.have) else {
            return; // not welcomed yet: the server never sends before Welcome
        };
        if from > have.0 {
            // A gap: something between `have` and `from` went missing. Ask again, unless a pull
            // is already on its way.
            if self
                .last_pull
                .is_none_or(|at| now.saturating_sub(at) >= self.config.retry_after_ms)
            {
                self.pull(now, out);
            }
            return;
        }
        // What was received on this connection is never taken back by an older message.
        let (seq, lineage) = if to.0 >= have.0 { to } else { have };
        self.have = Some((seq, lineage));
        let cursor = Cursor { epoch, seq };
        self.cursor = Some(cursor);
        self.lineage = lineage;
        out.push(ClientOutput::Apply {
            docs,
            cursor,
            lineage,
        });
        if complete {
            self.complete_at = Some(seq);
            self.last_pull = None;
            out.push(ClientOutput::CaughtUp);
        } else {
            // More is on its way (pages of a download, documents of accounts that joined the
            // scope): not up to date, so no verify before it arrives.
            self.complete_at = None;
        }
    }

    fn maybe_verify(&mut self, now: u64, out: &mut Vec<ClientOutput>) {
        let quiet = self
            .last_am_sync
            .is_none_or(|at| now.saturating_sub(at) >= self.config.verify_quiet_ms);
        // Changes deferred again and again wait for something the server lacks (it was
        // restored from a copy older than their dependencies): comparing documents finds it.
        let stuck = self.deferred_acks >= STUCK_AFTER;
        let idle = quiet
            && self.in_flight.is_empty()
            && self.unsent.is_empty()
            && (self.deferred.is_empty() || stuck);
        if self.phase == Phase::Live
            && idle
            && self.complete_at.is_some()
            && self.complete_at == self.have.map(|(seq, _)| seq)
            && self.verified_at != self.complete_at
        {
            self.verified_at = self.complete_at;
            out.push(ClientOutput::Verify {
                seq: self.complete_at.unwrap_or_default(),
            });
        }
    }

    /// The host listed the accounts asked for by [`ClientOutput::ListAccounts`].
    pub fn accounts_held(&mut self, accounts: Vec<AccountId>) -> ClientOutput {
        ClientOutput::Send(ClientMessage::AccountsHeld { accounts })
    }

    /// The host computed the digest asked for by [`ClientOutput::Verify`].
    pub fn verify(&mut self, seq: u64, digest: [u8; 32]) -> ClientOutput {
        ClientOutput::Send(ClientMessage::Verify { seq, digest })
    }

    /// Fallback: the next automerge sync message for a local document, as a message to send.
    pub fn fallback_generate(&mut self, id: DocId, doc: &mut AutoCommit) -> Option<ClientOutput> {
        let message = self.fallback.generate(id, doc)?;
        Some(ClientOutput::Send(ClientMessage::AmSync {
            doc: id,
            message,
        }))
    }

    /// Fallback: applies a sync message from the server to the loaded document.
    pub fn fallback_receive(
        &mut self,
        id: DocId,
        doc: &mut AutoCommit,
        message: &[u8],
    ) -> Result<(), DocumentError> {
        self.fallback.receive(id, doc, message)
    }

    /// Number of changes pushed and not yet acknowledged or refused.
    pub fn unacknowledged(&self) -> usize {
        self.in_flight
            .values()
            .map(|b| b.items.len())
            .sum::<usize>()
            + self.unsent.len()
            + self.deferred.len()
    }
}
