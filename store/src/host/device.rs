//! The device side: carries out a [`ClientSession`]'s outputs on the tablet's store.

use fieldsync_protocol::DocId;
use fieldsync_protocol::engine::{ClientOutput, ClientSession, OutboxItem, accounts_digest};
use fieldsync_protocol::wire::{ClientMessage, ErrorCode, MAX_ATTESTED_DOCS};

use crate::{Origin, Result, Scope, Store};

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
    /// This many documents left the device's scope and were removed from it (or will be, once
    /// their unsent changes are acknowledged or refused).
    Removed(usize),
    /// The server does not have the history this device's cursor came from (it was restored
    /// from an older copy, or replaced), or holds other versions of the device's documents:
    /// every document is compared and both sides get what the other lacks.
    Repairing,
    /// The server compared this device's documents with its own and no more repair follows
    /// on this connection (after [`DeviceEvent::Repairing`]: the repair is done). Not `same`:
    /// the server refused some of the device's changes, which stay on the device.
    Verified {
        /// Whether the device's documents are the same as the server's.
        same: bool,
    },
}

/// The device side: carries out a [`ClientSession`]'s outputs on the device's store.
#[derive(Debug, Default)]
pub struct DeviceHost;

impl DeviceHost {
    /// A connection is open: says hello with the device's cursor and the accounts it holds,
    /// and pushes the outbox; returns the messages to send.
    pub fn connect(
        store: &mut Store,
        session: &mut ClientSession,
        now: u64,
    ) -> Result<(Vec<ClientMessage>, Vec<DeviceEvent>)> {
        let cursor = (store.cursor()?, store.acked_at()?);
        let (held, leaving) = store.accounts_held()?;
        let holding = (accounts_digest(held), leaving.into_iter().collect());
        let outbox = Self::outbox(store)?;
        let outputs = session.connect(now, cursor, holding, outbox);
        Self::run(store, session, outputs)
    }

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
                ClientOutput::Apply {
                    docs,
                    cursor,
                    lineage,
                } => {
                    let tx = store.transaction()?;
                    let ids: Vec<DocId> = docs.iter().map(|d| d.doc).collect();
                    tx.apply_batch(&docs, Origin::REMOTE)?;
                    tx.set_cursor(Some((cursor, lineage)))?;
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
                    let mut removed = 0;
                    for doc in docs {
                        if tx.doc_account(doc)?.is_some() {
                            removed += 1;
                        }
                        tx.evict(doc)?;
                    }
                    tx.commit()?;
                    if removed > 0 {
                        events.push(DeviceEvent::Removed(removed));
                    }
                }
                ClientOutput::ListAccounts => {
                    let accounts = store.accounts_held()?.0.into_iter().collect();
                    queue.push_back(session.accounts_held(accounts));
                }
                ClientOutput::Repairing => {
                    let tx = store.transaction()?;
                    tx.attest_new_generation()?;
                    tx.commit()?;
                    events.push(DeviceEvent::Repairing);
                }
                ClientOutput::AckedAt(at) => {
                    let tx = store.transaction()?;
                    tx.set_acked_at(at)?;
                    tx.commit()?;
                }
                ClientOutput::Verified {
                    seq,
                    same,
                    attestation,
                } => {
                    if same {
                        let tx = store.transaction()?;
                        tx.attested(seq, attestation)?;
                        tx.commit()?;
                    }
                    events.push(DeviceEvent::Verified { same });
                }
                ClientOutput::StartFallback => {
                    // What the server last attested first: a restored server takes back the
                    // changes it once had, whoever made them.
                    if let Some(last) = store.attestation()? {
                        send.push(ClientMessage::Attested {
                            attestation: last.attestation,
                            heads: last.heads,
                        });
                    }
                    // And what it attested with each document it sent.
                    let mut docs = store.heads_attestations()?;
                    while !docs.is_empty() {
                        let rest = docs.split_off(docs.len().min(MAX_ATTESTED_DOCS));
                        send.push(ClientMessage::AttestedDocs { docs });
                        docs = rest;
                    }
                    for id in store.doc_ids(&Scope::All)? {
                        if let Some(mut doc) = store.load(id)? {
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
                    // The heads the digest is made of are kept: if the server attests it, they
                    // are what a repair shows a restored server.
                    let tx = store.transaction()?;
                    let digest = tx.verify_snapshot(seq)?;
                    tx.commit()?;
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
