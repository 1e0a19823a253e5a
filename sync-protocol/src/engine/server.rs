//! The server side of one device's connection.

use automerge::AutoCommit;

use super::Fallback;
use crate::wire::{
    ClientMessage, DocData, ErrorCode, MAX_PUSH_CHANGES, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION,
    Refusal, ServerMessage, SyncMode,
};
use crate::{DocId, DocumentError};

/// What became of one pushed change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Durably stored (or already stored before).
    Stored,
    /// Refused and kept aside for review, with the reason for the device.
    Refused(String),
    /// Its dependencies are missing; nothing stored; the device will push it again.
    Deferred,
}

/// What the host must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerOutput {
    /// Send this message to the device.
    Send(ServerMessage),
    /// Validate and store these changes (one change each), commit, and then call
    /// [`ServerSession::stored`] with one outcome per change.
    Store {
        /// The device's batch number.
        batch: u64,
        /// The changes.
        changes: Vec<DocData>,
    },
    /// Load what the device lacks and call [`ServerSession::loaded`]: for `initial`, saved
    /// documents of the whole scope (page by page); otherwise the in-scope changes after `after`
    /// made by others than this device.
    Load {
        /// Sequence number the device has.
        after: u64,
        /// Whether this is a new device's first download.
        initial: bool,
    },
    /// Start automerge sync for every document in scope: call [`ServerSession::fallback_generate`]
    /// for each, send the results, then call [`ServerSession::fallback_started`].
    StartFallback,
    /// Apply this automerge sync message (see [`ServerSession::fallback_receive`]).
    AmSync {
        /// The document.
        doc: DocId,
        /// The message.
        message: Vec<u8>,
    },
    /// Compare this digest with the digest of the scope's documents and call
    /// [`ServerSession::digest_checked`].
    CheckDigest {
        /// The device's digest.
        digest: [u8; 32],
    },
    /// A blob message for the host's blob store.
    Blob(ClientMessage),
    /// Close the connection (after sending what came before).
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitHello,
    Live,
    Closed,
}

/// A live load a session waits for (see [`ServerSession::live_load`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveLoad {
    /// Where the `Changes` message starts: what the device was last told it has.
    pub from: u64,
    /// The changes needed are those after this sequence number.
    pub after: u64,
    /// The message must reach at least this sequence number.
    pub latest: u64,
}

/// The server side of one device's connection.
#[derive(Debug)]
pub struct ServerSession {
    epoch: u64,
    phase: Phase,
    mode: SyncMode,
    /// The device has (or has been sent) everything in scope up to here.
    sent_upto: u64,
    /// The device has been told it has everything up to here. It lags `sent_upto` while what
    /// was committed since holds nothing for the device (its own changes, other accounts'):
    /// such empty news is not sent.
    told_upto: u64,
    /// Whether the last `Changes` sent told the device it was up to date.
    told_complete: bool,
    /// Latest committed sequence number the session knows of.
    latest: u64,
    loading: bool,
    fallback: Fallback,
}

impl ServerSession {
    /// A new connection to a server database named `epoch` whose latest sequence is `latest`.
    pub fn new(epoch: u64, latest: u64) -> Self {
        ServerSession {
            epoch,
            phase: Phase::AwaitHello,
            mode: SyncMode::CatchUp,
            sent_upto: 0,
            told_upto: 0,
            told_complete: false,
            latest,
            loading: false,
            fallback: Fallback::default(),
        }
    }

    /// Whether the handshake is done and the connection open.
    pub fn is_live(&self) -> bool {
        self.phase == Phase::Live
    }

    /// Sequence number up to which the device has been sent everything in scope.
    pub fn sent_upto(&self) -> u64 {
        self.sent_upto
    }

    fn fail(&mut self, code: ErrorCode, message: String) -> Vec<ServerOutput> {
        self.phase = Phase::Closed;
        vec![
            ServerOutput::Send(ServerMessage::Error { code, message }),
            ServerOutput::Close,
        ]
    }

    /// A frame that could not be decoded arrived: tell the device why and carry on.
    pub fn malformed(&mut self, why: String) -> Vec<ServerOutput> {
        if self.phase == Phase::AwaitHello {
            return self.fail(ErrorCode::Malformed, why);
        }
        vec![ServerOutput::Send(ServerMessage::Error {
            code: ErrorCode::Malformed,
            message: why,
        })]
    }

    /// A message arrived from the device.
    pub fn receive(&mut self, message: ClientMessage) -> Vec<ServerOutput> {
        match (self.phase, message) {
            (Phase::Closed, _) => Vec::new(),
            (Phase::AwaitHello, ClientMessage::Hello { version, cursor }) => {
                if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) {
                    return self.fail(
                        ErrorCode::UpgradeRequired,
                        format!(
                            "this app speaks sync protocol {version}, the server needs {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}: please update the app"
                        ),
                    );
                }
                self.phase = Phase::Live;
                self.mode = match cursor {
                    None => SyncMode::Initial,
                    Some(c) if c.epoch == self.epoch && c.seq <= self.latest => SyncMode::CatchUp,
                    Some(_) => SyncMode::Fallback,
                };
                let welcome = ServerOutput::Send(ServerMessage::Welcome {
                    version,
                    epoch: self.epoch,
                    mode: self.mode,
                });
                let mut out = vec![welcome];
                match self.mode {
                    SyncMode::CatchUp => {
                        self.sent_upto = cursor.map_or(0, |c| c.seq);
                        self.told_upto = self.sent_upto;
                        self.load(&mut out);
                    }
                    SyncMode::Initial => {
                        self.sent_upto = 0;
                        self.told_upto = 0;
                        self.loading = true;
                        out.push(ServerOutput::Load {
                            after: 0,
                            initial: true,
                        });
                    }
                    SyncMode::Fallback => out.push(ServerOutput::StartFallback),
                }
                out
            }
            (Phase::AwaitHello, _) => self.fail(
                ErrorCode::HandshakeExpected,
                "the first message must be Hello with the protocol version".into(),
            ),
            (Phase::Live, ClientMessage::Hello { .. }) => self.fail(
                ErrorCode::HandshakeExpected,
                "Hello was already received on this connection".into(),
            ),
            (Phase::Live, ClientMessage::Push { batch, changes })
                if changes.len() > MAX_PUSH_CHANGES =>
            {
                self.malformed(format!(
                    "push {batch} holds {} changes: a push may hold at most {MAX_PUSH_CHANGES}",
                    changes.len()
                ))
            }
            (Phase::Live, ClientMessage::Push { batch, changes }) => {
                vec![ServerOutput::Store { batch, changes }]
            }
            (Phase::Live, ClientMessage::Pull { cursor }) => {
                let mut out = Vec::new();
                if cursor.epoch == self.epoch && cursor.seq <= self.sent_upto && !self.loading {
                    self.sent_upto = cursor.seq;
                    self.told_upto = cursor.seq;
                    // The device asked: it gets an answer, even an empty one.
                    self.told_complete = false;
                    self.load(&mut out);
                }
                out
            }
            (Phase::Live, ClientMessage::AmSync { doc, message }) => {
                vec![ServerOutput::AmSync { doc, message }]
            }
            (Phase::Live, ClientMessage::Verify { seq, digest }) => {
                // Only meaningful when the device claims exactly what it was sent and nothing
                // newer is on its way; otherwise the next verify will tell.
                if seq == self.told_upto && self.sent_upto == self.latest && !self.loading {
                    vec![ServerOutput::CheckDigest { digest }]
                } else {
                    Vec::new()
                }
            }
            (Phase::Live, ClientMessage::Ping { nonce }) => {
                vec![ServerOutput::Send(ServerMessage::Pong { nonce })]
            }
            (
                Phase::Live,
                blob @ (ClientMessage::BlobQuery { .. }
                | ClientMessage::BlobPut { .. }
                | ClientMessage::BlobGet { .. }),
            ) => {
                vec![ServerOutput::Blob(blob)]
            }
        }
    }

    fn load(&mut self, out: &mut Vec<ServerOutput>) {
        if self.phase == Phase::Live && !self.loading && self.latest > self.sent_upto {
            self.loading = true;
            out.push(ServerOutput::Load {
                after: self.sent_upto,
                initial: false,
            });
        } else if self.phase == Phase::Live && !self.loading && self.latest == self.sent_upto {
            out.push(self.tell(self.sent_upto, Vec::new(), true));
        }
    }

    /// The `Changes` message bringing the device from what it was told up to `to`.
    fn tell(&mut self, to: u64, docs: Vec<DocData>, complete: bool) -> ServerOutput {
        let from = self.mark_told(to, complete);
        ServerOutput::Send(ServerMessage::Changes {
            from,
            to,
            docs,
            complete,
        })
    }

    /// The device is now told it has everything up to `to` (and, if `complete`, that it is up
    /// to date); returns where it had been told before.
    fn mark_told(&mut self, to: u64, complete: bool) -> u64 {
        let from = self.told_upto;
        self.told_upto = to;
        self.told_complete = complete;
        from
    }

    /// The host stored (and committed) a pushed batch.
    pub fn stored(&mut self, batch: u64, outcomes: Vec<StoreOutcome>) -> Vec<ServerOutput> {
        if self.phase != Phase::Live {
            return Vec::new();
        }
        let mut refused = Vec::new();
        let mut deferred = Vec::new();
        for (index, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                StoreOutcome::Stored => {}
                StoreOutcome::Refused(reason) => refused.push(Refusal {
                    index: index as u32,
                    reason,
                }),
                StoreOutcome::Deferred => deferred.push(index as u32),
            }
        }
        vec![ServerOutput::Send(ServerMessage::Ack {
            batch,
            refused,
            deferred,
        })]
    }

    /// New changes were committed (by anyone); the latest sequence number is `latest`.
    pub fn notify(&mut self, latest: u64) -> Vec<ServerOutput> {
        self.latest = self.latest.max(latest);
        let mut out = Vec::new();
        if self.phase == Phase::Live && !self.loading && self.latest > self.sent_upto {
            self.load(&mut out);
        }
        out
    }

    /// The host loaded a page for [`ServerOutput::Load`]: `docs` brings the device up to `to`
    /// (for pages of an initial download that are not the last, `to` is still 0); `more` says
    /// another page follows.
    pub fn loaded(&mut self, docs: Vec<DocData>, to: u64, more: bool) -> Vec<ServerOutput> {
        if self.phase != Phase::Live {
            return Vec::new();
        }
        let to = to.max(self.sent_upto);
        let complete = !more && to >= self.latest;
        let mut out = Vec::new();
        // Nothing new for a device already told it is up to date: say nothing (on a busy
        // server most commits are other accounts' or the device's own pushes).
        let news =
            !docs.is_empty() || more || !self.told_complete || self.mode != SyncMode::CatchUp;
        if news {
            // Initial pages before the last keep `to` at 0, so the told position stays.
            out.push(self.tell(to, docs, complete));
        }
        self.advance(to, more, &mut out);
        out
    }

    /// The device has been sent everything up to `to`: load the next page, or what was
    /// committed meanwhile.
    fn advance(&mut self, to: u64, more: bool, out: &mut Vec<ServerOutput>) {
        self.sent_upto = to;
        self.latest = self.latest.max(to);
        if more {
            out.push(ServerOutput::Load {
                after: to,
                initial: self.mode == SyncMode::Initial && to == 0,
            });
        } else {
            self.loading = false;
            self.mode = SyncMode::CatchUp;
            if self.latest > self.sent_upto {
                self.load(out);
            }
        }
    }

    /// The live load on its way, if the session waits for one (and for nothing else): a host
    /// that sends many connections one shared frame answers it with
    /// [`ServerSession::sent_shared`] instead of [`ServerSession::loaded`].
    pub fn live_load(&self) -> Option<LiveLoad> {
        (self.phase == Phase::Live && self.loading && self.mode == SyncMode::CatchUp).then_some(
            LiveLoad {
                from: self.told_upto,
                after: self.sent_upto,
                latest: self.latest,
            },
        )
    }

    /// The host answered the [`ServerSession::live_load`] itself: it sent
    /// `Changes { from, to, docs, complete: true }` with that load's `from`, `docs` the
    /// changes after its `after` (not empty), and `to` at least its `latest`.
    pub fn sent_shared(&mut self, to: u64) -> Vec<ServerOutput> {
        if self.phase != Phase::Live {
            return Vec::new();
        }
        let to = to.max(self.sent_upto);
        self.mark_told(to, true);
        let mut out = Vec::new();
        self.advance(to, false, &mut out);
        out
    }

    /// The device's scope grew: send these documents whole (they hold history older than the
    /// device's cursor). They do not move the cursor.
    pub fn send_docs(&mut self, docs: Vec<DocData>) -> Vec<ServerOutput> {
        if self.phase != Phase::Live || docs.is_empty() {
            return Vec::new();
        }
        let at = self.told_upto;
        let complete = !self.loading && self.sent_upto >= self.latest;
        vec![ServerOutput::Send(ServerMessage::Changes {
            from: at,
            to: at,
            docs,
            complete,
        })]
    }

    /// The device's scope shrank: tell it to drop these documents.
    pub fn evict(&mut self, docs: Vec<DocId>) -> Vec<ServerOutput> {
        if self.phase != Phase::Live || docs.is_empty() {
            return Vec::new();
        }
        vec![ServerOutput::Send(ServerMessage::Evict { docs })]
    }

    /// The host compared the device's digest with its own.
    pub fn digest_checked(&mut self, matches: bool) -> Vec<ServerOutput> {
        if matches || self.phase != Phase::Live {
            return Vec::new();
        }
        // Sync states from an earlier round may believe messages arrived that never did:
        // a new round starts from scratch, as automerge recommends after a loss.
        self.fallback.clear();
        self.mode = SyncMode::Fallback;
        vec![
            ServerOutput::Send(ServerMessage::Welcome {
                version: PROTOCOL_VERSION,
                epoch: self.epoch,
                mode: SyncMode::Fallback,
            }),
            ServerOutput::StartFallback,
        ]
    }

    /// Fallback: the next sync message for one document in scope, as a message to send.
    pub fn fallback_generate(&mut self, id: DocId, doc: &mut AutoCommit) -> Option<ServerOutput> {
        let message = self.fallback.generate(id, doc)?;
        Some(ServerOutput::Send(ServerMessage::AmSync {
            doc: id,
            message,
        }))
    }

    /// Fallback: applies a device's sync message to a fork of the document; the host then stores
    /// the fork's new changes through the same checks as pushed changes, and replies with
    /// [`ServerSession::fallback_generate`] on the stored document.
    pub fn fallback_receive(
        &mut self,
        id: DocId,
        doc: &mut AutoCommit,
        message: &[u8],
    ) -> Result<(), DocumentError> {
        self.fallback.receive(id, doc, message)
    }

    /// Fallback: every document's first sync message was sent. The device's cursor restarts at
    /// the latest sequence number; what is older arrives through the sync exchange.
    pub fn fallback_started(&mut self) -> Vec<ServerOutput> {
        self.mode = SyncMode::CatchUp;
        self.loading = false;
        self.sent_upto = self.latest;
        self.mark_told(self.latest, true);
        vec![ServerOutput::Send(ServerMessage::Changes {
            from: 0,
            to: self.latest,
            docs: Vec::new(),
            complete: true,
        })]
    }
}
