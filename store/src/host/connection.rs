//! The server side of one connection: carries out a [`ServerSession`]'s outputs on the
//! server's store, for the device described by its [`DeviceContext`].

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use automerge::AutoCommit;
use fieldsync_protocol::engine::{ServerOutput, ServerSession, StoreOutcome, accounts_digest};
use fieldsync_protocol::wire::{ClientMessage, DocData, Lineage, ServerMessage};
use fieldsync_protocol::{AccountId, ContentHash, DocId, Role};

use super::{DeviceContext, PAGE_BYTES, scope_of};
use crate::{CheckedOutcome, Prechecked, Result, Scope, Store};

/// What a server connection must do after its outputs were carried out.
#[derive(Debug, Default)]
pub struct ServerRun {
    /// Messages to send, in order.
    pub send: Vec<ServerMessage>,
    /// Close the connection after sending.
    pub close: bool,
    /// New changes were committed: notify the other sessions of the latest sequence number.
    pub committed: bool,
    /// Outputs not carried out, because they need the other kind of database access (see
    /// [`ConnectionHost::run_as`]): the caller carries them out next, in order.
    pub rest: Vec<ServerOutput>,
}

/// What carrying out an output needs of the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only reads: a reader connection.
    Read,
    /// Writes: the writer.
    Write,
}

/// The server side of one connection: carries out a [`ServerSession`]'s outputs on the
/// server's store.
#[derive(Debug)]
pub struct ConnectionHost {
    /// Who is connected.
    pub device: DeviceContext,
    /// Position of an initial download: the last document sent, and the sequence number the
    /// download brings the device up to.
    initial: Option<(Option<DocId>, u64)>,
    /// Accounts that joined the device's scope whose documents are being sent whole, and the
    /// last document sent of them.
    joining: BTreeSet<AccountId>,
    joining_after: Option<DocId>,
    /// Accounts that joined while others were being sent: sent next.
    joining_next: BTreeSet<AccountId>,
    /// Photos this (scoped) device was found allowed to download, so that the chunks after the
    /// first are not checked again.
    readable_blobs: std::collections::HashSet<ContentHash>,
    /// During a repair: per document, the heads this database attested the device held (see
    /// `ClientMessage::Attested`). The changes they reach were once stored here.
    attested: HashMap<DocId, Vec<automerge::ChangeHash>>,
    /// Accounts whose documents the device named in a repair: it holds them. After a restore
    /// the server's record of the accounts it gave the device may lack them (given after the
    /// backup); a device that holds one outside its scope is told to drop it all the same.
    named_in_repair: BTreeSet<AccountId>,
}

impl ConnectionHost {
    /// A host for a connection of `device`.
    pub fn new(device: DeviceContext) -> Self {
        ConnectionHost {
            device,
            initial: None,
            joining: BTreeSet::new(),
            joining_after: None,
            joining_next: BTreeSet::new(),
            readable_blobs: Default::default(),
            attested: Default::default(),
            named_in_repair: BTreeSet::new(),
        }
    }

    /// The engine session for this host's device, on a database named `epoch` whose latest
    /// sequence number is `latest`.
    pub fn session(&self, epoch: u64, latest: u64) -> ServerSession {
        let session = ServerSession::new(epoch, latest);
        match self.device.scope {
            Scope::All => session,
            Scope::Accounts(_) => session.scoped(),
        }
    }

    /// What carrying out `output` needs of the database.
    pub fn access(&self, output: &ServerOutput) -> Access {
        match output {
            ServerOutput::Send(_)
            | ServerOutput::Close
            | ServerOutput::Load { .. }
            | ServerOutput::LoadJoined
            | ServerOutput::StartFallback
            | ServerOutput::CheckDigest { .. }
            | ServerOutput::CheckCursor { .. }
            | ServerOutput::Attested { .. }
            | ServerOutput::AttestedDocs { .. }
            | ServerOutput::Blob(ClientMessage::BlobQuery { .. } | ClientMessage::BlobGet { .. }) => {
                Access::Read
            }
            // Confirming what the device holds writes only when the record changes.
            ServerOutput::CheckHolding {
                accounts_digest,
                leaving,
            } => match self.holding_matches(accounts_digest, leaving) {
                Some(holding)
                    if self.device.confirmed(&holding).as_ref() != Some(&self.device.held) =>
                {
                    Access::Write
                }
                _ => Access::Read,
            },
            ServerOutput::Store { .. }
            | ServerOutput::AmSync { .. }
            | ServerOutput::Reconcile { .. }
            | ServerOutput::Blob(_) => Access::Write,
        }
    }

    /// Carries out `outputs` (and whatever they lead to).
    pub fn run(
        &mut self,
        store: &mut Store,
        session: &mut ServerSession,
        outputs: Vec<ServerOutput>,
    ) -> Result<ServerRun> {
        self.run_as(store, session, outputs, None)
    }

    /// Carries out `outputs` (and whatever they lead to) with one kind of database access:
    /// stops at the first output that needs another kind (when `access` is given) and returns
    /// it and everything after it in [`ServerRun::rest`].
    pub fn run_as(
        &mut self,
        store: &mut Store,
        session: &mut ServerSession,
        outputs: Vec<ServerOutput>,
        access: Option<Access>,
    ) -> Result<ServerRun> {
        let mut queue: VecDeque<ServerOutput> = outputs.into();
        let mut run = ServerRun::default();
        while let Some(output) = queue.pop_front() {
            // What the device pushes during a repair is judged after it.
            self.device.repairing = session.is_repairing();
            if let Some(access) = access
                && !matches!(output, ServerOutput::Send(_) | ServerOutput::Close)
                && self.access(&output) != access
            {
                run.rest.push(output);
                run.rest.extend(queue);
                break;
            }
            match output {
                ServerOutput::Send(message) => run.send.push(message),
                ServerOutput::Close => run.close = true,
                ServerOutput::Store { batch, changes } => {
                    let outcomes = self.store_changes(store, &changes)?;
                    run.committed |= outcomes.contains(&StoreOutcome::Stored);
                    queue.extend(session.stored(batch, outcomes, store.latest_lineage()?));
                }
                ServerOutput::Load { after, initial } => {
                    let (docs, to, more) = self.load(store, after, initial)?;
                    let lineage = store.lineage_at(to)?.unwrap_or(Lineage::EMPTY);
                    queue.extend(session.loaded(docs, (to, lineage), more));
                }
                ServerOutput::LoadJoined => {
                    // These documents do not move the device's cursor: it is told how far the
                    // server was, so that a restored copy that lacks them is found out.
                    run.send.push(ServerMessage::Seen {
                        at: store.latest_lineage()?,
                    });
                    let (docs, more) = self.load_joined(store)?;
                    queue.extend(session.joined_loaded(docs, more));
                }
                ServerOutput::StartFallback => {
                    // Read first: what is committed while the messages are made comes again
                    // by catch-up, rather than being skipped.
                    let latest = store.latest_lineage()?;
                    for id in store.doc_ids(&self.device.scope)? {
                        if let Some(mut doc) = store.load(id)? {
                            queue.extend(session.fallback_generate(id, &mut doc));
                        }
                    }
                    queue.extend(session.fallback_started(latest));
                }
                ServerOutput::AmSync { doc, message } => {
                    run.committed |= self.am_sync(store, session, doc, &message, &mut queue)?;
                }
                ServerOutput::CheckCursor {
                    seq,
                    lineage,
                    acked,
                } => {
                    let ours = store.lineage_at(seq)? == Some(lineage)
                        && store.lineage_at(acked.0)? == Some(acked.1);
                    queue.extend(session.cursor_checked(ours));
                }
                ServerOutput::CheckDigest { digest } => {
                    let ours = store.heads_digest(&self.device.scope)?;
                    let matches = (ours == digest).then(|| store.attest(&ours));
                    queue.extend(session.digest_checked(matches));
                }
                ServerOutput::Attested { attestation, heads } => {
                    // Not this database's attestation: the repair goes on without it.
                    let taken = store
                        .check_attestation(attestation, &heads)
                        .unwrap_or_default();
                    self.take_attested(store, taken)?;
                }
                ServerOutput::AttestedDocs { docs } => {
                    let taken = store.check_heads_attestations(&docs);
                    self.take_attested(store, taken)?;
                }
                ServerOutput::CheckHolding {
                    accounts_digest,
                    leaving,
                } => {
                    let matches = self.check_holding(store, &accounts_digest, &leaving)?;
                    queue.extend(session.holding_checked(matches));
                }
                ServerOutput::Reconcile {
                    accounts,
                    leaving,
                    send_joined,
                } => {
                    let (evict, joined, unknown) =
                        self.reconcile(store, accounts, leaving, send_joined)?;
                    queue.extend(session.reconciled(evict, joined, unknown));
                }
                ServerOutput::Blob(message) => run.send.extend(self.blob(store, message)?),
            }
        }
        Ok(run)
    }

    /// Heads this database attested: what they reach is taken back during the repair. The
    /// accounts of those documents were given to the device (this database sent it them, and
    /// its record of that may be older than the sending): it may write them as it could before
    /// the restore, until it confirms it dropped them.
    fn take_attested(
        &mut self,
        store: &Store,
        taken: HashMap<DocId, Vec<automerge::ChangeHash>>,
    ) -> Result<()> {
        if self.device.role == Role::Technician {
            for doc in taken.keys() {
                if let Some(account) = store.doc_account(*doc)? {
                    self.device.held.insert(account);
                }
            }
        }
        for (doc, heads) in taken {
            let known = self.attested.entry(doc).or_default();
            for head in heads {
                if !known.contains(&head) {
                    known.push(head);
                }
            }
        }
        Ok(())
    }

    /// A technician's scope follows their assignments: reads it again and, when it changed,
    /// has the documents of accounts that joined sent whole and those of accounts that left
    /// evicted. Returns the outputs to carry out. Writes only when the device was given
    /// accounts it had never been given.
    pub fn rescope(
        &mut self,
        store: &mut Store,
        session: &mut ServerSession,
    ) -> Result<Vec<ServerOutput>> {
        let (out, given) = self.rescope_reading(store, session)?;
        if let Some(given) = given {
            given.save(store)?;
        }
        Ok(out)
    }

    /// [`ConnectionHost::rescope`] on a reader connection: what it would write comes back
    /// instead, to be saved on the writer before the outputs are carried out.
    pub fn rescope_reading(
        &mut self,
        store: &Store,
        session: &mut ServerSession,
    ) -> Result<(Vec<ServerOutput>, Option<Given>)> {
        let (Some(user), Role::Technician) = (self.device.user, self.device.role) else {
            return Ok((Vec::new(), None));
        };
        let scope = scope_of(store, user, Role::Technician)?;
        if scope == self.device.scope {
            return Ok((Vec::new(), None));
        }
        let before = self.device.held.clone();
        let (joined, left) = self.device.rescope(scope);
        let given = self.given_since(&before);
        let mut out = Vec::new();
        if !left.is_empty() {
            for account in &left {
                self.joining.remove(account);
                self.joining_next.remove(account);
            }
            let left = Scope::Accounts(left.into_iter().collect());
            out.extend(session.evict(store.doc_ids(&left)?));
        }
        if !joined.is_empty() {
            self.add_joining(joined);
            out.extend(session.scope_grew());
        }
        Ok((out, given))
    }

    fn add_joining(&mut self, joined: impl IntoIterator<Item = AccountId>) {
        if self.joining.is_empty() {
            self.joining.extend(joined);
            self.joining_after = None;
        } else {
            self.joining_next.extend(joined);
        }
    }

    /// The device's record of accounts it was given, when it changed from `before`.
    fn given_since(&self, before: &BTreeSet<AccountId>) -> Option<Given> {
        self.device.record_changed(before).then(|| Given {
            device: self.device.origin.0,
            accounts: self.device.held.clone(),
        })
    }

    /// Writes the device's record of accounts it was given when it changed from `before`.
    fn save_record(&self, store: &mut Store, before: &BTreeSet<AccountId>) -> Result<()> {
        match self.given_since(before) {
            Some(given) => given.save(store),
            None => Ok(()),
        }
    }

    /// When the device keeps exactly the accounts of its scope (by `digest`) and drops none of
    /// them (`leaving`), all the accounts it holds; otherwise `None`. A device that sees
    /// everything always matches.
    fn holding_matches(
        &self,
        digest: &[u8; 32],
        leaving: &[AccountId],
    ) -> Option<BTreeSet<AccountId>> {
        let Some(scope) = self.device.scope_accounts() else {
            return Some(BTreeSet::new());
        };
        let matches = accounts_digest(scope.iter().copied()) == *digest
            && leaving.iter().all(|a| !scope.contains(a));
        matches.then(|| scope.iter().chain(leaving).copied().collect())
    }

    /// Whether the device holds exactly the accounts of its scope (and some it is dropping);
    /// if so, what it holds is confirmed.
    fn check_holding(
        &mut self,
        store: &mut Store,
        digest: &[u8; 32],
        leaving: &[AccountId],
    ) -> Result<bool> {
        let Some(holding) = self.holding_matches(digest, leaving) else {
            return Ok(false);
        };
        let before = self.device.held.clone();
        self.device.confirm_holding(&holding);
        self.save_record(store, &before)?;
        Ok(true)
    }

    /// The device keeps documents of `accounts` and drops those of `leaving`: returns the
    /// documents to evict (of accounts outside its scope) and whether documents of accounts
    /// it lacks wait to be sent (those of its scope it does not keep).
    fn reconcile(
        &mut self,
        store: &mut Store,
        accounts: Vec<AccountId>,
        leaving: Vec<AccountId>,
        send_joined: bool,
    ) -> Result<(Vec<DocId>, bool, bool)> {
        let holding: BTreeSet<AccountId> = accounts.into_iter().collect();
        let Some(scope) = self.device.scope_accounts().cloned() else {
            return Ok((Vec::new(), false, false));
        };
        let all: BTreeSet<AccountId> = holding.iter().chain(&leaving).copied().collect();
        // Only accounts the server gave the device (or whose documents it named in a repair)
        // are evicted: what else it names costs no work and tells it nothing about other
        // accounts.
        let left: BTreeSet<AccountId> = all
            .difference(&scope)
            .filter(|account| {
                self.device.held.contains(account) || self.named_in_repair.contains(account)
            })
            .copied()
            .collect();
        let evict = match left.is_empty() {
            true => Vec::new(),
            false => store.doc_ids(&Scope::Accounts(left))?,
        };
        // Accounts it holds that this database never gave it (by its record): a database older
        // than the device's holdings.
        let unknown = holding
            .iter()
            .any(|account| !scope.contains(account) && !self.device.held.contains(account));
        let before = self.device.held.clone();
        self.device.confirm_holding(&all);
        self.save_record(store, &before)?;
        let joined: Vec<AccountId> = scope.difference(&holding).copied().collect();
        let joining = send_joined && !joined.is_empty();
        if joining {
            self.add_joining(joined);
        }
        Ok((evict, joining, unknown))
    }

    /// The next page of whole documents of accounts that joined the scope, and whether more
    /// follow.
    fn load_joined(&mut self, store: &Store) -> Result<(Vec<DocData>, bool)> {
        if self.joining.is_empty() {
            std::mem::swap(&mut self.joining, &mut self.joining_next);
            self.joining_after = None;
        }
        let scope = Scope::Accounts(self.joining.clone());
        let (docs, last) = store.snapshots(&scope, self.joining_after, PAGE_BYTES)?;
        if let Some(last) = last {
            self.joining_after = Some(last);
            return Ok((docs, true));
        }
        self.joining.clear();
        self.joining_after = None;
        Ok((docs, !self.joining_next.is_empty()))
    }

    /// Validates and stores one pushed batch in one transaction; refused changes are
    /// quarantined with their reason.
    pub fn store_changes(
        &self,
        store: &mut Store,
        changes: &[DocData],
    ) -> Result<Vec<StoreOutcome>> {
        let tx = store.transaction()?;
        let outcomes = self.store_in(&tx, changes)?;
        tx.commit()?;
        Ok(outcomes)
    }

    /// Validates and stores changes inside the caller's transaction (group commit puts many
    /// connections' batches in one); refused changes are quarantined.
    pub fn store_in(
        &self,
        tx: &crate::StoreTx<'_>,
        changes: &[DocData],
    ) -> Result<Vec<StoreOutcome>> {
        let prechecked = Prechecked::new(changes.to_vec(), self.device.pusher());
        store_checked(tx, &self.device, prechecked)
    }

    /// Whether the device may download the bytes with content hash `hash` (remembered for the
    /// connection once allowed).
    fn may_read_blob(&mut self, store: &Store, hash: &ContentHash) -> Result<bool> {
        if self.readable_blobs.contains(hash) {
            return Ok(true);
        }
        let allowed = self.device.may_read_blob(store, hash)?;
        if allowed && self.device.scope != Scope::All {
            self.readable_blobs.insert(*hash);
        }
        Ok(allowed)
    }

    /// Answers a blob message. Uploads and downloads are by content hash; a chunk at the wrong
    /// offset is answered with the offset to resume from. A technician's device downloads only
    /// photos of accounts in its scope; any other hash is answered as if it did not exist.
    pub fn blob(
        &mut self,
        store: &mut Store,
        message: ClientMessage,
    ) -> Result<Option<ServerMessage>> {
        let status = |hash, state: Option<crate::BlobState>| {
            let state = state.unwrap_or(crate::BlobState {
                have: 0,
                size: None,
                complete: false,
            });
            ServerMessage::BlobStatus {
                hash,
                have: state.have,
                complete: state.complete,
            }
        };
        Ok(Some(match message {
            ClientMessage::BlobQuery { hash } => status(hash, store.blob_state(&hash)?),
            ClientMessage::BlobPut {
                hash,
                total,
                offset,
                bytes,
            } => {
                let tx = store.transaction()?;
                let stored =
                    tx.put_device_blob_chunk(self.device.origin.0, &hash, total, offset, &bytes)?;
                tx.commit()?;
                match stored {
                    Ok(state) => status(hash, Some(state)),
                    Err(refusal) => ServerMessage::BlobError {
                        hash,
                        message: refusal.to_string(),
                    },
                }
            }
            ClientMessage::BlobGet { hash, .. } if !self.may_read_blob(store, &hash)? => {
                ServerMessage::BlobError {
                    hash,
                    message: "no such photo on the server".into(),
                }
            }
            ClientMessage::BlobGet { hash, offset } => match store.blob_chunk(&hash, offset)? {
                Some((start, bytes, total)) => {
                    // The chunk starts at or before `offset`; an offset at or past the end is
                    // answered with an error, never by slicing past the bytes.
                    let rest = usize::try_from(offset.saturating_sub(start))
                        .ok()
                        .and_then(|skip| bytes.get(skip..))
                        .filter(|rest| !rest.is_empty() || (total == 0 && offset == 0));
                    match rest {
                        Some(rest) => ServerMessage::BlobChunk {
                            hash,
                            total,
                            offset,
                            bytes: rest.to_vec(),
                        },
                        None => ServerMessage::BlobError {
                            hash,
                            message: format!(
                                "offset {offset} is past the end of this {total}-byte image"
                            ),
                        },
                    }
                }
                None => ServerMessage::BlobError {
                    hash,
                    message: "no such photo on the server".into(),
                },
            },
            _ => return Ok(None),
        }))
    }

    fn load(
        &mut self,
        store: &Store,
        after: u64,
        initial: bool,
    ) -> Result<(Vec<DocData>, u64, bool)> {
        if initial {
            let (from_doc, upto) = match self.initial {
                Some(position) => position,
                None => (None, store.latest_seq()?),
            };
            let (docs, last) = store.snapshots(&self.device.scope, from_doc, PAGE_BYTES)?;
            return Ok(match last {
                Some(last) => {
                    self.initial = Some((Some(last), upto));
                    (docs, 0, true)
                }
                None => {
                    self.initial = None;
                    (docs, upto, false)
                }
            });
        }
        let page = store.changes_since(
            after,
            &self.device.scope,
            Some(self.device.origin),
            PAGE_BYTES,
        )?;
        Ok((page.docs, page.to, !page.complete))
    }

    fn am_sync(
        &mut self,
        store: &mut Store,
        session: &mut ServerSession,
        id: DocId,
        message: &[u8],
        queue: &mut VecDeque<ServerOutput>,
    ) -> Result<bool> {
        let tx = store.transaction()?;
        let account = tx.doc_account(id)?;
        if let Some(account) = account {
            self.named_in_repair.insert(account);
        }
        // Out of scope: nothing is said about it, unless the device shows this database's
        // attestation of the document (an assignment lost with a restore): then what it attests
        // is taken back, and the answers carry none of the document's data.
        let in_scope = account.is_none_or(|a| self.device.scope.contains(a));
        if !in_scope && !self.attested.contains_key(&id) {
            return Ok(false);
        }
        let existing = tx.load(id)?;
        let mut doc = existing.unwrap_or_default();
        let mut fork = doc.fork();
        if session.fallback_receive(id, &mut fork, message).is_err() {
            return Ok(false);
        }
        // Changes this database attested it once had come back as they were (whoever made
        // them: an office note lost with a restore that the tablet still holds); the rest is
        // checked as the device's own.
        // `beyond`: the changes the attested heads do not reach.
        let beyond: Option<std::collections::HashSet<automerge::ChangeHash>> =
            self.attested.get(&id).map(|heads| {
                let present: Vec<_> = heads
                    .iter()
                    .copied()
                    .filter(|h| fork.get_change_by_hash(h).is_some())
                    .collect();
                fork.get_changes(&present)
                    .iter()
                    .map(|c| c.hash())
                    .collect()
            });
        let (mut restored, mut new) = (Vec::new(), Vec::new());
        // Whether the device's message brought changes.
        let moved = fork.get_heads() != doc.get_heads();
        for change in fork.get_changes(&doc.get_heads()) {
            let data = DocData {
                doc: id,
                data: change.raw_bytes().to_vec(),
                attested: None,
            };
            if beyond.as_ref().is_some_and(|b| !b.contains(&change.hash())) {
                restored.push(data);
            } else {
                new.push(data);
            }
        }
        let mut stored = false;
        if !restored.is_empty() {
            let restorer = DeviceContext::new(self.device.origin, Role::Admin, Scope::All);
            let prechecked = Prechecked::new(restored, restorer.pusher());
            stored |= store_checked(&tx, &restorer, prechecked)?.contains(&StoreOutcome::Stored);
        }
        if in_scope {
            stored |= self.store_in(&tx, &new)?.contains(&StoreOutcome::Stored);
        }
        tx.commit()?;
        let mut current: AutoCommit = if stored {
            store.transaction()?.load(id)?.unwrap_or_default()
        } else {
            std::mem::take(&mut doc)
        };
        // When the device's changes were all deferred or refused, another round would bring
        // the same ones (they stay in its outbox, or in quarantine here): no answer.
        queue.extend(match in_scope {
            true if stored || !moved => session.fallback_generate(id, &mut current),
            true => None,
            false => session.fallback_ask(id, &mut current, stored),
        });
        Ok(stored)
    }
}

/// Validates and stores changes from `device` inside the caller's transaction: changes to
/// documents outside what the device may write are refused, the rest go through the schema and
/// role checks; refused changes are quarantined with their reason. The changes come
/// [`Prechecked`] for the device's role (the server does it before the transaction, on another
/// thread); prechecked for another role, they are prechecked again.
pub fn store_checked(
    tx: &crate::StoreTx<'_>,
    device: &DeviceContext,
    prechecked: Prechecked,
) -> Result<Vec<StoreOutcome>> {
    let (role, changes, items) = prechecked.into_parts();
    let (changes, items) = if role == device.pusher() {
        (changes, items)
    } else {
        let (_, changes, items) = Prechecked::new(changes, device.pusher()).into_parts();
        (changes, items)
    };
    let mut outcomes: Vec<Option<StoreOutcome>> = vec![None; changes.len()];
    // The device's quarantine, read on its first refusal of the batch.
    let mut budget = None;
    let mut quarantine = |doc, data: &[u8], why: &str| -> Result<()> {
        if budget.is_none() {
            budget = Some(crate::quarantine::Budget::of(&tx.tx, device.origin.0)?);
        }
        budget
            .as_mut()
            .map_or(Ok(()), |b| b.add(&tx.tx, doc, data, why))
    };
    if device.scope != Scope::All {
        for ((slot, change), early) in outcomes.iter_mut().zip(&changes).zip(&items) {
            let stored = tx.doc_account(change.doc)?;
            let account = match stored {
                Some(account) => Some(account),
                None => early.account(),
            };
            // A change already stored is acknowledged as such (an answer lost with a dropped
            // connection), whoever may write the account now: nothing is written.
            if let Some(account) = account
                && !device.may_write(account)
                && !early
                    .hash()
                    .map_or(Ok(false), |hash| tx.has_change(&hash.0))?
                && !creates_field_customer(tx, device, stored, early, account)?
            {
                if device.repairing {
                    *slot = Some(StoreOutcome::Deferred);
                    continue;
                }
                let why = format!("account {account} is not among the jobs assigned to you");
                quarantine(change.doc, &change.data, &why)?;
                *slot = Some(StoreOutcome::Refused(why));
            }
        }
    }
    // Actors belong to users (`actors`): a change written with another user's actor is
    // refused, unless it is stored already (nothing is written); an actor no change was stored
    // with yet is claimed by the first that is. In a repair a device also hands back others'
    // changes that a restore lost (a colleague's note on a shared job): those claim nothing,
    // and one with another user's actor waits (`Deferred`) for its author's device, which
    // holds it too, rather than being refused.
    let mut claims = Vec::new();
    if let Some(owner) = device.owner {
        let mut owners = HashMap::new();
        for (index, ((slot, change), early)) in
            outcomes.iter_mut().zip(&changes).zip(&items).enumerate()
        {
            let Some(actor) = early.actor().filter(|_| slot.is_none()) else {
                continue;
            };
            let belongs = match owners.get(actor) {
                Some(belongs) => *belongs,
                None => *owners
                    .entry(actor.clone())
                    .or_insert(crate::actors::owner(&tx.tx, actor)?),
            };
            match belongs {
                Some(user) if user == owner => {}
                Some(_) if early.hash().map_or(Ok(false), |h| tx.has_change(&h.0))? => {}
                Some(_) if device.repairing => *slot = Some(StoreOutcome::Deferred),
                Some(_) => {
                    let why = format!(
                        "this change is written with another user's automerge actor ({actor}): \
                         a device writes only with its own"
                    );
                    quarantine(change.doc, &change.data, &why)?;
                    *slot = Some(StoreOutcome::Refused(why));
                }
                None if device.repairing => {}
                None => claims.push((index, actor.clone())),
            }
        }
    }
    let mut allowed = Vec::with_capacity(changes.len());
    let mut early = Vec::with_capacity(changes.len());
    for ((change, item), outcome) in changes.iter().zip(items).zip(&outcomes) {
        if outcome.is_none() {
            allowed.push((change.doc, &change.data[..]));
            early.push(item);
        }
    }
    let mut checked = crate::checked::apply_checked_batch(
        &tx.tx,
        tx.cache,
        &allowed,
        early,
        device.pusher(),
        device.origin,
    )?
    .into_iter();
    let mut stored_now = HashSet::new();
    for (index, (change, slot)) in changes.iter().zip(outcomes.iter_mut()).enumerate() {
        if slot.is_some() {
            continue;
        }
        let Some(outcome) = checked.next() else { break };
        if matches!(outcome, CheckedOutcome::Stored(_)) {
            stored_now.insert(index);
        }
        *slot = Some(match outcome {
            CheckedOutcome::Stored(_) | CheckedOutcome::AlreadyHad => StoreOutcome::Stored,
            CheckedOutcome::Deferred => StoreOutcome::Deferred,
            CheckedOutcome::Refused(why) => {
                quarantine(change.doc, &change.data, &why.to_string())?;
                StoreOutcome::Refused(why.to_string())
            }
        });
    }
    if let Some(owner) = device.owner {
        for (index, actor) in claims {
            if stored_now.contains(&index) {
                crate::actors::claim(&tx.tx, &actor, owner)?;
            }
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(StoreOutcome::Deferred))
        .collect())
}

/// Whether a technician's change starts a document of a customer made in the field: a
/// document the server lacks, of an account with no job stored yet (judged before the batch,
/// so the customer, its site and its job may come in any order, in one push or, in a repair
/// after a restore, one by one). What it may create is checked with the change
/// (`validate::authorize`: no alerts, not archived or merged; `check_authors`: the job is
/// assigned to the technician alone), and once the job is stored the account is in their
/// scope like any other.
fn creates_field_customer(
    tx: &crate::StoreTx<'_>,
    device: &DeviceContext,
    stored: Option<AccountId>,
    early: &crate::checked::Early,
    account: AccountId,
) -> Result<bool> {
    Ok(device.role == Role::Technician
        && stored.is_none()
        && matches!(early, crate::checked::Early::Starts { .. })
        && !tx.account_has_jobs(account)?)
}

/// The accounts a device was given (kept in `device_accounts`), to be written on the writer.
#[derive(Debug)]
#[must_use = "the record must be saved before what it lets the device write is sent"]
pub struct Given {
    device: i64,
    accounts: BTreeSet<AccountId>,
}

impl Given {
    /// Writes the record.
    pub fn save(&self, store: &mut Store) -> Result<()> {
        let tx = store.transaction()?;
        tx.set_device_accounts(self.device, &self.accounts)?;
        tx.commit()
    }
}
