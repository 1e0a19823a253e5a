//! What every host does with the sync engine's outputs, written once against the store: the
//! tablet app drives a [`ClientSession`] with [`DeviceHost`], the server drives one
//! [`ServerSession`] per connection with [`ConnectionHost`]. Both are synchronous; the server
//! calls them from its database thread.

use crate::Prechecked;
use automerge::AutoCommit;
use fieldsync_protocol::engine::{
    ClientOutput, ClientSession, OutboxItem, ServerOutput, ServerSession, StoreOutcome,
};
use fieldsync_protocol::wire::{ClientMessage, DocData, ErrorCode, ServerMessage};
use fieldsync_protocol::{DocId, Role};

use crate::{CheckedOutcome, Origin, Result, Scope, Store};

/// Most bytes of document data in one `Changes` message. Each connection's socket keeps a
/// buffer as large as the largest message it sent, so this bounds an idle connection's memory
/// (64 KiB: 78 KiB per idle connection, 1 MiB: 300 KiB) against the speed of a first download
/// (16 KiB pages: 10,000 records in 2.5 s, 64 KiB: 1.4 s); see `fieldsync-bench`.
pub const PAGE_BYTES: usize = 64 * 1024;

/// Something the device's user interface may want to know about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceEvent {
    /// Changes were acknowledged by the server.
    Acked(usize),
    /// A change was refused by the server.
    Refused(String),
    /// Caught up with the server.
    CaughtUp,
    /// The server refused this device for good.
    Failed(ErrorCode, String),
    /// Documents were updated from the server.
    Updated(Vec<DocId>),
}

/// The device side: carries out a [`ClientSession`]'s outputs on the device's store.
#[derive(Debug, Default)]
pub struct DeviceHost;

impl DeviceHost {
    /// Carries out `outputs` (and whatever they lead to); returns the messages to send and the
    /// events for the user interface.
    pub fn run(
        store: &mut Store,
        session: &mut ClientSession,
        outputs: Vec<ClientOutput>,
    ) -> Result<(Vec<ClientMessage>, Vec<DeviceEvent>)> {
        let mut queue: std::collections::VecDeque<ClientOutput> = outputs.into();
        let mut send = Vec::new();
        let mut events = Vec::new();
        while let Some(output) = queue.pop_front() {
            match output {
                ClientOutput::Send(message) => send.push(message),
                ClientOutput::Apply { docs, cursor } => {
                    let tx = store.transaction()?;
                    let ids: Vec<DocId> = docs.iter().map(|d| d.doc).collect();
                    tx.apply_batch(&docs, Origin::REMOTE)?;
                    tx.set_cursor(Some(cursor))?;
                    tx.commit()?;
                    if !ids.is_empty() {
                        events.push(DeviceEvent::Updated(ids));
                    }
                }
                ClientOutput::Acked(hashes) => {
                    let tx = store.transaction()?;
                    tx.outbox_acked(&hashes)?;
                    tx.commit()?;
                    events.push(DeviceEvent::Acked(hashes.len()));
                }
                ClientOutput::Refused { hash, reason } => {
                    let tx = store.transaction()?;
                    tx.outbox_refused(hash, &reason)?;
                    tx.commit()?;
                    events.push(DeviceEvent::Refused(reason));
                }
                ClientOutput::Evict(docs) => {
                    let tx = store.transaction()?;
                    for doc in docs {
                        tx.evict(doc)?;
                    }
                    tx.commit()?;
                }
                ClientOutput::StartFallback => {
                    for id in store.doc_ids(&Scope::All)? {
                        let tx = store.transaction()?;
                        if let Some(mut doc) = tx.load(id)? {
                            queue.extend(session.fallback_generate(id, &mut doc));
                        }
                    }
                }
                ClientOutput::AmSync { doc: id, message } => {
                    let tx = store.transaction()?;
                    let mut doc = tx.load(id)?.unwrap_or_default();
                    let before = doc.get_heads();
                    if session.fallback_receive(id, &mut doc, &message).is_ok() {
                        let new = doc.save_after(&before);
                        if !new.is_empty() {
                            tx.apply(id, &new, Origin::REMOTE)?;
                        }
                        tx.commit()?;
                        queue.extend(session.fallback_generate(id, &mut doc));
                    }
                }
                ClientOutput::Verify { seq } => {
                    let digest = store.heads_digest(&Scope::All)?;
                    queue.push_back(session.verify(seq, digest));
                }
                ClientOutput::CaughtUp => events.push(DeviceEvent::CaughtUp),
                ClientOutput::Blob(_) => {}
                ClientOutput::Failed { code, message } => {
                    events.push(DeviceEvent::Failed(code, message))
                }
            }
        }
        Ok((send, events))
    }

    /// The store's pending outbox in the engine's terms.
    pub fn outbox(store: &Store) -> Result<Vec<OutboxItem>> {
        Ok(store
            .outbox()?
            .into_iter()
            .map(|i| OutboxItem {
                hash: i.hash,
                doc: i.doc,
                bytes: i.bytes,
            })
            .collect())
    }
}

/// Who is on the other end of a server connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceContext {
    /// The device's number, stamped on the changes it makes.
    pub origin: Origin,
    /// Its user's role.
    pub role: Role,
    /// The documents it may see.
    pub scope: Scope,
    /// Accounts that left the scope during this connection: the device's unsent changes to
    /// them are still accepted.
    pub grace: std::collections::BTreeSet<fieldsync_protocol::AccountId>,
    /// The device's user, when known: a technician's changes made offline to an account that
    /// left their scope since are still accepted, if made before the assignment ended.
    pub user: Option<fieldsync_protocol::UserId>,
}

impl DeviceContext {
    /// A device seeing `scope`.
    pub fn new(origin: Origin, role: Role, scope: Scope) -> DeviceContext {
        DeviceContext {
            origin,
            role,
            scope,
            grace: Default::default(),
            user: None,
        }
    }

    /// The same device, used by `user`.
    pub fn with_user(mut self, user: fieldsync_protocol::UserId) -> DeviceContext {
        self.user = Some(user);
        self
    }

    /// Whether a change the device made at `time` (ms) to `account`, outside its scope now, was
    /// made while the account was in the user's scope (before their assignment ended).
    fn wrote_while_assigned(
        &self,
        tx: &crate::StoreTx<'_>,
        account: fieldsync_protocol::AccountId,
        time: Option<i64>,
    ) -> Result<bool> {
        match (self.user, time) {
            (Some(user), Some(time)) => crate::queries::assigned_at(tx.conn(), user, account, time),
            _ => Ok(false),
        }
    }

    /// Whether the device may write documents of `account`.
    pub fn may_write(&self, account: fieldsync_protocol::AccountId) -> bool {
        self.scope.contains(account) || self.grace.contains(&account)
    }

    /// Replaces the scope; returns the accounts that joined and those that left it. Accounts
    /// that left stay writable for the rest of the connection.
    pub fn rescope(
        &mut self,
        scope: Scope,
    ) -> (
        Vec<fieldsync_protocol::AccountId>,
        Vec<fieldsync_protocol::AccountId>,
    ) {
        let (joined, left) = match (&self.scope, &scope) {
            (Scope::Accounts(old), Scope::Accounts(new)) => (
                new.difference(old).copied().collect(),
                old.difference(new).copied().collect::<Vec<_>>(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        self.grace.extend(left.iter().copied());
        self.scope = scope;
        (joined, left)
    }
}

/// What a server connection must do after its outputs were carried out.
#[derive(Debug, Default)]
pub struct ServerRun {
    /// Messages to send, in order.
    pub send: Vec<ServerMessage>,
    /// Close the connection after sending.
    pub close: bool,
    /// New changes were committed: notify the other sessions of the latest sequence number.
    pub committed: bool,
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
    /// Photos this (scoped) device was found allowed to download, so that the chunks after the
    /// first are not checked again.
    readable_blobs: std::collections::HashSet<fieldsync_protocol::ContentHash>,
}

impl ConnectionHost {
    /// A host for a connection of `device`.
    pub fn new(device: DeviceContext) -> Self {
        ConnectionHost {
            device,
            initial: None,
            readable_blobs: Default::default(),
        }
    }

    /// Whether the device may download the bytes with content hash `hash`: everyone with
    /// scope All; otherwise only if a photo of an account in its scope (or grace) names it.
    fn may_read_blob(
        &mut self,
        store: &Store,
        hash: &fieldsync_protocol::ContentHash,
    ) -> Result<bool> {
        if self.device.scope == Scope::All || self.readable_blobs.contains(hash) {
            return Ok(true);
        }
        let allowed = store
            .photo_accounts(hash)?
            .into_iter()
            .any(|account| self.device.may_write(account));
        if allowed {
            self.readable_blobs.insert(*hash);
        }
        Ok(allowed)
    }

    /// Carries out `outputs` (and whatever they lead to).
    pub fn run(
        &mut self,
        store: &mut Store,
        session: &mut ServerSession,
        outputs: Vec<ServerOutput>,
    ) -> Result<ServerRun> {
        let mut queue: std::collections::VecDeque<ServerOutput> = outputs.into();
        let mut run = ServerRun::default();
        while let Some(output) = queue.pop_front() {
            match output {
                ServerOutput::Send(message) => run.send.push(message),
                ServerOutput::Close => run.close = true,
                ServerOutput::Store { batch, changes } => {
                    let outcomes = self.store_changes(store, &changes)?;
                    run.committed |= outcomes.contains(&StoreOutcome::Stored);
                    queue.extend(session.stored(batch, outcomes));
                }
                ServerOutput::Load { after, initial } => {
                    let (docs, to, more) = self.load(store, after, initial)?;
                    queue.extend(session.loaded(docs, to, more));
                }
                ServerOutput::StartFallback => {
                    for id in store.doc_ids(&self.device.scope)? {
                        let tx = store.transaction()?;
                        if let Some(mut doc) = tx.load(id)? {
                            queue.extend(session.fallback_generate(id, &mut doc));
                        }
                    }
                    queue.extend(session.fallback_started());
                }
                ServerOutput::AmSync { doc, message } => {
                    run.committed |= self.am_sync(store, session, doc, &message, &mut queue)?;
                }
                ServerOutput::CheckDigest { digest } => {
                    let ours = store.heads_digest(&self.device.scope)?;
                    queue.extend(session.digest_checked(ours == digest));
                }
                ServerOutput::Blob(message) => run.send.extend(self.blob(store, message)?),
            }
        }
        Ok(run)
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
        let prechecked = Prechecked::new(changes.to_vec(), self.device.role);
        store_checked(tx, &self.device, prechecked)
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
                let stored = tx.put_blob_chunk(&hash, total, offset, &bytes)?;
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
                Some((start, bytes, total))
                    if offset < start + bytes.len() as u64 || total == 0 =>
                {
                    let skip = (offset - start) as usize;
                    ServerMessage::BlobChunk {
                        hash,
                        total,
                        offset,
                        bytes: bytes[skip..].to_vec(),
                    }
                }
                _ => ServerMessage::BlobError {
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
        &self,
        store: &mut Store,
        session: &mut ServerSession,
        id: DocId,
        message: &[u8],
        queue: &mut std::collections::VecDeque<ServerOutput>,
    ) -> Result<bool> {
        let tx = store.transaction()?;
        let existing = tx.load(id)?;
        if let Some(doc) = &existing {
            let account = fieldsync_protocol::Record::read(doc).map(|r| r.account());
            if account.is_ok_and(|a| !self.device.scope.contains(a)) {
                return Ok(false); // out of scope: say nothing about it
            }
        }
        let mut doc = existing.unwrap_or_default();
        let mut fork = doc.fork();
        if session.fallback_receive(id, &mut fork, message).is_err() {
            return Ok(false);
        }
        let new: Vec<DocData> = fork
            .get_changes(&doc.get_heads())
            .into_iter()
            .map(|change| DocData {
                doc: id,
                data: change.raw_bytes().to_vec(),
            })
            .collect();
        let stored = self.store_in(&tx, &new)?.contains(&StoreOutcome::Stored);
        tx.commit()?;
        let mut current: AutoCommit = if stored {
            store.transaction()?.load(id)?.unwrap_or_default()
        } else {
            std::mem::take(&mut doc)
        };
        queue.extend(session.fallback_generate(id, &mut current));
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
    let (changes, items) = if role == device.role {
        (changes, items)
    } else {
        let (_, changes, items) = Prechecked::new(changes, device.role).into_parts();
        (changes, items)
    };
    let mut outcomes: Vec<Option<StoreOutcome>> = vec![None; changes.len()];
    if device.scope != Scope::All {
        for ((slot, change), early) in outcomes.iter_mut().zip(&changes).zip(&items) {
            let account = match tx.doc_account(change.doc)? {
                Some(account) => Some(account),
                None => early.account(),
            };
            if let Some(account) = account
                && !device.may_write(account)
                && !device.wrote_while_assigned(tx, account, early.time())?
            {
                let why = format!("account {account} is not among the jobs assigned to you");
                tx.quarantine(device.origin.0, change.doc, &change.data, &why)?;
                *slot = Some(StoreOutcome::Refused(why));
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
        device.role,
        device.origin,
    )?
    .into_iter();
    for (change, slot) in changes.iter().zip(outcomes.iter_mut()) {
        if slot.is_some() {
            continue;
        }
        let Some(outcome) = checked.next() else { break };
        *slot = Some(match outcome {
            CheckedOutcome::Stored(_) | CheckedOutcome::AlreadyHad => StoreOutcome::Stored,
            CheckedOutcome::Deferred => StoreOutcome::Deferred,
            CheckedOutcome::Refused(why) => {
                tx.quarantine(device.origin.0, change.doc, &change.data, &why.to_string())?;
                StoreOutcome::Refused(why.to_string())
            }
        });
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(StoreOutcome::Deferred))
        .collect())
}
