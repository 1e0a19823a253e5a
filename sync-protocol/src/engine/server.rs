//! The server side of one device's connection.

use automerge::AutoCommit;

use super::Fallback;
use crate::wire::{
    ClientMessage, Cursor, DocData, ErrorCode, HeadsAttestation, Lineage, MAX_ACCOUNTS_HELD,
    MAX_ATTESTED_DOCS, MAX_PUSH_CHANGES, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, Refusal,
    ServerMessage, SyncMode,
};
use crate::{AccountId, DocId, DocumentError};

/// Most documents named in one `Evict` message.
pub const EVICT_PAGE: usize = 4096;
/// Most fallback rounds one connection starts because the device's documents differ from the
/// server's. Rounds after a lost message converge; documents that stay different after these
/// hold changes the server refuses (kept on the device and in the server's quarantine), and
/// the device is told so rather than sent round after round.
pub const MAX_REPAIRS: u32 = 3;

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
    /// Compare `lineage` with the lineage of this database's history up to `seq` (is it the
    /// history the device's cursor came from?) and call [`ServerSession::cursor_checked`].
    CheckCursor {
        /// The device's cursor.
        seq: u64,
        /// The lineage the device has for it.
        lineage: Lineage,
        /// The furthest acknowledgement the device had, which must be of this history too.
        acked: (u64, Lineage),
    },
    /// Check the device's attestation of the heads it held when last found the same as the
    /// server (see [`ClientMessage::Attested`]); when it is this database's, the changes
    /// those heads reach may be taken back from the device during the repair whoever made them.
    Attested {
        /// The attestation.
        attestation: [u8; 16],
        /// The documents' heads.
        heads: Vec<(DocId, Vec<u8>)>,
    },
    /// Check the device's attestations of documents' heads (see
    /// [`ClientMessage::AttestedDocs`]); the changes the heads with this database's
    /// attestation reach may be taken back from the device during the repair whoever made them.
    AttestedDocs {
        /// The documents and their attestations.
        docs: Vec<(DocId, HeadsAttestation)>,
    },
    /// Compare this digest with the digest of the scope's documents and call
    /// [`ServerSession::digest_checked`].
    CheckDigest {
        /// The device's digest.
        digest: [u8; 32],
    },
    /// Compare this digest of the accounts the device holds with the digest of the accounts
    /// of its scope ([`super::accounts_digest`]) and call [`ServerSession::holding_checked`].
    /// When they match, the device holds exactly its scope: the accounts it was given earlier
    /// and no longer holds are no longer its to write.
    CheckHolding {
        /// The device's digest.
        accounts_digest: [u8; 32],
        /// The accounts it is dropping: they match only if none is in scope.
        leaving: Vec<AccountId>,
    },
    /// The device holds documents of exactly these accounts: evict the documents of those
    /// outside its scope; when `send_joined`, note the accounts of its scope it lacks, whose
    /// documents [`ServerOutput::LoadJoined`] will ask for; then call
    /// [`ServerSession::reconciled`].
    Reconcile {
        /// The accounts the device holds.
        accounts: Vec<AccountId>,
        /// The accounts it is dropping (evicted again if outside the scope, sent whole if back
        /// in it).
        leaving: Vec<AccountId>,
        /// Whether the documents of the accounts it lacks are to be sent whole (a device
        /// catching up; a first download or a fallback round sends every document anyway).
        send_joined: bool,
    },
    /// Load the next page of whole documents of the accounts that joined the device's scope
    /// (at the handshake, or live) and call [`ServerSession::joined_loaded`].
    LoadJoined,
    /// A blob message for the host's blob store.
    Blob(ClientMessage),
    /// Close the connection (after sending what came before).
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitHello,
    /// `Hello` arrived; its cursor's lineage comes next.
    AwaitLineage,
    Live,
    Closed,
}

/// Where the handshake stands with the accounts the device holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holdings {
    /// Nothing to settle (or settled): catch-up runs.
    Settled,
    /// Waiting for the device's `Holding`.
    AwaitDigest,
    /// The host compares the digest.
    Checking,
    /// Waiting for the device's `AccountsHeld`.
    AwaitList,
    /// The host reconciles the list with the scope.
    Reconciling,
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
    /// The protocol version of the connection.
    version: u32,
    /// The cursor of the device's `Hello`, and the lineage the device named for it.
    cursor: Option<Cursor>,
    cursor_lineage: Lineage,
    /// The device's cursor is being checked against this database's history: nothing starts
    /// before [`ServerSession::cursor_checked`].
    checking_cursor: bool,
    /// Fallback rounds started on this connection because the device's digest differed.
    repairs: u32,
    /// A repair is under way: from a fallback `Welcome` until `Verified` is sent.
    repairing: bool,
    /// `Attested` messages taken on this connection.
    attested: u32,
    /// Documents of `AttestedDocs` messages taken on this connection.
    attested_docs: usize,
    /// The device's cursor or acknowledgements name a history of this database that it does
    /// not have (restored from an older copy): its holdings are not reconciled with a scope
    /// that is older than what the device holds.
    restored: bool,
    /// The device has (or has been sent) everything in scope up to here.
    sent_upto: u64,
    /// The lineage of `sent_upto`, when known (a `Pull` goes back to a position whose lineage
    /// the session may not have: the next load brings it).
    sent_lineage: Option<Lineage>,
    /// The device has been told it has everything up to here. It lags `sent_upto` while what
    /// was committed since holds nothing for the device (its own changes, other accounts'):
    /// such empty news is not sent.
    told_upto: u64,
    /// Whether the last `Changes` sent told the device it was up to date.
    told_complete: bool,
    /// Latest committed sequence number the session knows of.
    latest: u64,
    /// A load is on its way (or the handshake is not settled yet): nothing else is loaded.
    loading: bool,
    /// The handshake's state with the device's holdings.
    holdings: Holdings,
    /// Whether the device's scope is a set of accounts (a technician): only then do its
    /// holdings matter.
    scoped: bool,
    /// The first load of the connection waits until the holdings are settled.
    start_pending: bool,
    /// Documents of accounts that joined the scope wait to be sent whole.
    joining: bool,
    /// The accounts the device said it is dropping, until its holdings are reconciled.
    leaving: Vec<AccountId>,
    /// A `Verify` (its seq and digest) that came while a load was on its way: compared once
    /// the load is sent, if it told the device nothing new (commits of its own changes or of
    /// other accounts), since the device verifies only once per position it was told.
    verify_waiting: Option<(u64, [u8; 32])>,
    fallback: Fallback,
}

impl ServerSession {
    /// A new connection to a server database named `epoch` whose latest sequence is `latest`.
    pub fn new(epoch: u64, latest: u64) -> Self {
        ServerSession {
            epoch,
            phase: Phase::AwaitHello,
            mode: SyncMode::CatchUp,
            version: PROTOCOL_VERSION,
            cursor: None,
            cursor_lineage: Lineage::EMPTY,
            checking_cursor: false,
            repairs: 0,
            repairing: false,
            attested: 0,
            attested_docs: 0,
            restored: false,
            sent_upto: 0,
            sent_lineage: Some(Lineage::EMPTY),
            told_upto: 0,
            told_complete: false,
            latest,
            loading: false,
            holdings: Holdings::Settled,
            scoped: false,
            start_pending: false,
            joining: false,
            leaving: Vec::new(),
            verify_waiting: None,
            fallback: Fallback::default(),
        }
    }

    /// The same session for a device that sees only some accounts (a technician): the
    /// accounts it holds are compared with its scope at the handshake.
    pub fn scoped(mut self) -> Self {
        self.scoped = true;
        self
    }

    /// Whether a repair (a fallback round) is under way: the device's documents have not been
    /// found the same as the server's since it started. What the device pushes meanwhile may
    /// depend on what the repair brings back.
    pub fn is_repairing(&self) -> bool {
        // Until the handshake's holdings check settles, what the device may write is not
        // known either: the check may find a restored database and start a repair.
        self.repairing || (self.start_pending && self.holdings != Holdings::Settled)
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
                self.phase = Phase::AwaitLineage;
                self.version = version;
                self.cursor = cursor;
                Vec::new()
            }
            (Phase::AwaitHello, _) => self.fail(
                ErrorCode::HandshakeExpected,
                "the first message must be Hello with the protocol version".into(),
            ),
            (Phase::AwaitLineage, ClientMessage::Lineage { lineage, acked }) => {
                self.hello(lineage, acked)
            }
            (Phase::AwaitLineage, _) => self.fail(
                ErrorCode::HandshakeExpected,
                "Hello must be followed by the lineage of its cursor".into(),
            ),
            // Once per connection, at the handshake.
            (Phase::Live, ClientMessage::Lineage { .. }) => Vec::new(),
            // Once per repair round at most: a device cannot make the server check at will.
            (Phase::Live, ClientMessage::Attested { .. }) if self.attested > self.repairs => {
                Vec::new()
            }
            (Phase::Live, ClientMessage::Attested { attestation, heads }) => {
                if heads.len() > MAX_ACCOUNTS_HELD {
                    return self.malformed(format!(
                        "Attested names {} documents: at most {MAX_ACCOUNTS_HELD}",
                        heads.len()
                    ));
                }
                self.attested += 1;
                vec![ServerOutput::Attested { attestation, heads }]
            }
            (Phase::Live, ClientMessage::AttestedDocs { docs }) => {
                if docs.len() > MAX_ATTESTED_DOCS {
                    return self.malformed(format!(
                        "AttestedDocs names {} documents: at most {MAX_ATTESTED_DOCS}",
                        docs.len()
                    ));
                }
                // At most a scope's worth per repair round: a device cannot make the server
                // check at will.
                let allowed = MAX_ACCOUNTS_HELD * (self.repairs as usize + 1);
                if self.attested_docs + docs.len() > allowed {
                    return Vec::new();
                }
                self.attested_docs += docs.len();
                vec![ServerOutput::AttestedDocs { docs }]
            }
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
                    if cursor.seq != self.sent_upto {
                        self.sent_lineage = None;
                    }
                    self.sent_upto = cursor.seq;
                    self.told_upto = cursor.seq;
                    // The device asked: it gets an answer, even an empty one.
                    self.told_complete = false;
                    self.load(&mut out);
                }
                out
            }
            (Phase::Live, ClientMessage::AmSync { doc, message }) => {
                if self.fallback.admit(doc) {
                    vec![ServerOutput::AmSync { doc, message }]
                } else {
                    Vec::new()
                }
            }
            (Phase::Live, ClientMessage::Verify { seq, digest }) => {
                // Only meaningful for exactly what the device was told; a digest of older news
                // is stale (the device verifies again once it has the newer).
                self.verify_waiting = (seq == self.told_upto).then_some((seq, digest));
                let mut out = Vec::new();
                self.check_waiting_verify(&mut out);
                out
            }
            (Phase::Live, ClientMessage::Ping { nonce }) => {
                vec![ServerOutput::Send(ServerMessage::Pong { nonce })]
            }
            (
                Phase::Live,
                ClientMessage::Holding {
                    accounts_digest,
                    leaving,
                },
            ) => {
                match (self.holdings, self.scoped) {
                    (Holdings::AwaitDigest, true) if leaving.len() > MAX_ACCOUNTS_HELD => {
                        let mut out = self.malformed(format!(
                            "Holding names {} accounts leaving: at most {MAX_ACCOUNTS_HELD}",
                            leaving.len()
                        ));
                        out.extend(self.settle());
                        out
                    }
                    (Holdings::AwaitDigest, true) if self.restored => self.settle(),
                    (Holdings::AwaitDigest, true) => {
                        self.holdings = Holdings::Checking;
                        self.leaving = leaving.clone();
                        vec![ServerOutput::CheckHolding {
                            accounts_digest,
                            leaving,
                        }]
                    }
                    // A device that sees everything holds what it holds.
                    (Holdings::AwaitDigest, false) => self.settle(),
                    // Once per connection: a device cannot make the server compare at will.
                    _ => Vec::new(),
                }
            }
            (Phase::Live, ClientMessage::AccountsHeld { accounts }) => {
                if self.holdings != Holdings::AwaitList {
                    return Vec::new(); // not asked for: ignored
                }
                if accounts.len() > MAX_ACCOUNTS_HELD {
                    let mut out = self.malformed(format!(
                        "the list of accounts held has {} entries: at most {MAX_ACCOUNTS_HELD}",
                        accounts.len()
                    ));
                    out.extend(self.settle());
                    return out;
                }
                self.holdings = Holdings::Reconciling;
                vec![ServerOutput::Reconcile {
                    accounts,
                    leaving: std::mem::take(&mut self.leaving),
                    send_joined: self.mode == SyncMode::CatchUp,
                }]
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

    /// The handshake, once the lineage of the device's cursor arrived: a cursor from this
    /// database is checked against its history first; the first load waits for the device's
    /// holdings.
    fn hello(&mut self, lineage: Lineage, acked: (u64, Lineage)) -> Vec<ServerOutput> {
        self.phase = Phase::Live;
        self.cursor_lineage = lineage;
        // The device's `Holding` follows without waiting; nothing is loaded before it.
        self.holdings = Holdings::AwaitDigest;
        self.start_pending = true;
        self.loading = true;
        match self.cursor {
            Some(c) if c.epoch == self.epoch && c.seq <= self.latest => {
                self.checking_cursor = true;
                vec![ServerOutput::CheckCursor {
                    seq: c.seq,
                    lineage,
                    acked,
                }]
            }
            Some(c) if c.epoch == self.epoch => {
                // Further than this database has ever been: it was restored from an older copy.
                self.restored = true;
                self.welcome(SyncMode::Fallback, None)
            }
            Some(_) => self.welcome(SyncMode::Fallback, None),
            None => self.welcome(SyncMode::Initial, None),
        }
    }

    /// The host compared the lineage of the device's cursor with this database's history:
    /// when it is the same history, the device catches up from its cursor; otherwise (a server
    /// restored from an older copy, a database replaced) both sides repair by a fallback round.
    pub fn cursor_checked(&mut self, matches: bool) -> Vec<ServerOutput> {
        if self.phase != Phase::Live || !self.checking_cursor {
            return Vec::new();
        }
        self.checking_cursor = false;
        match (matches, self.cursor) {
            (true, Some(c)) => self.welcome(SyncMode::CatchUp, Some((c.seq, self.cursor_lineage))),
            _ => {
                // A restored (or rolled back) database: what it knows of scopes is older than
                // what the device holds, which the repair brings back: nothing is evicted.
                self.restored = true;
                self.welcome(SyncMode::Fallback, None)
            }
        }
    }

    /// Welcomes the device in `mode` (from `from`, a checked cursor, when catching up), and
    /// starts when the holdings are settled.
    fn welcome(&mut self, mode: SyncMode, from: Option<(u64, Lineage)>) -> Vec<ServerOutput> {
        self.mode = mode;
        self.repairing = mode == SyncMode::Fallback;
        let (seq, lineage) = from.unwrap_or((0, Lineage::EMPTY));
        (self.sent_upto, self.told_upto, self.sent_lineage) = (seq, seq, Some(lineage));
        let mut out = vec![ServerOutput::Send(ServerMessage::Welcome {
            version: self.version,
            epoch: self.epoch,
            mode,
        })];
        if self.start_pending && self.holdings == Holdings::Settled {
            self.start(&mut out);
        }
        out
    }

    /// The connection's first load, by mode.
    fn start(&mut self, out: &mut Vec<ServerOutput>) {
        self.start_pending = false;
        self.loading = false;
        match self.mode {
            // The scope grew during the handshake: those documents go first.
            SyncMode::CatchUp if self.joining => {
                self.loading = true;
                out.push(ServerOutput::LoadJoined);
            }
            SyncMode::CatchUp => self.load(out),
            SyncMode::Initial => {
                self.loading = true;
                out.push(ServerOutput::Load {
                    after: 0,
                    initial: true,
                });
            }
            SyncMode::Fallback => out.push(ServerOutput::StartFallback),
        }
    }

    /// The holdings need nothing more: the handshake goes on.
    fn settle(&mut self) -> Vec<ServerOutput> {
        self.holdings = Holdings::Settled;
        let mut out = Vec::new();
        if self.start_pending && !self.checking_cursor {
            self.start(&mut out);
        }
        out
    }

    /// The host compared the device's `Holding` with its scope: when they match, catch-up
    /// starts; otherwise the device is asked which accounts it holds.
    pub fn holding_checked(&mut self, matches: bool) -> Vec<ServerOutput> {
        if self.phase != Phase::Live || self.holdings != Holdings::Checking {
            return Vec::new();
        }
        if matches {
            self.leaving.clear();
            return self.settle();
        }
        self.holdings = Holdings::AwaitList;
        vec![ServerOutput::Send(ServerMessage::ListAccounts)]
    }

    /// The host reconciled the device's accounts with its scope: `evict` are the documents of
    /// the accounts it holds outside its scope; `joined` says whether documents of accounts it
    /// lacks wait to be sent (see [`ServerOutput::LoadJoined`]). They go out before catch-up.
    ///
    /// `unknown`: the device holds accounts this database has no record of giving it. At the
    /// handshake of a catching-up device that means the database is older than the device's
    /// holdings (restored from a copy older than an assignment, with the device's cursor older
    /// still): both sides repair, as when the cursor gives the restore away.
    pub fn reconciled(
        &mut self,
        evict: Vec<DocId>,
        joined: bool,
        unknown: bool,
    ) -> Vec<ServerOutput> {
        if self.phase != Phase::Live || self.holdings != Holdings::Reconciling {
            return Vec::new();
        }
        let mut out = self.evict(evict);
        if unknown && self.start_pending && self.mode == SyncMode::CatchUp {
            self.restored = true;
            self.joining |= joined;
            out.extend(self.welcome(SyncMode::Fallback, None));
            out.extend(self.settle());
            return out;
        }
        if joined && self.mode == SyncMode::CatchUp {
            self.holdings = Holdings::Settled;
            self.joining = true;
            out.push(ServerOutput::LoadJoined);
        } else {
            out.extend(self.settle());
        }
        out
    }

    /// The device's scope grew while connected; the host noted the accounts that joined: their
    /// documents are sent whole, after any load on its way.
    pub fn scope_grew(&mut self) -> Vec<ServerOutput> {
        self.joining = true;
        if self.phase != Phase::Live || self.loading {
            return Vec::new(); // picked up when the current load (or handshake) is done
        }
        self.loading = true;
        vec![ServerOutput::LoadJoined]
    }

    /// The host loaded a page for [`ServerOutput::LoadJoined`]: whole documents, which do not
    /// move the device's cursor; `more` says another page follows.
    pub fn joined_loaded(&mut self, docs: Vec<DocData>, more: bool) -> Vec<ServerOutput> {
        if self.phase != Phase::Live || !self.joining {
            return Vec::new();
        }
        let mut out = Vec::new();
        if more {
            out.push(self.tell_sent(docs, false));
            out.push(ServerOutput::LoadJoined);
            return out;
        }
        self.joining = false;
        if self.start_pending {
            if !docs.is_empty() {
                out.push(self.tell_sent(docs, false));
            }
            self.start(&mut out);
            return out;
        }
        self.loading = false;
        let complete = self.sent_upto >= self.latest;
        out.push(self.tell_sent(docs, complete));
        if !complete {
            self.load(&mut out);
        }
        self.check_waiting_verify(&mut out);
        out
    }

    fn load(&mut self, out: &mut Vec<ServerOutput>) {
        if self.phase == Phase::Live && !self.loading && self.latest > self.sent_upto {
            self.loading = true;
            out.push(ServerOutput::Load {
                after: self.sent_upto,
                initial: false,
            });
        } else if self.phase == Phase::Live && !self.loading && self.latest == self.sent_upto {
            match self.sent_lineage {
                Some(_) => out.push(self.tell_sent(Vec::new(), true)),
                // Back at a position whose lineage the session does not have (a `Pull`): the
                // load brings it.
                None => {
                    self.loading = true;
                    out.push(ServerOutput::Load {
                        after: self.sent_upto,
                        initial: false,
                    });
                }
            }
        }
    }

    /// The `Changes` message bringing the device from what it was told up to `to`, whose
    /// lineage is `lineage`.
    fn tell(
        &mut self,
        (to, lineage): (u64, Lineage),
        docs: Vec<DocData>,
        complete: bool,
    ) -> ServerOutput {
        let from = self.mark_told(to, complete);
        ServerOutput::Send(ServerMessage::Changes {
            from,
            to,
            lineage,
            docs,
            complete,
        })
    }

    /// [`ServerSession::tell`] up to what was sent. A lineage the session does not have is
    /// told as empty: the device's next handshake then repairs rather than trusts it.
    fn tell_sent(&mut self, docs: Vec<DocData>, complete: bool) -> ServerOutput {
        let sent = (self.sent_upto, self.sent_lineage.unwrap_or(Lineage::EMPTY));
        self.tell(sent, docs, complete)
    }

    /// `to` with its `lineage`, or what was already sent when that is further.
    fn furthest(&self, to: u64, lineage: Lineage) -> (u64, Lineage) {
        match self.sent_lineage {
            Some(sent) if self.sent_upto > to => (self.sent_upto, sent),
            _ => (to.max(self.sent_upto), lineage),
        }
    }

    /// The device is now told it has everything up to `to` (and, if `complete`, that it is up
    /// to date); returns where it had been told before.
    fn mark_told(&mut self, to: u64, complete: bool) -> u64 {
        let from = self.told_upto;
        self.told_upto = to;
        self.told_complete = complete;
        from
    }

    /// Compares the waiting `Verify`'s digest once everything committed has been sent and the
    /// device was told nothing newer than the digest's position; forgets it if it was.
    fn check_waiting_verify(&mut self, out: &mut Vec<ServerOutput>) {
        let Some((seq, digest)) = self.verify_waiting else {
            return;
        };
        if seq != self.told_upto {
            self.verify_waiting = None;
        } else if self.sent_upto == self.latest && !self.loading {
            self.verify_waiting = None;
            out.push(ServerOutput::CheckDigest { digest });
        }
    }

    /// The host stored (and committed) a pushed batch; `committed` is the latest sequence
    /// number after the commit and its lineage.
    pub fn stored(
        &mut self,
        batch: u64,
        outcomes: Vec<StoreOutcome>,
        committed: (u64, Lineage),
    ) -> Vec<ServerOutput> {
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
            committed,
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
    /// (for pages of an initial download that are not the last, `to` is still 0), whose
    /// lineage is `lineage`; `more` says another page follows.
    pub fn loaded(
        &mut self,
        docs: Vec<DocData>,
        (to, lineage): (u64, Lineage),
        more: bool,
    ) -> Vec<ServerOutput> {
        if self.phase != Phase::Live {
            return Vec::new();
        }
        let (to, lineage) = self.furthest(to, lineage);
        // Documents of accounts that joined the scope come next: not complete before them.
        let complete = !more && to >= self.latest && !self.joining;
        let mut out = Vec::new();
        // Nothing new for a device already told it is up to date: say nothing (on a busy
        // server most commits are other accounts' or the device's own pushes).
        let news =
            !docs.is_empty() || more || !self.told_complete || self.mode != SyncMode::CatchUp;
        if news {
            // Initial pages before the last keep `to` at 0, so the told position stays.
            out.push(self.tell((to, lineage), docs, complete));
        }
        self.advance((to, lineage), more, &mut out);
        out
    }

    /// The device has been sent everything up to `to`: load the next page, or what was
    /// committed meanwhile.
    fn advance(&mut self, (to, lineage): (u64, Lineage), more: bool, out: &mut Vec<ServerOutput>) {
        self.sent_upto = to;
        self.sent_lineage = Some(lineage);
        self.latest = self.latest.max(to);
        if more {
            out.push(ServerOutput::Load {
                after: to,
                initial: self.mode == SyncMode::Initial && to == 0,
            });
        } else {
            self.mode = SyncMode::CatchUp;
            if self.joining {
                out.push(ServerOutput::LoadJoined); // still loading
                return;
            }
            self.loading = false;
            if self.latest > self.sent_upto {
                self.load(out);
            }
        }
        self.check_waiting_verify(out);
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
    /// `Changes { from, to, lineage, docs, complete: true }` with that load's `from`, `docs` the
    /// changes after its `after` (not empty), and `to` at least its `latest`.
    pub fn sent_shared(&mut self, (to, lineage): (u64, Lineage)) -> Vec<ServerOutput> {
        if self.phase != Phase::Live {
            return Vec::new();
        }
        let (to, lineage) = self.furthest(to, lineage);
        self.mark_told(to, true);
        let mut out = Vec::new();
        self.advance((to, lineage), false, &mut out);
        out
    }

    /// The device's scope shrank: tell it to drop these documents (in messages of at most
    /// [`EVICT_PAGE`]).
    pub fn evict(&mut self, docs: Vec<DocId>) -> Vec<ServerOutput> {
        if self.phase != Phase::Live {
            return Vec::new();
        }
        docs.chunks(EVICT_PAGE)
            .map(|docs| {
                ServerOutput::Send(ServerMessage::Evict {
                    docs: docs.to_vec(),
                })
            })
            .collect()
    }

    /// The host compared the device's digest with its own: `Some` with its attestation of the
    /// digest when they match.
    pub fn digest_checked(&mut self, matches: Option<[u8; 16]>) -> Vec<ServerOutput> {
        if self.phase != Phase::Live {
            return Vec::new();
        }
        if matches.is_some() || self.repairs >= MAX_REPAIRS {
            self.repairing = false;
            let mut out = vec![ServerOutput::Send(ServerMessage::Verified {
                seq: self.told_upto,
                same: matches.is_some(),
                attestation: matches.unwrap_or_default(),
            })];
            if self.restored && self.scoped && self.holdings == Holdings::Settled {
                // The repair brought back what the restored database had lost of the scope:
                // the holdings it did not reconcile at the handshake are reconciled now.
                self.restored = false;
                self.holdings = Holdings::AwaitList;
                out.push(ServerOutput::Send(ServerMessage::ListAccounts));
            }
            return out;
        }
        self.repairs += 1;
        // Sync states from an earlier round may believe messages arrived that never did:
        // a new round starts from scratch, as automerge recommends after a loss.
        self.fallback.clear();
        self.mode = SyncMode::Fallback;
        self.repairing = true;
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

    /// Fallback, for a document outside the device's scope whose heads this database attested
    /// to it: a sync message carrying none of the document's data, so that the device sends
    /// what the server once had and lost, and learns nothing of what it no longer may read.
    /// After the first, only when the device's last message brought changes that were kept
    /// (`moved`).
    pub fn fallback_ask(
        &mut self,
        id: DocId,
        doc: &mut AutoCommit,
        moved: bool,
    ) -> Option<ServerOutput> {
        let message = self.fallback.generate_asking(id, doc, moved)?;
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

    /// Fallback: every document's first sync message was sent, as of `latest` (the database's
    /// latest sequence number when they were made, and its lineage). The device's cursor
    /// restarts there; what is older arrives through the sync exchange.
    pub fn fallback_started(&mut self, (latest, lineage): (u64, Lineage)) -> Vec<ServerOutput> {
        // The device verifies again after the round (its `Welcome` started afresh).
        self.verify_waiting = None;
        self.mode = SyncMode::CatchUp;
        self.loading = false;
        self.latest = self.latest.max(latest);
        self.sent_upto = latest;
        self.sent_lineage = Some(lineage);
        let complete = !self.joining && latest >= self.latest;
        self.mark_told(latest, complete);
        let mut out = vec![ServerOutput::Send(ServerMessage::Changes {
            from: 0,
            to: latest,
            lineage,
            docs: Vec::new(),
            complete,
        })];
        if self.joining {
            // The scope grew during the round: those documents follow whole.
            self.loading = true;
            out.push(ServerOutput::LoadJoined);
        } else if self.latest > latest {
            self.load(&mut out);
        }
        out
    }
}
