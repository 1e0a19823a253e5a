//! The replica store: Fieldsync's automerge documents in one SQLite file, with typed
//! projections for lists, search and money. The server and the tablet both use it; neither
//! auth nor UI lives here.
//!
//! # Model
//! - **Documents** (`documents`): each automerge document is stored as its last snapshot plus
//!   the changes stored since, and its row carries its kind, account and current heads, so
//!   scoping and digests never load a document.
//! - **Change log** (`changes`): every change the replica holds, numbered by a sequence (`seq`)
//!   in the order it was stored, with its [`Origin`]. On the server this is how devices catch
//!   up: a device's cursor is a seq, and [`Store::changes_since`] sends what came after it.
//!   Once a document collects more than [`COMPACT_AFTER`] uncompacted changes it is re-saved as
//!   its snapshot and its change rows keep only their hash (their bytes come from the document).
//! - **Projections** (`accounts`, `jobs`, `payments`, ...): typed rows derived from each
//!   document, rewritten in the same transaction as the document. An FTS5 trigram index over
//!   accounts serves search.
//! - **Outbox** (tablet): the local user's changes until the server acknowledges them.
//! - **Quarantine** (server): changes refused by validation, kept for review.
//! - **Pairing and uploads** (tablet): the server it syncs with, and photo blobs to upload.
//!
//! Every write goes through a [`StoreTx`]; group commit is one transaction for many changes.
//! Recently written documents stay loaded in a bounded cache (checked against the stored
//! heads before use), and the batch calls ([`StoreTx::apply_batch`],
//! [`StoreTx::apply_checked_batch`]) run automerge and the record checks on every core while
//! the SQL stays on the calling thread. A [`Store`] is one connection: `Send`, not `Sync`, so
//! it lives on one thread (the server's writer thread); other threads may open their own on
//! the same file to read.
//!
//! # A typical flow
//! ```no_run
//! use fieldsync_protocol::Role;
//! use fieldsync_protocol::wire::DocData;
//! use fieldsync_store::{CheckedOutcome, Origin, Page, Scope, Store};
//!
//! /// Server: stores a device's pushed changes that pass validation in one transaction (a
//! /// group commit), keeps refused ones aside, and acknowledges once committed.
//! fn ingest(store: &mut Store, device: i64, pushed: &[DocData]) -> fieldsync_store::Result<()> {
//!     let tx = store.transaction()?;
//!     let outcomes = tx.apply_checked_batch(pushed, Role::Technician, Origin(device))?;
//!     for (change, outcome) in pushed.iter().zip(outcomes) {
//!         if let CheckedOutcome::Refused(reason) = outcome {
//!             tx.quarantine(device, change.doc, &change.data, &reason.to_string())?;
//!         }
//!     }
//!     tx.commit() // durable: acknowledge now
//! }
//!
//! /// Server: what another device (number 8, seeing everything) lacks after its cursor.
//! fn catch_up(store: &Store, cursor: u64) -> fieldsync_store::Result<Page> {
//!     store.changes_since(cursor, &Scope::All, Some(Origin(8)), 1 << 20)
//! }
//! ```
//! On the tablet, [`StoreTx::record_local`] stores an edit made with
//! [`fieldsync_protocol::Writer`] and queues it in the outbox; [`StoreTx::apply`] stores what
//! the server sends.

mod actors;
mod attest;
mod backup;
pub mod blobs;
mod cache;
mod change_log;
mod changes;
mod checked;
mod codec;
mod device_accounts;
mod documents;
mod error;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod host;
mod ingest;
mod lineage;
mod local;
mod meta;
mod migrations;
mod outbox;
mod parallel;
mod people;
mod projection;
pub mod quarantine;
mod queries;
mod scope;
mod search;
mod tablet;
mod transaction;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use automerge::AutoCommit;
use fieldsync_protocol::wire::{Cursor, DocData, Lineage};
use fieldsync_protocol::{
    AccountId, Contact, DocId, DocumentError, Invoice, InvoiceId, Job, JobId, JobSite, Ledger,
    Note, Payment, Photo, Record, Timestamp, UserId, ValidationError,
};
use rusqlite::{Connection, TransactionBehavior};

/// How long a connection waits for another one's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub use attest::LastAttestation;
pub use backup::{BackupSummary, restore};
pub use blobs::{BlobRefusal, BlobState};
pub use cache::DEFAULT_CACHE_DOCS;
pub use change_log::Logged;
pub use changes::{LoggedChange, Page};
pub use checked::Prechecked;
pub use documents::{COMPACT_AFTER, COMPACT_BYTES_PER_CHANGE, Compaction};
pub use error::{Result, StoreError, panic_message};
pub use outbox::{OutboxEntry, OutboxItem, OutboxStatus};
pub use people::{Device, OfficeSession, User};
pub use quarantine::Quarantined;
pub use queries::{AccountSummary, ContactReportLine, ListedJob};
pub use scope::{Origin, Scope};
pub use tablet::Pairing;
pub use transaction::StoreTx;

/// What storing data did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// How many changes were new to the document.
    pub new_changes: usize,
    /// The seq of each newly stored change, in order.
    pub seqs: Vec<u64>,
    /// Changes in the data whose dependencies this replica lacks: not stored (a gap; they must
    /// come again with their dependencies).
    pub waiting: usize,
}

/// The outcome of [`StoreTx::apply_checked`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckedOutcome {
    /// Valid and new: stored.
    Stored(Applied),
    /// The document already has this change; nothing to do.
    AlreadyHad,
    /// The change breaks a rule; nothing was stored (the caller quarantines it).
    Refused(ValidationError),
    /// The change depends on changes the store lacks; nothing was stored.
    Deferred,
}

/// The replica store over one SQLite connection.
pub struct Store {
    conn: Connection,
    epoch: u64,
    cache: RefCell<cache::DocCache>,
    /// This database's attestation key (see `attest`).
    attest_key: [u8; 32],
    /// Whether [`Store::watch_assignments`] was called on this connection.
    watching_assignments: std::cell::Cell<bool>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`: WAL, `synchronous=FULL`, foreign keys,
    /// a busy timeout, and the schema brought up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
        Self::setup(conn)
    }

    /// A store in memory (tests, tools).
    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -32 * 1024)?; // 32 MiB of pages
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrations::run(&mut conn)?;
        let epoch = meta::ensure_epoch(&conn)?;
        let attest_key = attest::ensure_key(&conn)?;
        let cache = RefCell::new(cache::DocCache::new(DEFAULT_CACHE_DOCS));
        Ok(Store {
            conn,
            epoch,
            attest_key,
            cache,
            watching_assignments: std::cell::Cell::new(false),
        })
    }

    /// The database file, for a store that has one (not in memory).
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
    }

    /// The random number made when this database was created; names it in cursors.
    pub fn epoch(&self) -> Result<u64> {
        Ok(self.epoch)
    }

    /// The highest seq in the change log, 0 when empty.
    pub fn latest_seq(&self) -> Result<u64> {
        changes::latest_seq(&self.conn)
    }

    /// This database's attestation of a heads digest (see [`StoreTx::verify_snapshot`]).
    pub fn attest(&self, digest: &[u8; 32]) -> [u8; 16] {
        attest::attest(&self.attest_key, digest)
    }

    /// The documents whose heads `attestation` attests, when it is this database's (or a
    /// copy's) attestation of their digest; `None` otherwise.
    pub fn check_attestation(
        &self,
        attestation: [u8; 16],
        heads: &[(DocId, Vec<u8>)],
    ) -> Option<std::collections::HashMap<DocId, Vec<automerge::ChangeHash>>> {
        if self.attest(&attest::digest(heads)) != attestation {
            return None;
        }
        Some(
            heads
                .iter()
                .map(|(doc, blob)| (*doc, codec::heads_from_blob(blob).unwrap_or_default()))
                .collect(),
        )
    }

    /// The heads of each of `docs` this database attested, when the attestation is its own
    /// (or a copy's); the others are left out.
    pub fn check_heads_attestations(
        &self,
        docs: &[(DocId, fieldsync_protocol::wire::HeadsAttestation)],
    ) -> std::collections::HashMap<DocId, Vec<automerge::ChangeHash>> {
        let mut taken: std::collections::HashMap<DocId, Vec<automerge::ChangeHash>> =
            Default::default();
        // A document may come more than once (one attestation per server history).
        for (doc, a) in docs {
            if attest::tag_of(&self.attest_key, *doc, &a.heads) != a.tag {
                continue;
            }
            let heads = taken.entry(*doc).or_default();
            for head in codec::heads_from_blob(&a.heads).unwrap_or_default() {
                if !heads.contains(&head) {
                    heads.push(head);
                }
            }
        }
        taken
    }

    /// The account of a stored document; `None` if unknown (or unreadable).
    pub fn doc_account(&self, doc: DocId) -> Result<Option<fieldsync_protocol::AccountId>> {
        meta::doc_account(&self.conn, doc)
    }

    /// Tablet: the latest attestation the server sent with each document it holds.
    pub fn heads_attestations(
        &self,
    ) -> Result<Vec<(DocId, fieldsync_protocol::wire::HeadsAttestation)>> {
        attest::kept(&self.conn)
    }

    /// Tablet: the last attestation the server gave and the heads it is for.
    pub fn attestation(&self) -> Result<Option<LastAttestation>> {
        attest::last(&self.conn)
    }

    /// The highest seq in the change log and its lineage (`(0, EMPTY)` when empty).
    pub fn latest_lineage(&self) -> Result<(u64, Lineage)> {
        lineage::latest(&self.conn)
    }

    /// The lineage of this database's history up to `seq`; `None` when it has no change
    /// numbered `seq` (a cursor from a history it does not have).
    pub fn lineage_at(&self, seq: u64) -> Result<Option<Lineage>> {
        lineage::at(&self.conn, seq)
    }

    /// Starts a write transaction (taking the write lock at once).
    pub fn transaction(&mut self) -> Result<StoreTx<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(StoreTx {
            tx,
            cache: &self.cache,
            attest_key: &self.attest_key,
        })
    }

    /// Runs `f` in a write transaction and commits what it wrote; nothing is written if it
    /// fails.
    pub fn write<T>(&mut self, f: impl FnOnce(&StoreTx<'_>) -> Result<T>) -> Result<T> {
        let tx = self.transaction()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// The connection, for read-only queries.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// How many loaded documents to keep in memory (default [`DEFAULT_CACHE_DOCS`]); 0 turns
    /// the cache off.
    pub fn set_cache_capacity(&mut self, documents: usize) {
        self.cache.get_mut().set_capacity(documents);
    }

    /// Loads a document (a copy of the cached one when it is cached).
    pub fn load(&self, doc: DocId) -> Result<Option<AutoCommit>> {
        documents::load_cached(&self.conn, &self.cache, doc)
    }

    /// Leaves the compaction of documents to the background: a write that makes a document due
    /// for compaction no longer re-saves it (which costs what the document weighs, in the
    /// writer's commit); [`Store::due_for_compaction`], [`Store::compaction`] and
    /// [`StoreTx::install_compaction`] do it instead. The server's writer does this.
    pub fn defer_compaction(&mut self) {
        self.cache.get_mut().compacts_inline = false;
    }

    /// Documents due for compaction (more uncompacted changes than [`COMPACT_AFTER`] and than
    /// one per [`COMPACT_BYTES_PER_CHANGE`] bytes of their snapshot), at most
    /// `limit`.
    pub fn due_for_compaction(&self, limit: usize) -> Result<Vec<DocId>> {
        documents::due_for_compaction(&self.conn, limit)
    }

    /// Re-saves document `doc` as it is stored now, for [`StoreTx::install_compaction`]
    /// (`None` when it is not stored). Reads only: a reader's work.
    pub fn compaction(&self, doc: DocId) -> Result<Option<Compaction>> {
        documents::compaction(&self.conn, &self.cache, doc)
    }

    /// Loads a document to edit it, with its content when it is a valid record: taken out of the
    /// cache when it is there (no copy, nothing read back), else read. Give it back through
    /// [`StoreTx::record_edit`], which caches it again.
    pub fn load_for_edit(&self, doc: DocId) -> Result<Option<(AutoCommit, Option<Record>)>> {
        documents::load_for_edit(&self.conn, &self.cache, doc)
    }

    /// Tablet: the furthest acknowledgement the server gave (its latest sequence number after
    /// the commit, and its lineage); `(0, EMPTY)` before any.
    pub fn acked_at(&self) -> Result<(u64, Lineage)> {
        meta::acked_at(&self.conn)
    }

    /// The tablet's cursor in the server's change sequence.
    pub fn cursor(&self) -> Result<Option<(Cursor, Lineage)>> {
        meta::cursor(&self.conn)
    }

    /// Pending outbox changes, in the order they were made.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>> {
        outbox::pending(&self.conn)
    }

    /// Pending and refused outbox entries, for the outbox view.
    pub fn outbox_entries(&self) -> Result<Vec<OutboxEntry>> {
        outbox::entries(&self.conn)
    }

    /// Change-sequence catch-up: every change with seq > `after` whose document is in `scope`
    /// and whose origin is not `exclude`, grouped per document (changes in seq order), up to
    /// about `max_bytes`. `to` is the last seq examined; `complete` when it is the latest.
    pub fn changes_since(
        &self,
        after: u64,
        scope: &Scope,
        exclude: Option<Origin>,
        max_bytes: usize,
    ) -> Result<Page> {
        let mut page = changes::changes_since(&self.conn, after, scope, exclude, max_bytes)?;
        attest::attach(&self.conn, &self.attest_key, &mut page.docs)?;
        Ok(page)
    }

    /// Initial download: every document in scope as automerge data (its snapshot followed by
    /// its uncompacted changes), by doc id, after `after_doc`, up to about `max_bytes`. Returns
    /// the page and the last doc id sent when more remain (`None` when this page ends it).
    pub fn snapshots(
        &self,
        scope: &Scope,
        after_doc: Option<DocId>,
        max_bytes: usize,
    ) -> Result<(Vec<DocData>, Option<DocId>)> {
        let (mut docs, more) = changes::snapshots(&self.conn, scope, after_doc, max_bytes)?;
        attest::attach(&self.conn, &self.attest_key, &mut docs)?;
        Ok((docs, more))
    }

    /// Ids of the documents in scope, ordered.
    pub fn doc_ids(&self, scope: &Scope) -> Result<Vec<DocId>> {
        Ok(changes::scoped_docs(&self.conn, scope)?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// The accounts this replica holds documents of: those it keeps, and those it is dropping
    /// (documents evicted while changes of theirs wait in the outbox). A tablet says so at
    /// each handshake.
    pub fn accounts_held(&self) -> Result<(BTreeSet<AccountId>, BTreeSet<AccountId>)> {
        changes::accounts_held(&self.conn)
    }

    /// Server: the accounts whose documents device `number` has been given and has not since
    /// confirmed dropping.
    pub fn device_accounts(&self, number: i64) -> Result<BTreeSet<AccountId>> {
        device_accounts::get(&self.conn, number)
    }

    /// BLAKE3 over (doc id bytes, then its sorted heads) for every document in scope, by id.
    pub fn heads_digest(&self, scope: &Scope) -> Result<[u8; 32]> {
        changes::heads_digest(&self.conn, scope)
    }

    /// A document's typed content (`None` when not stored).
    pub fn record(&self, doc: DocId) -> Result<Option<Record>> {
        let Some((document, record)) = self.load_with_record(doc)? else {
            return Ok(None);
        };
        match record {
            Some(record) => Ok(Some(record)),
            None => Err(DocumentError::Invalid(Record::read(&document).unwrap_err()).into()),
        }
    }

    /// A copy of a document and its content (`None` when it is not a valid record), kept in
    /// the cache: read again, a long document costs a copy, not a replay and a read.
    pub fn load_with_record(&self, doc: DocId) -> Result<Option<(AutoCommit, Option<Record>)>> {
        documents::load_with_record(&self.conn, &self.cache, doc)
    }

    /// Who changed which field of a document, when, from what to what: at most `limit`
    /// entries, newest first, older than the entry `before` if given (the additions of notes,
    /// photos and other objects are not entries: they show as themselves).
    pub fn change_log(&self, doc: DocId, before: Option<i64>, limit: usize) -> Result<Vec<Logged>> {
        change_log::page(&self.conn, doc, before, limit)
    }

    /// Accounts matching any part of their name, type, phones, addresses (theirs and their
    /// sites'), contact names, emails or phones.
    pub fn search_accounts(&self, query: &str, limit: usize) -> Result<Vec<AccountSummary>> {
        search::search_accounts(&self.conn, query, limit)
    }

    /// One page of [`Store::search_accounts`]: `limit` accounts from `offset` by name, and how
    /// many match in all.
    pub fn search_accounts_page(
        &self,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<AccountSummary>, usize)> {
        search::search_accounts_page(&self.conn, query, offset, limit)
    }

    /// The accounts with an invoice that is not void, by name (for the aging report).
    pub fn billed_accounts(&self) -> Result<Vec<fieldsync_protocol::Account>> {
        queries::billed_accounts(&self.conn)
    }

    /// An account's balance, credit and invoice standings.
    pub fn ledger(&self, account: AccountId) -> Result<Ledger> {
        queries::ledger(&self.conn, account)
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Result<Vec<AccountSummary>> {
        queries::accounts(&self.conn, None)
    }

    /// One account's summary.
    pub fn account(&self, account: AccountId) -> Result<Option<AccountSummary>> {
        queries::account(&self.conn, account)
    }

    /// Reads the database file through a memory map of up to `bytes`. A reader connection's
    /// page cache is emptied whenever another connection commits, so on a busy server every
    /// read starts cold: mapped pages are used in place instead of being copied in again.
    pub fn map_for_reading(&self, bytes: i64) -> Result<()> {
        self.conn.pragma_update(None, "mmap_size", bytes)?;
        Ok(())
    }

    /// SQLite's `quick_check`: the problems it finds (at most ten), none when the database is
    /// sound. Reads every page, so it takes a moment on a large database.
    pub fn quick_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA quick_check(10)")?;
        let found = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(found.into_iter().filter(|line| line != "ok").collect())
    }

    /// Stops this connection from checkpointing the write-ahead log when it commits, so that
    /// commits never wait for a checkpoint; [`Store::checkpoint`] (on another connection, in
    /// the background) must then keep the log short.
    pub fn disable_auto_checkpoint(&self) -> Result<()> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    /// Copies what it can of the write-ahead log into the database file without waiting for
    /// readers or writers (a passive checkpoint); returns the log's size in pages and how many
    /// of them are now in the database file.
    pub fn checkpoint(&self) -> Result<(i64, i64)> {
        Ok(self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })?)
    }

    /// Checkpoints the whole write-ahead log and has the next write start it again from its
    /// beginning (over what it held; the file keeps its size), waiting at most `wait` for
    /// readers still using it (writers wait meanwhile); returns whether it was done. Passive
    /// checkpoints alone never start the log again while some reader is always at work (a busy
    /// server): the log then grows without end, and every read and write looks pages up in an
    /// ever larger index.
    pub fn checkpoint_restart(&self, wait: Duration) -> Result<bool> {
        self.conn.busy_timeout(wait)?;
        let busy = self
            .conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
                row.get::<_, i64>(0)
            });
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(busy? == 0)
    }

    /// The account (not merged into another) with this name, ignoring case.
    pub fn account_named(&self, name: &str) -> Result<Option<AccountSummary>> {
        queries::account_named(&self.conn, name)
    }

    /// The accounts with a photo whose full image or thumbnail has content hash `hash`.
    pub fn photo_accounts(
        &self,
        hash: &fieldsync_protocol::ContentHash,
    ) -> Result<BTreeSet<AccountId>> {
        queries::photo_accounts(&self.conn, hash)
    }

    /// The accounts merged into `target`.
    pub fn merged_into(&self, target: AccountId) -> Result<Vec<AccountSummary>> {
        queries::merged_into(&self.conn, target)
    }

    /// Jobs scheduled to start at or after `from` and before `to`, by start.
    pub fn jobs_scheduled_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Job>> {
        queries::jobs_scheduled_between(&self.conn, from.millis(), to.millis())
    }

    /// [`Store::jobs_scheduled_between`] with the customer's and site's names, read at once.
    pub fn jobs_listed_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ListedJob>> {
        queries::jobs_listed_between(&self.conn, from.millis(), to.millis())
    }

    /// [`Store::jobs_listed_between`] for the jobs of `accounts` alone, by start.
    pub fn jobs_listed_between_for(
        &self,
        from: Timestamp,
        to: Timestamp,
        accounts: &[AccountId],
    ) -> Result<Vec<ListedJob>> {
        queries::jobs_listed_between_for(&self.conn, from.millis(), to.millis(), accounts)
    }

    /// An account's jobs, by scheduled start.
    pub fn jobs_for_account(&self, account: AccountId) -> Result<Vec<Job>> {
        queries::jobs_for_account(&self.conn, account)
    }

    /// The jobs a technician is assigned to, by scheduled start.
    pub fn jobs_for_technician(&self, user: UserId) -> Result<Vec<Job>> {
        queries::jobs_for_technician(&self.conn, user)
    }

    /// The accounts of the jobs a technician is assigned to (their scope).
    pub fn technician_accounts(&self, user: UserId) -> Result<BTreeSet<AccountId>> {
        queries::technician_accounts(&self.conn, user)
    }

    /// From now on, this connection notes whose assignments its commits change (rows of
    /// `job_technicians` added or removed, whatever wrote them): see
    /// [`Store::take_assignment_changes`]. The server's writer does this, so that a
    /// technician's scope is read again only when their own assignments changed.
    pub fn watch_assignments(&self) -> Result<()> {
        scope::watch_assignments(&self.conn)?;
        self.watching_assignments.set(true);
        Ok(())
    }

    /// The technicians whose assignments changed in what this connection committed since the
    /// last call (once [`Store::watch_assignments`] was called; otherwise none).
    pub fn take_assignment_changes(&self) -> Result<BTreeSet<UserId>> {
        if !self.watching_assignments.get() {
            return Ok(BTreeSet::new());
        }
        scope::take_assignment_changes(&self.conn)
    }

    /// An account's job sites.
    pub fn sites_for_account(&self, account: AccountId) -> Result<Vec<JobSite>> {
        queries::sites_for_account(&self.conn, account)
    }

    /// A customer's contact log, newest first (at most `limit` entries).
    pub fn contact_log(
        &self,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<fieldsync_protocol::ContactEntry>> {
        queries::contact_log(&self.conn, account, limit)
    }

    /// The contact report: entries made in `[from, to)`, oldest first, of one customer and one
    /// user when given; a page of them (`(offset, limit)`), and how many there are in all.
    pub fn contact_report(
        &self,
        from: fieldsync_protocol::Timestamp,
        to: fieldsync_protocol::Timestamp,
        account: Option<AccountId>,
        user: Option<fieldsync_protocol::UserId>,
        page: (usize, usize),
    ) -> Result<(Vec<queries::ContactReportLine>, usize)> {
        queries::contact_report(&self.conn, from, to, account, user, page)
    }

    /// The alerts on an account or a site document, oldest first.
    pub fn alerts(&self, doc: DocId) -> Result<Vec<fieldsync_protocol::Alert>> {
        queries::alerts(&self.conn, doc)
    }

    /// The files kept on a document (an account or a site), newest first.
    pub fn files(&self, doc: DocId) -> Result<Vec<fieldsync_protocol::FileEntry>> {
        queries::files(&self.conn, doc)
    }

    /// An account's contacts.
    pub fn contacts_for_account(&self, account: AccountId) -> Result<Vec<Contact>> {
        queries::contacts_for_account(&self.conn, account)
    }

    /// An account's payments, by time received.
    pub fn payments_for_account(&self, account: AccountId) -> Result<Vec<Payment>> {
        queries::payments_for_account(&self.conn, account)
    }

    /// An account's invoices, void ones included.
    pub fn invoices_for_account(&self, account: AccountId) -> Result<Vec<Invoice>> {
        queries::invoices_for_account(&self.conn, account)
    }

    /// The company's name, address and phone, as invoices print them (empty until set).
    pub fn company(&self) -> Result<fieldsync_protocol::Company> {
        meta::company(&self.conn)
    }

    /// Up to which sequence number the server has written the system notes of payments
    /// recorded on devices (`None` before it first ran on this database).
    pub fn payment_notes_upto(&self) -> Result<Option<u64>> {
        meta::payment_notes_upto(&self.conn)
    }

    /// The payments recorded on devices (tablets) whose changes were stored with sequence
    /// numbers in `(after, upto]`, read as they stand now.
    pub fn device_payments_between(&self, after: u64, upto: u64) -> Result<Vec<Payment>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT c.doc FROM changes c JOIN documents d ON d.id = c.doc
             WHERE c.seq > ?1 AND c.seq <= ?2 AND c.origin > 0 AND d.kind = 'payment'",
        )?;
        let docs: Vec<DocId> = stmt
            .query_map(
                rusqlite::params![
                    i64::try_from(after).unwrap_or(i64::MAX),
                    i64::try_from(upto).unwrap_or(i64::MAX)
                ],
                |row| codec::id(row, 0, DocId::from_slice),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let mut payments = Vec::new();
        for doc in docs {
            if let Some(Record::Payment(p)) = self.record(doc)? {
                payments.push(p.record);
            }
        }
        Ok(payments)
    }

    /// The company's custom field definitions, in order.
    pub fn custom_fields(&self) -> Result<Vec<fieldsync_protocol::custom_fields::FieldDef>> {
        meta::custom_fields(&self.conn)
    }

    /// Invoices numbered `number` (`INV-3-00012`).
    pub fn invoices_numbered(&self, number: &str) -> Result<Vec<Invoice>> {
        queries::invoices_numbered(&self.conn, number)
    }

    /// The highest counter among device `device`'s invoice numbers on this replica (0 when
    /// none): where the device's numbering must continue from.
    pub fn highest_invoice_seq(&self, device: u32) -> Result<u32> {
        queries::highest_invoice_seq(&self.conn, device)
    }

    /// The invoice with id `id`, if on this replica.
    pub fn invoice_with_id(&self, id: InvoiceId) -> Result<Vec<Invoice>> {
        queries::invoice_with_id(&self.conn, id)
    }

    /// A document's notes, oldest first.
    pub fn notes_for_doc(&self, doc: DocId) -> Result<Vec<Note>> {
        queries::notes_for_doc(&self.conn, doc)
    }

    /// A page of a document's notes, newest first (at most `limit`, after skipping `skip`),
    /// and how many notes it has.
    pub fn notes_page(&self, doc: DocId, skip: usize, limit: usize) -> Result<(Vec<Note>, usize)> {
        queries::notes_page(&self.conn, doc, skip, limit)
    }

    /// A page of a document's photos, newest first (at most `limit`, after skipping `skip`),
    /// and how many photos it has.
    pub fn photos_page(
        &self,
        doc: DocId,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<Photo>, usize)> {
        queries::photos_page(&self.conn, doc, skip, limit)
    }

    /// A job's record, from its row (without its notes, photos and invoices).
    pub fn job(&self, id: JobId) -> Result<Option<Job>> {
        queries::job(&self.conn, id)
    }

    /// A document's photo records, by time taken.
    pub fn photos_for_doc(&self, doc: DocId) -> Result<Vec<Photo>> {
        queries::photos_for_doc(&self.conn, doc)
    }

    /// How much of a blob is stored.
    pub fn blob_state(&self, hash: &fieldsync_protocol::ContentHash) -> Result<Option<BlobState>> {
        blobs::state(&self.conn, hash)
    }

    /// A complete, verified blob's bytes.
    pub fn blob(&self, hash: &fieldsync_protocol::ContentHash) -> Result<Option<Vec<u8>>> {
        match blobs::state(&self.conn, hash)? {
            Some(BlobState { complete: true, .. }) => blobs::read(&self.conn, hash),
            _ => Ok(None),
        }
    }

    /// The chunk of a complete blob that holds `offset`: (chunk offset, chunk bytes, blob size).
    pub fn blob_chunk(
        &self,
        hash: &fieldsync_protocol::ContentHash,
        offset: u64,
    ) -> Result<Option<(u64, Vec<u8>, u64)>> {
        blobs::chunk_at(&self.conn, hash, offset)
    }

    /// The most recently quarantined changes, newest first.
    pub fn quarantined(&self, limit: usize) -> Result<Vec<Quarantined>> {
        quarantine::recent(&self.conn, limit)
    }

    /// Server: a user, by name regardless of case, with their password hash (a PHC string;
    /// `None` when they have no office login).
    pub fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>> {
        people::user_by_name(&self.conn, name)
    }

    /// Server: every user, by name.
    pub fn users(&self) -> Result<Vec<User>> {
        people::users(&self.conn)
    }

    /// Server: the stored office sessions whose users still exist, oldest first.
    pub fn office_sessions(&self) -> Result<Vec<OfficeSession>> {
        people::office_sessions(&self.conn)
    }

    /// Server: the device whose token hashes to `hash`. Revoked devices are returned too
    /// (with `revoked`); the caller refuses them.
    pub fn device_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<Device>> {
        people::device_by_token_hash(&self.conn, hash)
    }

    /// Server: the device with this number, revoked or not.
    pub fn device_by_number(&self, number: i64) -> Result<Option<Device>> {
        people::device_by_number(&self.conn, number)
    }

    /// Server: every device, revoked ones included, by number.
    pub fn devices(&self) -> Result<Vec<Device>> {
        people::devices(&self.conn)
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::Role;
    use fieldsync_protocol::wire::Cursor;

    use super::*;
    use crate::fixtures::*;

    #[test]
    fn a_store_file_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replica.db");
        let record = Record::new_account(account("Acme"));
        let (epoch, heads) = {
            let mut store = Store::open(&path).unwrap();
            let (doc, mut document) = create(&mut store, &writer(Role::Office, "Dana"), &record);
            let tx = store.transaction().unwrap();
            tx.set_cursor(Some((Cursor { epoch: 9, seq: 42 }, Lineage([7; 16]))))
                .unwrap();
            tx.compact(doc).unwrap();
            tx.commit().unwrap();
            (store.epoch().unwrap(), document.get_heads())
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(store.epoch().unwrap(), epoch);
        assert_eq!(
            store.cursor().unwrap(),
            Some((Cursor { epoch: 9, seq: 42 }, Lineage([7; 16])))
        );
        assert_eq!(store.latest_seq().unwrap(), 1);
        assert_eq!(store.record(record.doc_id()).unwrap(), Some(record.clone()));
        assert_eq!(
            store.load(record.doc_id()).unwrap().unwrap().get_heads(),
            heads
        );
        assert_eq!(
            store.search_accounts("acm", 5).unwrap()[0].id,
            record.account()
        );
        let journal: String = store
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
        assert_ne!(Store::open_in_memory().unwrap().epoch().unwrap(), epoch);
    }

    #[test]
    fn the_board_and_the_merged_accounts_are_read_through_indexes() {
        let store = Store::open_in_memory().unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = store
                .conn()
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
            rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
        };
        let board = plan(
            "SELECT j.json FROM jobs j LEFT JOIN accounts a ON a.id = j.account
             LEFT JOIN sites s ON s.id = j.site
             WHERE j.scheduled_start >= 1 AND j.scheduled_start < 2",
        );
        assert!(board.contains("jobs_start"), "{board}");
        let merged =
            plan("SELECT a.id FROM accounts a WHERE json_extract(a.json, '$.merged_into') = 'x'");
        assert!(merged.contains("accounts_merged_into"), "{merged}");
    }

    #[test]
    fn a_write_ahead_log_starts_again_once_no_reader_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let mut store = Store::open(&path).unwrap();
        store.disable_auto_checkpoint().unwrap();
        let checkpointer = Store::open(&path).unwrap();
        let office = crate::fixtures::writer(Role::Office, "Dana");
        let add = |store: &mut Store, name: &str| {
            crate::fixtures::create(
                store,
                &office,
                &fieldsync_protocol::Record::new_account(crate::fixtures::account(name)),
            );
        };
        let wal = || {
            std::fs::metadata(dir.path().join("db.sqlite3-wal"))
                .unwrap()
                .len()
        };
        for name in ["Acme", "Bolt", "Crane"] {
            add(&mut store, name);
        }
        // A reader in the middle of a read: the log cannot start again, and nothing waits long.
        let reader = Store::open(&path).unwrap();
        let tx = reader.conn().unchecked_transaction().unwrap();
        tx.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))
            .unwrap();
        add(&mut store, "Delta");
        assert!(
            !checkpointer
                .checkpoint_restart(Duration::from_millis(10))
                .unwrap()
        );
        drop(tx);
        assert!(
            checkpointer
                .checkpoint_restart(Duration::from_millis(10))
                .unwrap()
        );
        // The next write goes to the log's beginning: the file does not grow.
        let before = wal();
        add(&mut store, "Echo");
        assert_eq!(wal(), before, "the log was written over, not appended to");
        let (log, _) = checkpointer.checkpoint().unwrap();
        assert!(log < 40, "the log holds only the last write: {log} pages");
        assert_eq!(store.accounts().unwrap().len(), 5, "nothing lost");
    }

    #[test]
    fn a_store_can_move_to_its_own_thread() {
        fn send<T: Send>() {}
        send::<Store>();
    }

    #[test]
    fn scope_contains_its_accounts_only() {
        let (a, b) = (AccountId::new(), AccountId::new());
        let scope = Scope::Accounts(BTreeSet::from([a]));
        assert!(scope.contains(a) && !scope.contains(b) && Scope::All.contains(b));
        assert!(!scope.allows(None) && Scope::All.allows(None));
    }

    #[test]
    fn only_this_database_or_a_copy_of_it_takes_its_attestation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.sqlite3")).unwrap();
        let heads = vec![(DocId::new(), vec![1u8; 32])];
        let attestation = store.attest(&attest::digest(&heads));
        let taken = store.check_attestation(attestation, &heads).unwrap();
        assert_eq!(taken[&heads[0].0].len(), 1);
        // A backup of it (a restored server) takes it too.
        let copy = dir.path().join("copy.sqlite3");
        store.backup_to(&copy).unwrap();
        let restored = Store::open(&copy).unwrap();
        assert!(restored.check_attestation(attestation, &heads).is_some());
        // Another database does not, nor does this one for other heads.
        let other = Store::open_in_memory().unwrap();
        assert!(other.check_attestation(attestation, &heads).is_none());
        let forged = vec![(heads[0].0, vec![2u8; 32])];
        assert!(store.check_attestation(attestation, &forged).is_none());
    }
}
