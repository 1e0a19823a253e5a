//! The change log, kept: entries written when a change is stored and read back newest first,
//! page by page (`migrations/0008_change_log.sql`). Viewing a record never walks its history.

use fieldsync_protocol::changelog::{self, ChangeEntry};
use fieldsync_protocol::{Author, DocId, Timestamp};
use rusqlite::{Connection, Transaction, params};

use crate::Result;

/// An entry of the log with its position, for asking for the entries before it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Logged {
    /// Its position in the log (larger is newer).
    pub id: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: ChangeEntry,
}

/// Whether an entry only says that an object was added (a note, a photo) or that a document
/// was made (its kind and account): those show as themselves, and are not kept in the log.
fn is_addition(entry: &ChangeEntry) -> bool {
    entry.from.is_none()
        && (entry
            .to
            .as_deref()
            .is_some_and(|to| to.starts_with("(new "))
            || entry.field == "kind"
            || entry.field == "account")
}

/// Appends `entries` to the log of `doc`, but for those that only add an object.
pub(crate) fn insert(tx: &Connection, doc: DocId, entries: &[ChangeEntry]) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO change_log (doc, at, author, field, from_value, to_value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for entry in entries.iter().filter(|e| !is_addition(e)) {
        let author = entry
            .author
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        insert.execute(params![
            doc.as_bytes(),
            entry.at.map(|t| t.millis()),
            author,
            entry.field,
            entry.from,
            entry.to,
        ])?;
    }
    Ok(())
}

/// Drops the log of `doc`.
pub(crate) fn delete(tx: &Transaction<'_>, doc: DocId) -> Result<()> {
    tx.prepare_cached("DELETE FROM change_log WHERE doc = ?1")?
        .execute([doc.as_bytes()])?;
    Ok(())
}

/// At most `limit` entries of the log of `doc` that change a field (not the additions of
/// objects), newest first, older than the entry `before` if given.
pub(crate) fn page(
    conn: &Connection,
    doc: DocId,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Logged>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, author, field, from_value, to_value FROM change_log
         WHERE doc = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![
            doc.as_bytes(),
            before.unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |row| {
            let author: Option<String> = row.get(2)?;
            Ok(Logged {
                id: row.get(0)?,
                entry: ChangeEntry {
                    at: row
                        .get::<_, Option<i64>>(1)?
                        .and_then(Timestamp::from_millis),
                    author: author.and_then(|a| serde_json::from_str::<Author>(&a).ok()),
                    field: row.get(3)?,
                    from: row.get(4)?,
                    to: row.get(5)?,
                },
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Fills the log of every document of a database made before the log was kept, from each
/// document's history (the migration's hook; it runs once, in the migration's transaction).
pub(crate) fn fill_from_history(tx: &rusqlite::Transaction<'_>) -> rusqlite_migration::HookResult {
    let docs: Vec<Vec<u8>> = tx
        .prepare("SELECT id FROM documents")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in docs {
        let Ok(doc) = DocId::from_slice(&id) else {
            continue;
        };
        // A document that cannot be loaded has no history to show; the migration goes on.
        let Ok(Some(mut document)) = crate::documents::load(tx, doc) else {
            continue;
        };
        let entries = changelog::change_log(&mut document);
        insert(tx, doc, &entries).map_err(|e| {
            rusqlite_migration::HookError::Hook(format!("filling the change log: {e}"))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{JobStatus, Record, Role};
    use rusqlite::Connection;

    use super::*;
    use crate::fixtures::*;
    use crate::{CheckedOutcome, Origin, Store};

    /// `count` edits of the server's job, each changing its title (and every hundredth its
    /// status too, which also writes a system note), pushed by the office one at a time through the checks, as the server stores them.
    fn edit_job(store: &mut Store, doc: DocId, document: &mut automerge::AutoCommit, count: usize) {
        let office = writer(Role::Office, "Dana");
        for i in 0..count {
            let change = edit(document, &office, |r| {
                if let Record::Job(j) = r {
                    j.record.title = format!("Boiler service, visit {i}");
                    if i % 100 == 99 {
                        j.record.status = if j.record.status == JobStatus::Scheduled {
                            JobStatus::OnSite
                        } else {
                            JobStatus::Scheduled
                        };
                    }
                }
            });
            let tx = store.transaction().unwrap();
            let outcome = tx
                .apply_checked(doc, change.raw_bytes(), Role::Office, Origin(2))
                .unwrap();
            tx.commit().unwrap();
            assert!(matches!(outcome, CheckedOutcome::Stored(_)), "{outcome:?}");
        }
    }

    /// Every entry of a document's log, newest first, read page by page.
    fn whole_log(store: &Store, doc: DocId, page: usize) -> Vec<Logged> {
        let mut all: Vec<Logged> = Vec::new();
        loop {
            let before = all.last().map(|e| e.id);
            let next = store.change_log(doc, before, page).unwrap();
            assert!(next.len() <= page);
            if next.is_empty() {
                return all;
            }
            all.extend(next);
        }
    }

    #[test]
    fn the_log_of_a_5000_change_document_pages_newest_first_without_gaps() {
        let mut server = Company::harbor_alone();
        let (doc, mut document) = server.job.clone();
        edit_job(&mut server.store, doc, &mut document, 5_000);
        let log = whole_log(&server.store, doc, 128);
        // One title entry per change and a status entry every hundredth (the creation and the
        // system notes' additions are no entries: they show as themselves).
        assert_eq!(log.len(), 5_000 + 50);
        assert!(log.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        assert_eq!(log[0].entry.field, "record.title");
        assert_eq!(
            log[0].entry.from.as_deref(),
            Some("Boiler service, visit 4998")
        );
        assert_eq!(
            log[0].entry.to.as_deref(),
            Some("Boiler service, visit 4999")
        );
        assert_eq!(log[1].entry.field, "record.status");
        assert_eq!(log[0].entry.author.as_ref().unwrap().name, "Dana");
        let last = &log[log.len() - 1];
        assert_eq!(last.entry.to.as_deref(), Some("Boiler service, visit 0"));
        assert_eq!(
            server.store.change_log(doc, Some(log[0].id), 3).unwrap(),
            log[1..4]
        );
    }

    #[test]
    fn migrating_a_database_made_before_the_log_was_kept_fills_it_from_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        let (job, account, kept) = {
            let mut server = Company::harbor_alone();
            let (doc, mut document) = server.job.clone();
            edit_job(&mut server.store, doc, &mut document, 120);
            let kept = whole_log(&server.store, doc, 50);
            server
                .store
                .conn()
                .execute("VACUUM INTO ?1", [path.to_str().unwrap()])
                .unwrap();
            (doc, server.account, kept)
        };
        // The database as the release before the log left it: no table, schema version 7.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "DROP TABLE change_log; DROP INDEX notes_doc_time; DROP INDEX photos_doc_time;
                 DROP INDEX jobs_start; DROP INDEX accounts_merged_into;
                 ALTER TABLE changes DROP COLUMN lineage;
                 DROP TABLE attested; DROP TABLE attest_pending; DROP TABLE attested_docs;
                 DROP TABLE office_sessions;
                 ALTER TABLE pairing DROP COLUMN tls_fingerprint;
                 DROP INDEX invoices_number;
                 DROP TABLE alerts; DROP TABLE contact_log; DROP TABLE files;
                 DROP TRIGGER sites_search_insert; DROP TRIGGER sites_search_delete;
                 DROP TABLE site_search; ALTER TABLE sites DROP COLUMN search;
                 DROP INDEX blobs_unnamed; DROP INDEX blobs_unnamed_by_device;
                 ALTER TABLE blobs DROP COLUMN device; ALTER TABLE blobs DROP COLUMN at;
                 ALTER TABLE blobs DROP COLUMN named;
                 DROP INDEX photos_full_hash; DROP INDEX photos_thumb_hash;
                 DROP INDEX invoices_signature;
                 DROP INDEX quarantine_device; DROP INDEX quarantine_at;
                 DROP TABLE actors; DROP INDEX documents_compaction_due;
                 PRAGMA user_version = 7;",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let filled = whole_log(&store, job, 50);
        assert_eq!(filled.len(), kept.len(), "every entry is back");
        assert!(filled.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        let strip =
            |log: &[Logged]| -> Vec<ChangeEntry> { log.iter().map(|l| l.entry.clone()).collect() };
        let (filled, kept) = (strip(&filled), strip(&kept));
        if let Some(i) = (0..kept.len()).find(|&i| filled[i] != kept[i]) {
            panic!(
                "entry {i} differs: filled {:?}, kept {:?}",
                filled[i], kept[i]
            );
        }
        // Nothing else was changed: the account's log is empty (its creation is no entry).
        assert!(whole_log(&store, account.into(), 50).is_empty());
    }
}
