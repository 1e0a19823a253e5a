//! Document storage over the `documents` and `changes` tables: loading a document from its
//! snapshot and uncompacted change rows, writing new changes together with the document row
//! and its projections, compaction and eviction.

use std::borrow::Cow;

use automerge::{AutoCommit, Change, ChangeHash, ReadDoc, SaveOptions, ScalarValue, Value};
use fieldsync_protocol::changelog::{self, ChangeEntry, Made};
use fieldsync_protocol::incremental::{Edit, Touched};
use fieldsync_protocol::{AccountId, DocId, DocKind, Record};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::change_log;
use crate::projection::{self, Previous};
use crate::{Applied, Origin, Result, StoreError, codec};

/// A document is compacted (re-saved, its change rows' bytes dropped) once it has more than
/// this many uncompacted changes, and more than one per [`COMPACT_BYTES_PER_CHANGE`] bytes of
/// its snapshot: re-saving costs what the document weighs, so a large document is re-saved
/// less often, and each change pays about the same share of it whatever the document's size.
pub const COMPACT_AFTER: i64 = 64;
/// See [`COMPACT_AFTER`].
pub const COMPACT_BYTES_PER_CHANGE: i64 = 1024;

/// Whether a document with `uncompacted` changes and a snapshot of `snapshot_len` bytes is
/// due to be compacted.
fn compaction_due(uncompacted: i64, snapshot_len: i64) -> bool {
    uncompacted > COMPACT_AFTER.max(snapshot_len / COMPACT_BYTES_PER_CHANGE)
}

/// What the `documents` table says about a document, without its snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocRow {
    /// Its kind, when known.
    pub kind: Option<DocKind>,
    /// Current heads, sorted.
    pub heads: Vec<ChangeHash>,
    /// Change rows still holding their bytes.
    pub uncompacted: i64,
    /// Bytes of its snapshot.
    pub snapshot_len: i64,
}

/// Reads a document's row.
pub(crate) fn row(conn: &Connection, doc: DocId) -> Result<Option<DocRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, heads, uncompacted, coalesce(length(snapshot), 0)
             FROM documents WHERE id = ?1",
    )?;
    let found = stmt
        .query_row([doc.as_bytes()], |row| {
            let kind = row
                .get_ref(0)?
                .as_str_or_null()?
                .and_then(|k| k.parse().ok());
            let heads = codec::heads_from_blob(row.get_ref(1)?.as_blob()?);
            Ok((kind, heads, row.get::<_, i64>(2)?, row.get::<_, i64>(3)?))
        })
        .optional()?;
    match found {
        None => Ok(None),
        Some((kind, Some(heads), uncompacted, snapshot_len)) => Ok(Some(DocRow {
            kind,
            heads,
            uncompacted,
            snapshot_len,
        })),
        Some((_, None, _, _)) => Err(StoreError::Corrupt(format!(
            "document {doc}: heads are not 32-byte hashes"
        ))),
    }
}

fn corrupt(doc: DocId, what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("document {doc}: {what} cannot be loaded: {error}"))
}

/// The bytes a stored document takes: its snapshot and the change rows still holding theirs.
pub(crate) fn stored_bytes(conn: &Connection, doc: DocId, row: &DocRow) -> Result<u64> {
    let changes: i64 = if row.uncompacted > 0 {
        conn.prepare_cached(
            "SELECT coalesce(sum(length(bytes)), 0) FROM changes
              WHERE doc = ?1 AND bytes IS NOT NULL",
        )?
        .query_row([doc.as_bytes()], |r| r.get(0))?
    } else {
        0
    };
    Ok(u64::try_from(row.snapshot_len.saturating_add(changes)).unwrap_or(0))
}

/// Loads a document: its snapshot, then its uncompacted changes in seq order.
pub(crate) fn load(conn: &Connection, doc: DocId) -> Result<Option<AutoCommit>> {
    let mut stmt = conn.prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?;
    let snapshot: Option<Option<Vec<u8>>> = stmt
        .query_row([doc.as_bytes()], |row| row.get(0))
        .optional()?;
    let Some(snapshot) = snapshot else {
        return Ok(None);
    };
    let mut document = match snapshot {
        Some(bytes) => AutoCommit::load(&bytes).map_err(|e| corrupt(doc, "the snapshot", e))?,
        None => AutoCommit::new(),
    };
    let mut stmt = conn.prepare_cached(
        "SELECT seq, bytes FROM changes WHERE doc = ?1 AND bytes IS NOT NULL ORDER BY seq",
    )?;
    let mut rows = stmt.query([doc.as_bytes()])?;
    let mut changes = Vec::new();
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let bytes = row.get_ref(1)?.as_blob()?;
        let change =
            Change::try_from(bytes).map_err(|e| corrupt(doc, &format!("change {seq}"), e))?;
        changes.push(change);
    }
    if !changes.is_empty() {
        document
            .apply_changes(changes)
            .map_err(|e| corrupt(doc, "its changes", e))?;
    }
    if !document.get_missing_deps(&[]).is_empty() {
        return Err(corrupt(
            doc,
            "its changes",
            "a stored change's dependencies are missing",
        ));
    }
    Ok(Some(document))
}

/// Loads a document, copying the cached one when the cache holds it at the stored heads.
pub(crate) fn load_cached(
    conn: &Connection,
    cache: &std::cell::RefCell<crate::cache::DocCache>,
    doc: DocId,
) -> Result<Option<AutoCommit>> {
    let Some(row) = row(conn, doc)? else {
        return Ok(None);
    };
    if let Some(copy) = cache.borrow_mut().copy(doc, &row.heads) {
        return Ok(Some(copy));
    }
    load(conn, doc)
}

/// Takes a document out of the cache with its content when the cache holds it at the stored
/// heads; else loads it and reads its content (`None` when it is not a valid record).
pub(crate) fn load_for_edit(
    conn: &Connection,
    cache: &std::cell::RefCell<crate::cache::DocCache>,
    doc: DocId,
) -> Result<Option<(AutoCommit, Option<Record>)>> {
    let Some(row) = row(conn, doc)? else {
        return Ok(None);
    };
    if let Some(cached) = cache.borrow_mut().take(doc, &row.heads) {
        return Ok(Some((cached.document, cached.record)));
    }
    Ok(load(conn, doc)?.map(|document| {
        let record = Record::read(&document).ok();
        (document, record)
    }))
}

/// A copy of a document and its content (`None` when it is not a valid record): from the cache
/// when it holds them at the stored heads; else read, and kept in the cache for the next read.
pub(crate) fn load_with_record(
    conn: &Connection,
    cache: &std::cell::RefCell<crate::cache::DocCache>,
    doc: DocId,
) -> Result<Option<(AutoCommit, Option<Record>)>> {
    let Some(row) = row(conn, doc)? else {
        return Ok(None);
    };
    if let Some(copy) = cache.borrow_mut().copy_with_record(doc, &row.heads) {
        return Ok(Some(copy));
    }
    let older = cache.borrow_mut().take_any(doc);
    let caught_up = match older {
        Some(older) => catch_up(conn, doc, older)?,
        None => None,
    };
    let (document, record) = match caught_up {
        Some(caught_up) => caught_up,
        None => {
            let Some(document) = load(conn, doc)? else {
                return Ok(None);
            };
            let record = Record::read(&document).ok();
            (document, record)
        }
    };
    cache
        .borrow_mut()
        .keep(doc, document.clone(), record.clone());
    Ok(Some((document, record)))
}

/// Changes past which a cached document is read again rather than brought up to date.
const CATCH_UP_CHANGES: usize = 256;

/// Brings a document cached at older heads, and its content, up to the stored one by the change
/// rows stored since: each change applied, and only the parts they touched read again
/// ([`Touched::from_change`], [`Edit::read`]), as the server's checks do. `None` when the rows
/// no longer hold those changes' bytes (compacted since), there are too many, or the cached
/// document is not the stored one at an earlier point.
fn catch_up(
    conn: &Connection,
    doc: DocId,
    older: crate::cache::Cached,
) -> Result<Option<(AutoCommit, Option<Record>)>> {
    let crate::cache::Cached {
        heads,
        mut document,
        record,
    } = older;
    let mut from = 0;
    for head in &heads {
        match seq_of_change(conn, doc, head)? {
            Some(Ok(seq)) => from = from.max(codec::seq(seq)),
            _ => return Ok(None),
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT bytes FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let limit = CATCH_UP_CHANGES as i64 + 1;
    let mut rows = stmt.query(params![doc.as_bytes(), from, limit])?;
    let mut changes = Vec::new();
    while let Some(row) = rows.next()? {
        let Some(bytes) = row.get_ref(0)?.as_blob_or_null()? else {
            return Ok(None);
        };
        match Change::try_from(bytes) {
            Ok(change) => changes.push(change),
            Err(_) => return Ok(None),
        }
    }
    if changes.len() > CATCH_UP_CHANGES {
        return Ok(None);
    }
    let expanded: Vec<_> = changes.iter_mut().map(|c| c.decode()).collect();
    if document.apply_changes(changes).is_err() || !document.get_missing_deps(&[]).is_empty() {
        return Ok(None);
    }
    let by_parts = |mut record: Record| {
        let kind = record.kind();
        let mut touched = Touched::default();
        for change in &expanded {
            touched.merge(Touched::from_change(kind, &document, change).ok()?);
        }
        if touched.root || touched.whole {
            return None;
        }
        Edit::read(&document, kind, &touched)
            .ok()?
            .apply(&mut record);
        Some(record)
    };
    let record = match record.and_then(by_parts) {
        Some(record) => Some(record),
        None => Record::read(&document).ok(),
    };
    Ok(Some((document, record)))
}

/// Saves a document as a snapshot: compressed, and without the changes automerge holds aside
/// for missing dependencies (they have no change row, and would make the snapshot unloadable).
pub(crate) fn save(document: &mut AutoCommit) -> Vec<u8> {
    document.save_with_options(SaveOptions {
        deflate: true,
        retain_orphans: false,
    })
}

/// A change to be written to the change log.
pub(crate) struct NewChange<'a> {
    pub hash: ChangeHash,
    /// Its bytes; `None` when the snapshot written with it already holds it.
    pub bytes: Option<Cow<'a, [u8]>>,
}

/// What to write for one document.
pub(crate) struct Write<'a> {
    pub doc: DocId,
    /// The document's row before this write (`None`: a new document).
    pub prior: Option<&'a DocRow>,
    /// The document's content before this write, when known (saves rewriting unchanged
    /// projection rows).
    pub before: Option<&'a Record>,
    /// The parts of the document the changes touched, when known (for a stored document that
    /// was a valid record): only their projection rows are rewritten.
    pub touched: Option<&'a Touched>,
    /// The changes new to the document, in causal order.
    pub changes: Vec<NewChange<'a>>,
    /// The change log's entries for these changes; `None`: made here from `before` and the
    /// new content, in the name of the last change (nothing when the content before is not
    /// known).
    pub log: Option<Vec<ChangeEntry>>,
    pub origin: Origin,
    /// A new snapshot holding every change of the document, this write's included.
    pub snapshot: Option<Cow<'a, [u8]>>,
    /// Whether to compact the document here when this write makes it due (else it is left
    /// for the background: see [`crate::Store::due_for_compaction`]).
    pub compact_when_due: bool,
}

/// Writes new changes of a document: change rows, the document row (heads, kind, account,
/// snapshot) and its projections. `document` is the document with the changes applied;
/// `record` its content when it is a valid record. Compacts when it is due (see
/// [`COMPACT_AFTER`]).
pub(crate) fn write(
    tx: &Transaction<'_>,
    write: Write<'_>,
    document: &mut AutoCommit,
    record: Option<&Record>,
) -> Result<Applied> {
    let Write {
        doc,
        prior,
        before,
        touched,
        changes,
        log,
        origin,
        mut snapshot,
        compact_when_due,
    } = write;
    let mut uncompacted = prior.map_or(0, |p| p.uncompacted);
    uncompacted += changes.iter().filter(|c| c.bytes.is_some()).count() as i64;
    if snapshot.is_none()
        && compact_when_due
        && compaction_due(uncompacted, prior.map_or(0, |p| p.snapshot_len))
    {
        snapshot = Some(Cow::Owned(save(document)));
    }
    let mut seqs = Vec::with_capacity(changes.len());
    let (_, mut lineage) = crate::lineage::latest(tx)?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO changes (doc, hash, bytes, origin, lineage) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for change in &changes {
        let bytes = if snapshot.is_some() {
            None
        } else {
            change.bytes.as_deref()
        };
        lineage = lineage.then(&change.hash);
        insert.execute(params![
            doc.as_bytes(),
            &change.hash.0[..],
            bytes,
            origin.0,
            &lineage.0[..]
        ])?;
        seqs.push(codec::seq_of(tx.last_insert_rowid()));
    }
    if snapshot.is_some() {
        uncompacted = 0;
        if prior.is_some_and(|p| p.uncompacted > 0) {
            tx.prepare_cached(
                "UPDATE changes SET bytes = NULL WHERE doc = ?1 AND bytes IS NOT NULL",
            )?
            .execute([doc.as_bytes()])?;
        }
    }
    let (kind, account) = match record {
        Some(r) => (Some(r.kind().as_str().to_string()), Some(r.account())),
        None => root_kind_and_account(document),
    };
    let updated_seq = seqs.last().map_or(0, |&s| codec::seq(s));
    tx.prepare_cached(
        "INSERT INTO documents (id, kind, account, heads, snapshot, uncompacted, updated_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET
             kind = coalesce(excluded.kind, kind),
             account = coalesce(excluded.account, account),
             heads = excluded.heads,
             snapshot = CASE WHEN ?8 THEN excluded.snapshot ELSE snapshot END,
             uncompacted = excluded.uncompacted,
             updated_seq = max(updated_seq, excluded.updated_seq)",
    )?
    .execute(params![
        doc.as_bytes(),
        kind,
        account.map(|a| *a.as_bytes()),
        codec::heads_blob(&document.get_heads()),
        snapshot.as_deref(),
        uncompacted,
        updated_seq,
        snapshot.is_some(),
    ])?;
    let previous = match (prior, touched, before) {
        (None, _, _) => Previous::New,
        (Some(_), Some(touched), _) => Previous::Touched(touched),
        (Some(_), None, Some(before)) => Previous::Content(before),
        (Some(prior), None, None) => Previous::Kind(prior.kind),
    };
    projection::write(tx, doc, previous, record)?;
    let log = match (log, record, before) {
        (Some(log), _, _) => log,
        // A new document's creation is no entry (see `change_log`): nothing to compare.
        (None, Some(record), Some(before)) if prior.is_some() => {
            let made = changes
                .last()
                .and_then(|c| c.bytes.as_deref())
                .and_then(|bytes| Change::try_from(bytes).ok())
                .map(|c| Made::of(c.message(), c.timestamp()))
                .unwrap_or_default();
            changelog::record_entries(before, record, &made)
        }
        (None, _, _) => Vec::new(),
    };
    change_log::insert(tx, doc, &log)?;
    Ok(Applied {
        new_changes: seqs.len(),
        seqs,
        waiting: 0,
    })
}

/// Reads `kind` and `account` from a document's root without requiring the rest of it to be a
/// valid record, so that even unreadable documents are scoped by their account.
fn root_kind_and_account(document: &AutoCommit) -> (Option<String>, Option<AccountId>) {
    let scalar = |key: &str| match document.get(automerge::ROOT, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    };
    let kind = match scalar("kind") {
        Some(ScalarValue::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    let account = match scalar("account") {
        Some(ScalarValue::Bytes(b)) => AccountId::from_slice(&b).ok(),
        _ => None,
    };
    (kind, account)
}

/// Re-saves a document as its snapshot and drops the bytes of its change rows.
pub(crate) fn compact(tx: &Transaction<'_>, doc: DocId) -> Result<()> {
    let Some(mut document) = load(tx, doc)? else {
        return Ok(());
    };
    tx.prepare_cached("UPDATE documents SET snapshot = ?2, uncompacted = 0 WHERE id = ?1")?
        .execute(params![doc.as_bytes(), save(&mut document)])?;
    tx.prepare_cached("UPDATE changes SET bytes = NULL WHERE doc = ?1 AND bytes IS NOT NULL")?
        .execute([doc.as_bytes()])?;
    Ok(())
}

/// Documents due for compaction, at most `limit` of them (see [`compaction_due`]).
pub(crate) fn due_for_compaction(conn: &Connection, limit: usize) -> Result<Vec<DocId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM documents INDEXED BY documents_compaction_due
         WHERE uncompacted > 64 AND uncompacted > coalesce(length(snapshot), 0) / ?1
         LIMIT ?2",
    )?;
    debug_assert_eq!(COMPACT_AFTER, 64, "the index and this query name the bound");
    let ids = stmt.query_map(params![COMPACT_BYTES_PER_CHANGE, limit as i64], |row| {
        codec::id(row, 0, DocId::from_slice)
    })?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// A document re-saved as one snapshot, to replace its snapshot and change rows' bytes if it
/// is still at `heads` (see [`install_compaction`]).
#[derive(Debug)]
pub struct Compaction {
    /// The heads of the document saved, sorted.
    pub heads: Vec<ChangeHash>,
    /// The saved document.
    pub snapshot: Vec<u8>,
}

/// Re-saves a document as it is stored now (`None` when it is not stored).
pub(crate) fn compaction(
    conn: &Connection,
    cache: &std::cell::RefCell<crate::cache::DocCache>,
    doc: DocId,
) -> Result<Option<Compaction>> {
    let Some(mut document) = load_cached(conn, cache, doc)? else {
        return Ok(None);
    };
    let mut heads = document.get_heads();
    heads.sort_unstable();
    Ok(Some(Compaction {
        heads,
        snapshot: save(&mut document),
    }))
}

/// Puts a compaction in place: the snapshot replaces the document's snapshot and the bytes of
/// its change rows, if the document is still at the compaction's heads. `false`, writing
/// nothing, when changes were stored since (the document is compacted again later).
pub(crate) fn install_compaction(
    tx: &Transaction<'_>,
    doc: DocId,
    compaction: &Compaction,
) -> Result<bool> {
    match row(tx, doc)? {
        Some(row) if row.heads == compaction.heads => {}
        _ => return Ok(false),
    }
    tx.prepare_cached("UPDATE documents SET snapshot = ?2, uncompacted = 0 WHERE id = ?1")?
        .execute(params![doc.as_bytes(), compaction.snapshot])?;
    tx.prepare_cached("UPDATE changes SET bytes = NULL WHERE doc = ?1 AND bytes IS NOT NULL")?
        .execute([doc.as_bytes()])?;
    Ok(true)
}

/// Drops a document, its change rows, projections and refused outbox entries. While it has
/// changes waiting in the outbox it is kept and noted to be dropped later (see
/// [`evict_waiting`]), and `false` is returned.
pub(crate) fn evict(tx: &Transaction<'_>, doc: DocId) -> Result<bool> {
    if crate::outbox::has_pending(tx, doc)? {
        tx.prepare_cached("INSERT OR IGNORE INTO evict_later (doc) VALUES (?1)")?
            .execute([doc.as_bytes()])?;
        return Ok(false);
    }
    for sql in [
        "DELETE FROM outbox WHERE doc = ?1",
        "DELETE FROM changes WHERE doc = ?1",
        "DELETE FROM documents WHERE id = ?1",
        "DELETE FROM evict_later WHERE doc = ?1",
        "DELETE FROM attested_docs WHERE doc = ?1",
    ] {
        tx.prepare_cached(sql)?.execute([doc.as_bytes()])?;
    }
    projection::delete(tx, doc)?;
    change_log::delete(tx, doc)?;
    Ok(true)
}

/// Drops the documents noted by [`evict`] whose outbox changes have all been acknowledged or
/// refused since; returns them.
pub(crate) fn evict_waiting(tx: &Transaction<'_>) -> Result<Vec<DocId>> {
    let ready: Vec<DocId> = {
        let mut stmt = tx.prepare_cached(
            "SELECT doc FROM evict_later e WHERE NOT EXISTS
               (SELECT 1 FROM outbox o WHERE o.doc = e.doc AND o.status = 'pending')",
        )?;
        let rows = stmt.query_map([], |row| codec::id(row, 0, DocId::from_slice))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for &doc in &ready {
        evict(tx, doc)?;
    }
    Ok(ready)
}

/// The server sent `docs` again: they are in scope, and no longer to be dropped.
pub(crate) fn keep(tx: &Transaction<'_>, docs: impl IntoIterator<Item = DocId>) -> Result<()> {
    let waiting: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM evict_later)")?
        .query_row([], |row| row.get(0))?;
    if waiting {
        let mut delete = tx.prepare_cached("DELETE FROM evict_later WHERE doc = ?1")?;
        for doc in docs {
            delete.execute([doc.as_bytes()])?;
        }
    }
    Ok(())
}

/// The seq of a change the store holds for `doc`; `Err(other doc)` if the change is stored
/// for a different document.
pub(crate) fn seq_of_change(
    conn: &Connection,
    doc: DocId,
    hash: &ChangeHash,
) -> Result<Option<std::result::Result<u64, DocId>>> {
    let mut stmt = conn.prepare_cached("SELECT seq, doc FROM changes WHERE hash = ?1")?;
    let found = stmt
        .query_row([&hash.0[..]], |row| {
            Ok((row.get::<_, i64>(0)?, codec::id(row, 1, DocId::from_slice)?))
        })
        .optional()?;
    Ok(found.map(|(seq, owner)| {
        if owner == doc {
            Ok(codec::seq_of(seq))
        } else {
            Err(owner)
        }
    }))
}

/// The stored bytes of a document as automerge data: its snapshot followed by its uncompacted
/// changes (loadable with `load_incremental`, or by [`crate::StoreTx::apply`]).
pub(crate) fn data(conn: &Connection, doc: DocId) -> Result<Option<Vec<u8>>> {
    let mut stmt =
        conn.prepare_cached("SELECT snapshot, uncompacted FROM documents WHERE id = ?1")?;
    let found: Option<(Option<Vec<u8>>, i64)> = stmt
        .query_row([doc.as_bytes()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((snapshot, uncompacted)) = found else {
        return Ok(None);
    };
    assemble(conn, doc, snapshot, uncompacted).map(Some)
}

/// A document's data from its row's `snapshot` and `uncompacted` columns: the snapshot, then
/// the bytes of the changes stored since.
pub(crate) fn assemble(
    conn: &Connection,
    doc: DocId,
    snapshot: Option<Vec<u8>>,
    uncompacted: i64,
) -> Result<Vec<u8>> {
    let mut data = snapshot.unwrap_or_default();
    if uncompacted > 0 {
        let mut stmt = conn.prepare_cached(
            "SELECT bytes FROM changes WHERE doc = ?1 AND bytes IS NOT NULL ORDER BY seq",
        )?;
        let mut rows = stmt.query([doc.as_bytes()])?;
        while let Some(row) = rows.next()? {
            data.extend_from_slice(row.get_ref(0)?.as_blob()?);
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::Role;

    use crate::fixtures::*;
    use crate::{Store, StoreError};
    use fieldsync_protocol::Record;

    fn set(store: &Store, sql: &str, value: &[u8]) {
        if sql.contains("?1") {
            store.conn().execute(sql, [value]).unwrap();
        } else {
            store.conn().execute(sql, []).unwrap();
        }
    }

    /// A reader keeps a document with its content; after the writer stores more changes, the
    /// reader brings both up to date by those changes (or reads the document again when it
    /// cannot), and always reads what a fresh load reads.
    #[test]
    fn a_cached_document_is_brought_up_to_date_by_the_changes_stored_since() {
        use fieldsync_protocol::{JobStatus, NoteKind};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replica.sqlite3");
        let office = writer(Role::Office, "Dana");
        let mut writer = Store::open(&path).unwrap();
        let reader = Store::open(&path).unwrap();
        let a = account("Acme");
        let site = site(a.id, "Plant");
        let (doc, mut document) = create(
            &mut writer,
            &office,
            &Record::new_job(job(a.id, site.id, "Boiler")),
        );
        let fresh = |writer: &Store| {
            let document = writer.load(doc).unwrap().unwrap();
            (Record::read(&document).unwrap(), document)
        };
        let store_changes = |writer: &mut Store, document: &mut automerge::AutoCommit, n: usize| {
            for i in 0..n {
                let change = edit(document, &office, |r| {
                    let Record::Job(j) = r else { unreachable!() };
                    let n = note(
                        NoteKind::ServiceRequest,
                        &format!("Call {i}"),
                        &office.author,
                        now(),
                    );
                    j.notes.insert(n.id, n);
                    if i == 1 {
                        j.record.status = JobStatus::EnRoute;
                    }
                });
                let tx = writer.transaction().unwrap();
                tx.record_local(doc, document, &change, false).unwrap();
                tx.commit().unwrap();
            }
        };
        let (first, _) = fresh(&writer);
        assert_eq!(reader.record(doc).unwrap(), Some(first), "read and kept");
        // A few changes: brought up to date by them.
        store_changes(&mut writer, &mut document, 3);
        let (expected, mut loaded) = fresh(&writer);
        // The first change's row, which the reader holds already, is not read again: damaged,
        // it would fail a fresh load.
        let first_row = "(SELECT min(seq) FROM changes WHERE doc = ?1)";
        let original: Vec<u8> = writer
            .conn()
            .query_row(
                &format!("SELECT bytes FROM changes WHERE seq = {first_row}"),
                [doc.as_bytes()],
                |row| row.get(0),
            )
            .unwrap();
        let damage = |bytes: &[u8]| {
            let sql = format!("UPDATE changes SET bytes = ?2 WHERE seq = {first_row}");
            let params = rusqlite::params![doc.as_bytes(), bytes];
            writer.conn().execute(&sql, params).unwrap();
        };
        damage(b"damaged");
        let (mut caught_up, record) = reader.load_with_record(doc).unwrap().unwrap();
        assert_eq!(record.as_ref(), Some(&expected));
        assert_eq!(caught_up.get_heads(), loaded.get_heads());
        damage(&original);
        // A change the record reader ignores (a key no record declares) changes the heads.
        let tampered = tamper(&mut document, &["extra"], "hidden");
        let tx = writer.transaction().unwrap();
        tx.record_local(doc, &mut document, &tampered, false)
            .unwrap();
        tx.commit().unwrap();
        let (expected, _) = fresh(&writer);
        assert_eq!(reader.record(doc).unwrap(), Some(expected));
        // Enough changes that the document is compacted meanwhile: read again.
        store_changes(
            &mut writer,
            &mut document,
            super::COMPACT_AFTER as usize + 2,
        );
        let (expected, mut loaded) = fresh(&writer);
        let (mut again, record) = reader.load_with_record(doc).unwrap().unwrap();
        assert_eq!(record.as_ref(), Some(&expected));
        assert_eq!(again.get_heads(), loaded.get_heads());
    }

    /// A store that defers compaction leaves a document due for it as it is; the compaction,
    /// made apart, is put in place only if no change came since, and keeps every change.
    #[test]
    fn a_deferred_compaction_is_put_in_place_only_on_the_document_it_was_made_from() {
        use fieldsync_protocol::NoteKind;
        let mut store = Store::open_in_memory().unwrap();
        store.defer_compaction();
        let office = writer(Role::Office, "Dana");
        let a = account("Acme");
        let (doc, mut document) = create(&mut store, &office, &Record::new_account(a));
        let add_note = |store: &mut Store, document: &mut automerge::AutoCommit| {
            let change = edit(document, &office, |r| {
                let Record::Account(d) = r else {
                    unreachable!()
                };
                let n = note(NoteKind::Private, "Prefers mornings", &office.author, now());
                d.notes.insert(n.id, n);
            });
            let tx = store.transaction().unwrap();
            tx.record_local(doc, document, &change, false).unwrap();
            tx.commit().unwrap();
        };
        let uncompacted = |store: &Store| -> i64 {
            let sql = "SELECT uncompacted FROM documents WHERE id = ?1";
            store
                .conn()
                .query_row(sql, [doc.as_bytes()], |row| row.get(0))
                .unwrap()
        };
        // The account's first change, and notes up to the bound.
        for _ in 1..super::COMPACT_AFTER {
            add_note(&mut store, &mut document);
        }
        assert!(
            store.due_for_compaction(10).unwrap().is_empty(),
            "not yet due"
        );
        add_note(&mut store, &mut document);
        assert_eq!(
            uncompacted(&store),
            super::COMPACT_AFTER + 1,
            "left as it is"
        );
        assert_eq!(store.due_for_compaction(10).unwrap(), vec![doc]);
        // Made, then overtaken by another change: not put in place.
        let stale = store.compaction(doc).unwrap().unwrap();
        add_note(&mut store, &mut document);
        assert!(
            !store
                .write(|tx| tx.install_compaction(doc, &stale))
                .unwrap()
        );
        assert_eq!(uncompacted(&store), super::COMPACT_AFTER + 2);
        // Made on the document as it is: in place, and nothing lost.
        let compaction = store.compaction(doc).unwrap().unwrap();
        assert!(
            store
                .write(|tx| tx.install_compaction(doc, &compaction))
                .unwrap()
        );
        assert_eq!(uncompacted(&store), 0);
        assert!(store.due_for_compaction(10).unwrap().is_empty());
        let mut stored = store.load(doc).unwrap().unwrap();
        assert_eq!(stored.get_heads(), document.get_heads());
        assert_eq!(
            Record::read(&stored).unwrap().notes().unwrap().len(),
            super::COMPACT_AFTER as usize + 1
        );
    }

    /// The office's (and a tablet's own) edits are bounded like devices' pushes: an edit that
    /// would take a document past its size limit is refused with the reason, and nothing of it
    /// is stored.
    #[test]
    fn a_local_edit_past_the_document_size_limit_is_refused_with_the_reason() {
        use fieldsync_protocol::validate::MAX_DOCUMENT_BYTES;
        let mut store = Store::open_in_memory().unwrap();
        let (doc, mut document) = create(
            &mut store,
            &writer(Role::Office, "Dana"),
            &Record::new_account(account("Acme")),
        );
        let heads = crate::fixtures::heads(&store, doc);
        let big = vec![7u8; MAX_DOCUMENT_BYTES as usize];
        let change = crate::fixtures::tamper(&mut document, &["attachment"], big);
        let tx = store.transaction().unwrap();
        let error = tx
            .record_local(doc, &mut document, &change, false)
            .unwrap_err();
        drop(tx);
        assert!(
            error.to_string().contains(&format!(
                "more than the {MAX_DOCUMENT_BYTES} one document may hold"
            )),
            "{error}"
        );
        assert_eq!(crate::fixtures::heads(&store, doc), heads, "nothing stored");
    }

    #[test]
    fn damaged_bytes_give_a_corrupt_error_naming_the_document() {
        let mut store = Store::open_in_memory().unwrap();
        let (doc, mut document) = create(
            &mut store,
            &writer(Role::Office, "Dana"),
            &Record::new_account(account("Acme")),
        );
        let good = document.save();
        let mut damaged = vec![good[..good.len() / 2].to_vec(), b"garbage".to_vec()];
        for at in (0..good.len()).step_by(7) {
            let mut flipped = good.clone();
            flipped[at] ^= 0x5a;
            damaged.push(flipped);
        }
        set(&store, "UPDATE changes SET bytes = NULL", &[]);
        for bytes in &damaged {
            set(&store, "UPDATE documents SET snapshot = ?1", bytes);
            match store.load(doc) {
                Err(StoreError::Corrupt(message)) => {
                    assert!(message.contains(&doc.to_string()), "{message}")
                }
                Ok(_) => panic!("damaged snapshot loaded"),
                Err(other) => panic!("unexpected error {other}"),
            }
        }
        set(&store, "UPDATE documents SET snapshot = ?1", b"garbage");
        assert!(matches!(store.record(doc), Err(StoreError::Corrupt(_))));

        set(&store, "UPDATE documents SET snapshot = NULL", &[]);
        set(&store, "UPDATE changes SET bytes = ?1", b"not a change");
        let error = store.load(doc).err().unwrap();
        assert!(
            matches!(&error, StoreError::Corrupt(m) if m.contains("change 1")),
            "{error}"
        );

        set(&store, "UPDATE changes SET bytes = ?1", &good);
        set(&store, "UPDATE documents SET snapshot = NULL", &[]);
        assert!(
            matches!(store.load(doc), Err(StoreError::Corrupt(_))),
            "a document is not a change"
        );
    }
}
