//! The write transaction: every write to the store goes through one.

use std::cell::RefCell;

use automerge::{AutoCommit, Change};
use fieldsync_protocol::wire::{Cursor, DocData, Lineage};
use fieldsync_protocol::{DocId, Role};
use rusqlite::{Connection, Transaction};

use crate::cache::DocCache;
use crate::{
    Applied, CheckedOutcome, Origin, Result, changes, checked, documents, ingest, local, meta,
    outbox, quarantine,
};

/// A write transaction. Dropped without [`StoreTx::commit`], it rolls back.
pub struct StoreTx<'a> {
    pub(crate) tx: Transaction<'a>,
    pub(crate) cache: &'a RefCell<DocCache>,
    /// The database's attestation key (see `attest`).
    pub(crate) attest_key: &'a [u8; 32],
}

impl StoreTx<'_> {
    /// Commits: everything written is durable once this returns.
    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    /// Runs `f` in a savepoint of this transaction, so that its failure is its own: when it
    /// returns an error or panics, what it wrote is rolled back, the transaction goes on, and
    /// the inner error says why (documents cached meanwhile are used only at the heads stored,
    /// so the cache needs nothing). A disk found full fails the whole transaction (the outer
    /// error), as nothing else could be written either.
    pub fn alone<T>(
        &self,
        f: impl FnOnce(&Self) -> Result<T>,
    ) -> Result<std::result::Result<T, String>> {
        self.tx.execute_batch("SAVEPOINT alone")?;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        // SQLite may have rolled back the whole transaction itself (a full disk): then there
        // is no savepoint to go back to, and the failure is the transaction's.
        let undo = || self.tx.execute_batch("ROLLBACK TO alone; RELEASE alone");
        match outcome {
            Ok(Ok(value)) => {
                self.tx.execute_batch("RELEASE alone")?;
                Ok(Ok(value))
            }
            Ok(Err(e)) if e.is_disk_full() => {
                let _ = undo();
                Err(e)
            }
            Ok(Err(e)) => match undo() {
                Ok(()) => Ok(Err(e.to_string())),
                Err(_) => Err(e),
            },
            Err(panic) => {
                undo()?;
                Ok(Err(crate::error::panic_message(panic.as_ref())))
            }
        }
    }

    /// The connection, for reads inside the transaction.
    pub fn conn(&self) -> &Connection {
        &self.tx
    }

    /// The highest seq in the change log, this transaction's writes included.
    pub fn latest_seq(&self) -> Result<u64> {
        changes::latest_seq(&self.tx)
    }

    /// Tablet: keeps the heads of every document for the `Verify` of `seq` and returns their
    /// digest, which the server attests when it is the same as its own.
    pub fn verify_snapshot(&self, seq: u64) -> Result<[u8; 32]> {
        crate::attest::snapshot(&self.tx, seq)
    }

    /// Tablet: a repair began; attestations from now on are of another server history.
    pub fn attest_new_generation(&self) -> Result<()> {
        crate::attest::new_generation(&self.tx)
    }

    /// Tablet: the server attested the `Verify` of `seq`.
    pub fn attested(&self, seq: u64, attestation: [u8; 16]) -> Result<()> {
        crate::attest::attested(&self.tx, seq, attestation)
    }

    /// The highest seq in the change log and its lineage, this transaction's writes included.
    pub fn latest_lineage(&self) -> Result<(u64, Lineage)> {
        crate::lineage::latest(&self.tx)
    }

    /// Loads a document from its snapshot and uncompacted changes; [`crate::StoreError::Corrupt`] if
    /// the stored bytes cannot be loaded.
    pub fn load(&self, doc: DocId) -> Result<Option<AutoCommit>> {
        documents::load_cached(&self.tx, self.cache, doc)
    }

    /// Trusted data (server to tablet, or fallback sync): automerge bytes (a saved document,
    /// changes, or a mix) merged into the document, created if new. Every change new to the
    /// document gets a change-log row with a fresh seq and `origin`; heads, kind, account and
    /// projections are updated in the same transaction. Content that is not a valid record is
    /// still stored, but has no projections. Unparseable data is refused whole
    /// ([`crate::StoreError::InvalidData`]).
    pub fn apply(&self, doc: DocId, data: &[u8], origin: Origin) -> Result<Applied> {
        documents::keep(&self.tx, [doc])?;
        ingest::apply(&self.tx, self.cache, doc, data, origin)
    }

    /// [`StoreTx::apply`] for many documents (a page of catch-up, an initial download),
    /// prepared on every core: one result per item, as if applied in order.
    pub fn apply_batch(&self, docs: &[DocData], origin: Origin) -> Result<Vec<Applied>> {
        documents::keep(&self.tx, docs.iter().map(|d| d.doc))?;
        crate::attest::keep(&self.tx, docs)?;
        ingest::apply_batch(&self.tx, self.cache, docs, origin)
    }

    /// An untrusted single change from a device (server side): refused when malformed, when
    /// the resulting document is not a valid record or not the same document, or when `role`
    /// may not make it; deferred when its dependencies are missing. Nothing is written unless
    /// it is stored.
    pub fn apply_checked(
        &self,
        doc: DocId,
        change: &[u8],
        role: Role,
        origin: Origin,
    ) -> Result<CheckedOutcome> {
        let changes = [(doc, change)];
        let role = role.into();
        let early = checked::precheck_on_every_core(&changes, role);
        let mut outcomes =
            checked::apply_checked_batch(&self.tx, self.cache, &changes, early, role, origin)?;
        Ok(outcomes.pop().unwrap_or(CheckedOutcome::Deferred))
    }

    /// [`StoreTx::apply_checked`] for a batch of changes pushed by one device (a group
    /// commit), checked on every core: one outcome per change, as if they were applied in
    /// order (a change may depend on an earlier one of the batch).
    pub fn apply_checked_batch(
        &self,
        changes: &[DocData],
        role: Role,
        origin: Origin,
    ) -> Result<Vec<CheckedOutcome>> {
        let changes: Vec<(DocId, &[u8])> = changes.iter().map(|c| (c.doc, &c.data[..])).collect();
        let role = role.into();
        let early = checked::precheck_on_every_core(&changes, role);
        checked::apply_checked_batch(&self.tx, self.cache, &changes, early, role, origin)
    }

    /// A document the local user just created or edited (`document` holds `change`): stores
    /// the change with origin [`Origin::LOCAL`] and, if `outbox`, queues it to send. Returns
    /// its seq.
    pub fn record_local(
        &self,
        doc: DocId,
        document: &mut AutoCommit,
        change: &Change,
        outbox: bool,
    ) -> Result<u64> {
        local::record_local(&self.tx, self.cache, doc, document, change, outbox)
    }

    /// A document the local user just edited with [`fieldsync_protocol::Writer::edit_known`]
    /// from `document` as [`crate::Store::load_for_edit`] gave it, whose content was `before`:
    /// stores the change like [`StoreTx::record_local`], writing projections and the change log
    /// for what the edit touched only, and keeps the document cached with its new content.
    pub fn record_edit(
        &self,
        doc: DocId,
        document: AutoCommit,
        before: &fieldsync_protocol::Record,
        edited: fieldsync_protocol::Edited,
        outbox: bool,
    ) -> Result<u64> {
        local::record_edit(&self.tx, self.cache, doc, document, before, edited, outbox)
    }

    /// Puts a document's [`crate::Compaction`] in place (its snapshot replaces the document's
    /// snapshot and change rows' bytes), if no change was stored since it was made; returns
    /// whether it was.
    pub fn install_compaction(&self, doc: DocId, compaction: &crate::Compaction) -> Result<bool> {
        documents::install_compaction(&self.tx, doc, compaction)
    }

    /// Keeps a refused change aside for review, within the device's bounds
    /// ([`crate::quarantine::MAX_ROWS_PER_DEVICE`], [`crate::quarantine::MAX_BYTES_PER_DEVICE`]).
    pub fn quarantine(&self, device: i64, doc: DocId, change: &[u8], reason: &str) -> Result<()> {
        quarantine::Budget::of(&self.tx, device)?.add(&self.tx, doc, change, reason)
    }

    /// Records up to which sequence number the system notes of devices' payments are written.
    pub fn set_payment_notes_upto(&self, seq: u64) -> Result<()> {
        crate::meta::set_payment_notes_upto(&self.tx, seq)
    }

    /// Deletes refused changes kept longer than [`crate::quarantine::RETENTION_MS`] before
    /// `now_ms`; returns how many.
    pub fn expire_quarantine(&self, now_ms: i64) -> Result<usize> {
        quarantine::expire(&self.tx, now_ms.saturating_sub(quarantine::RETENTION_MS))
    }

    /// Stores one chunk of a blob being uploaded (see [`crate::BlobState`]).
    pub fn put_blob_chunk(
        &self,
        hash: &fieldsync_protocol::ContentHash,
        total: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<std::result::Result<crate::BlobState, crate::BlobRefusal>> {
        crate::blobs::put(&self.tx, hash, total, offset, bytes, None)
    }

    /// [`crate::StoreTx::put_blob_chunk`] for a chunk a device uploads: a new blob counts
    /// against the device's quota of bytes no record names yet
    /// ([`crate::blobs::MAX_UNNAMED_BYTES_PER_DEVICE`]).
    pub fn put_device_blob_chunk(
        &self,
        device: i64,
        hash: &fieldsync_protocol::ContentHash,
        total: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<std::result::Result<crate::BlobState, crate::BlobRefusal>> {
        crate::blobs::put(&self.tx, hash, total, offset, bytes, Some(device))
    }

    /// Deletes blobs no record names that arrived more than
    /// [`crate::blobs::UNNAMED_GRACE_MS`] before `now_ms`, at most `most` of them; returns how
    /// many and their bytes.
    pub fn collect_unnamed_blobs(&self, now_ms: i64, most: usize) -> Result<(usize, u64)> {
        crate::blobs::collect_unnamed(
            &self.tx,
            now_ms.saturating_sub(crate::blobs::UNNAMED_GRACE_MS),
            most,
        )
    }

    /// Stores a whole blob made on this replica (a photo just taken); returns its hash.
    pub fn put_blob(
        &self,
        bytes: &[u8],
    ) -> Result<std::result::Result<fieldsync_protocol::ContentHash, crate::BlobRefusal>> {
        let hash = fieldsync_protocol::ContentHash::of(bytes);
        let total = bytes.len() as u64;
        let chunks = bytes.chunks(fieldsync_protocol::blob::BLOB_CHUNK);
        let mut offset = 0;
        for chunk in chunks {
            if let Err(refusal) = crate::blobs::put(&self.tx, &hash, total, offset, chunk, None)? {
                return Ok(Err(refusal));
            }
            offset += chunk.len() as u64;
        }
        if total == 0 {
            crate::blobs::put(&self.tx, &hash, 0, 0, &[], None)?
                .map(|_| ())
                .ok();
        }
        Ok(Ok(hash))
    }

    /// The account a stored document belongs to (`None` if the document is unknown here).
    pub fn doc_account(
        &self,
        doc: fieldsync_protocol::DocId,
    ) -> Result<Option<fieldsync_protocol::AccountId>> {
        crate::meta::doc_account(&self.tx, doc)
    }

    /// Whether any job document of `account` is stored.
    pub fn account_has_jobs(&self, account: fieldsync_protocol::AccountId) -> Result<bool> {
        crate::meta::account_has_jobs(&self.tx, account)
    }

    /// Every logged change after `after`, with its account and origin, as this transaction
    /// sees them (so a committer can hand what it just stored to live sessions).
    pub fn logged_after(&self, after: u64) -> Result<Vec<crate::LoggedChange>> {
        let mut logged = crate::changes::logged_after(&self.tx, after)?;
        let attested =
            crate::attest::current(&self.tx, self.attest_key, logged.iter().map(|c| c.doc))?;
        for change in &mut logged {
            change.attested = attested.get(&change.doc).cloned();
        }
        Ok(logged)
    }

    /// The company's name, address, phone and time zone (empty until set).
    pub fn company(&self) -> Result<fieldsync_protocol::Company> {
        meta::company(&self.tx)
    }

    /// Sets the company's name, address, phone and time zone (the server: set by its
    /// operator; a tablet: as its server said).
    pub fn set_company(&self, company: &fieldsync_protocol::Company) -> Result<()> {
        meta::set_company(&self.tx, company)
    }

    /// The company's custom field definitions, in order.
    pub fn custom_fields(&self) -> Result<Vec<fieldsync_protocol::custom_fields::FieldDef>> {
        meta::custom_fields(&self.tx)
    }

    /// Sets the company's custom field definitions (the server: as the office manages them;
    /// a tablet: as its server said).
    pub fn set_custom_fields(
        &self,
        defs: &[fieldsync_protocol::custom_fields::FieldDef],
    ) -> Result<()> {
        meta::set_custom_fields(&self.tx, defs)
    }

    /// Adds one to the named counter and returns its new value (1 the first time).
    pub fn next_counter(&self, name: &str) -> Result<u64> {
        meta::next_counter(&self.tx, name)
    }

    /// Whether this replica holds the change with this hash.
    pub fn has_change(&self, hash: &[u8; 32]) -> Result<bool> {
        meta::has_change(&self.tx, hash)
    }

    /// Tablet: keeps the furthest acknowledgement (see [`crate::Store::acked_at`]).
    pub fn set_acked_at(&self, at: (u64, Lineage)) -> Result<()> {
        meta::set_acked_at(&self.tx, at)
    }

    /// Stores the tablet's cursor with its lineage (`None` forgets it).
    pub fn set_cursor(&self, cursor: Option<(Cursor, Lineage)>) -> Result<()> {
        meta::set_cursor(&self.tx, cursor)
    }

    /// The server acknowledged these changes: removes them from the outbox. Documents that
    /// left the scope while these changes waited are dropped now.
    pub fn outbox_acked(&self, hashes: &[[u8; 32]]) -> Result<()> {
        outbox::acked(&self.tx, hashes)?;
        self.evict_waiting()
    }

    /// The server refused a change: keeps it in the outbox as refused, with the reason.
    /// Documents that left the scope while it waited are dropped now (with it).
    pub fn outbox_refused(&self, hash: [u8; 32], reason: &str) -> Result<()> {
        outbox::refused(&self.tx, hash, reason)?;
        self.evict_waiting()
    }

    /// Drops a document, its change-log rows and projections (a tablet, when the document
    /// leaves its scope). While the document has changes waiting in the outbox, it drops
    /// nothing and returns `false`: the document is then dropped once they are acknowledged or
    /// refused, unless the server sends it again first (it is back in scope).
    pub fn evict(&self, doc: DocId) -> Result<bool> {
        self.cache.borrow_mut().remove(doc);
        documents::evict(&self.tx, doc)
    }

    fn evict_waiting(&self) -> Result<()> {
        for doc in documents::evict_waiting(&self.tx)? {
            self.cache.borrow_mut().remove(doc);
        }
        Ok(())
    }

    /// Re-saves a document as its snapshot; its change rows keep seq, hash and origin but drop
    /// their bytes.
    pub fn compact(&self, doc: DocId) -> Result<()> {
        documents::compact(&self.tx, doc)
    }

    /// Server: stores an office session (the hash of its cookie's secret).
    pub fn add_office_session(
        &self,
        hash: &[u8; 32],
        user: fieldsync_protocol::UserId,
        created_ms: i64,
    ) -> Result<()> {
        crate::people::add_office_session(&self.tx, hash, user, created_ms)
    }

    /// Server: ends the office session with this hash (if any), and every one created before
    /// `expired_before_ms`.
    pub fn end_office_session(
        &self,
        hash: Option<&[u8; 32]>,
        expired_before_ms: i64,
    ) -> Result<()> {
        crate::people::end_office_session(&self.tx, hash, expired_before_ms)
    }

    /// Server: adds a user. [`crate::StoreError::NameTaken`] if a user has this name
    /// (regardless of case). `password_hash` is a PHC string, for office login.
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<crate::User> {
        crate::people::add_user(&self.tx, name, role, password_hash)
    }

    /// Server: registers a device of `user` with the next device number and the BLAKE3 hash
    /// of its token. [`crate::StoreError::UnknownUser`] if there is no such user.
    pub fn add_device(
        &self,
        user: fieldsync_protocol::UserId,
        name: &str,
        token_hash: [u8; 32],
    ) -> Result<crate::Device> {
        crate::people::add_device(&self.tx, user, name, token_hash)
    }

    /// Server: records that device `number` may hold documents of exactly `accounts` (see
    /// [`crate::Store::device_accounts`]).
    pub fn set_device_accounts(
        &self,
        number: i64,
        accounts: &std::collections::BTreeSet<fieldsync_protocol::AccountId>,
    ) -> Result<()> {
        crate::device_accounts::set(&self.tx, number, accounts)
    }

    /// Server: revokes a device (it keeps its number); `false` if it is unknown or was
    /// already revoked.
    pub fn revoke_device(&self, id: fieldsync_protocol::DeviceId) -> Result<bool> {
        crate::people::revoke_device(&self.tx, id)
    }
}
