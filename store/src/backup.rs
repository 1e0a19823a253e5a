//! Consistent copies of a live database: SQLite's online backup API, from a read transaction,
//! so that writers go on while it copies.

use std::path::Path;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OptionalExtension};

use crate::{Result, Store};

/// What [`Store::backup_to`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// Size of the copy in bytes.
    pub bytes: u64,
    /// The change sequence the copy holds up to.
    pub latest_seq: u64,
}

impl Store {
    /// Copies this database, as of one moment, to `to`, which must not exist: the copy is
    /// written beside it under a temporary name, checked, and only then renamed to `to`, so a
    /// failed backup never leaves a partial file under that name.
    pub fn backup_to(&self, to: &Path) -> Result<BackupSummary> {
        if to.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} already exists; a backup never overwrites a file",
                    to.display()
                ),
            )
            .into());
        }
        let mut partial = to.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let _ = std::fs::remove_file(&partial);
        let copied = (|| {
            let mut dst = Connection::open(&partial)?;
            // All pages in one step: one read transaction, so the copy is of one moment even
            // while the server commits (a WAL reader never blocks the writer).
            Backup::new(&self.conn, &mut dst)?.run_to_completion(
                i32::MAX,
                std::time::Duration::ZERO,
                None,
            )?;
            let check: String = dst.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
            if check != "ok" {
                return Err(crate::StoreError::Corrupt(format!(
                    "the backup does not pass SQLite's check: {check}"
                )));
            }
            let latest_seq = crate::changes::latest_seq(&dst)?;
            dst.close().map_err(|(_, e)| e)?;
            Ok(latest_seq)
        })();
        let latest_seq = match copied {
            Ok(seq) => seq,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        std::fs::rename(&partial, to)?;
        let bytes = std::fs::metadata(to)?.len();
        Ok(BackupSummary { bytes, latest_seq })
    }
}

/// How far [`restore`] moves the database's own counters (invoice numbers) on: more than a
/// server issues between two nightly backups.
pub const RESTORED_COUNTER_GAP: i64 = 10_000;

/// Puts the backup at `from` in place of the database at `to`, which no process may have open
/// (the caller makes sure the server is stopped). The backup is checked with SQLite's
/// `quick_check` and copied beside `to` first; then the old database's write-ahead log and
/// shared-memory index are removed (applied to the restored file they would damage it) and
/// the copy is renamed over `to`. Returns what the restored database holds.
pub fn restore(from: &Path, to: &Path) -> Result<BackupSummary> {
    use rusqlite::OpenFlags;
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let check: String = source.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        return Err(crate::StoreError::Corrupt(format!(
            "{} does not pass SQLite's check ({check}); nothing was restored",
            from.display()
        )));
    }
    let latest_seq = crate::changes::latest_seq(&source)?;
    let beside = |suffix: &str| {
        let mut path = to.as_os_str().to_owned();
        path.push(suffix);
        std::path::PathBuf::from(path)
    };
    let restoring = beside(".restoring");
    let _ = std::fs::remove_file(&restoring);
    let copied = (|| {
        let mut dst = Connection::open(&restoring)?;
        Backup::new(&source, &mut dst)?.run_to_completion(
            i32::MAX,
            std::time::Duration::ZERO,
            None,
        )?;
        // Numbers this database hands out (its own invoice numbers, device numbers) may have
        // been handed out after the backup was taken, even by a database itself restored from
        // this backup: they start again well past anything either may have used.
        let replaced = counters_of(to);
        for name in crate::meta::COUNTERS {
            let key = format!("counter:{name}");
            let ours: i64 = dst
                .query_row("SELECT value FROM meta WHERE key = ?1", [&key], |row| {
                    row.get(0)
                })
                .optional()?
                .unwrap_or(0);
            let theirs = replaced.get(&key).copied().unwrap_or(0);
            dst.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                rusqlite::params![key, ours.max(theirs) + RESTORED_COUNTER_GAP],
            )?;
        }
        dst.close().map_err(|(_, e)| e)?;
        std::fs::File::open(&restoring)?.sync_all()?;
        Ok::<_, crate::StoreError>(())
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&restoring);
        return Err(e);
    }
    for log in [beside("-wal"), beside("-shm")] {
        match std::fs::remove_file(&log) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    std::fs::rename(&restoring, to)?;
    let bytes = std::fs::metadata(to)?.len();
    Ok(BackupSummary { bytes, latest_seq })
}

/// The counters of the database a restore replaces, when it is there and readable (a disk that
/// died leaves nothing to read: the backup's own counters and the gap must do).
fn counters_of(path: &Path) -> std::collections::HashMap<String, i64> {
    use rusqlite::OpenFlags;
    let read = || -> rusqlite::Result<std::collections::HashMap<String, i64>> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut out: std::collections::HashMap<String, i64> = conn
            .prepare("SELECT key, value FROM meta WHERE key LIKE 'counter:%'")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let devices: i64 =
            conn.query_row("SELECT COALESCE(MAX(number), 0) FROM devices", [], |row| {
                row.get(0)
            })?;
        let known = out.entry("counter:device_number".into()).or_default();
        *known = (*known).max(devices);
        Ok(out)
    };
    if path.exists() {
        read().unwrap_or_default()
    } else {
        Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_database_hands_out_no_number_it_may_have_handed_out_since_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let (live, copy) = (dir.path().join("live.db"), dir.path().join("copy.db"));
        let mut store = Store::open(&live).unwrap();
        // The backup has used account numbers but no invoice number yet.
        let tx = store.transaction().unwrap();
        assert_eq!(tx.next_counter("account_number").unwrap(), 1);
        tx.commit().unwrap();
        store.backup_to(&copy).unwrap();
        let tx = store.transaction().unwrap();
        assert_eq!(
            tx.next_counter("invoice").unwrap(),
            1,
            "handed out, then lost"
        );
        assert_eq!(tx.next_counter("account_number").unwrap(), 2);
        tx.commit().unwrap();
        drop(store);

        restore(&copy, &live).unwrap();
        let mut store = Store::open(&live).unwrap();
        let tx = store.transaction().unwrap();
        let gap = RESTORED_COUNTER_GAP as u64;
        // Past the replaced database's numbers, not only the backup's.
        assert_eq!(tx.next_counter("invoice").unwrap(), gap + 2);
        assert_eq!(tx.next_counter("account_number").unwrap(), gap + 3);
        tx.commit().unwrap();
        drop(store);

        // The same backup once more (the restored server died before a newer one was taken):
        // still past what the first restore handed out.
        restore(&copy, &live).unwrap();
        let mut store = Store::open(&live).unwrap();
        let tx = store.transaction().unwrap();
        assert_eq!(tx.next_counter("invoice").unwrap(), 2 * gap + 3);
    }

    #[test]
    fn a_device_paired_after_the_backup_keeps_a_number_no_other_device_gets() {
        let dir = tempfile::tempdir().unwrap();
        let (live, copy) = (dir.path().join("live.db"), dir.path().join("copy.db"));
        let mut store = Store::open(&live).unwrap();
        let tx = store.transaction().unwrap();
        let tech = tx
            .add_user("tech", fieldsync_protocol::Role::Technician, None)
            .unwrap();
        assert_eq!(tx.add_device(tech.id, "first", [1; 32]).unwrap().number, 1);
        tx.commit().unwrap();
        store.backup_to(&copy).unwrap();
        let tx = store.transaction().unwrap();
        assert_eq!(tx.add_device(tech.id, "lost", [2; 32]).unwrap().number, 2);
        tx.commit().unwrap();
        drop(store);

        restore(&copy, &live).unwrap();
        let mut store = Store::open(&live).unwrap();
        let tx = store.transaction().unwrap();
        let number = tx.add_device(tech.id, "next", [3; 32]).unwrap().number;
        assert_eq!(number, 2 + RESTORED_COUNTER_GAP + 1);
    }

    #[test]
    fn a_damaged_backup_is_not_restored_and_the_database_is_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let (live, copy) = (dir.path().join("live.db"), dir.path().join("copy.db"));
        drop(Store::open(&live).unwrap());
        std::fs::write(&copy, b"not a database at all, just some bytes").unwrap();
        let before = std::fs::read(&live).unwrap();
        assert!(restore(&copy, &live).is_err());
        assert_eq!(std::fs::read(&live).unwrap(), before);
    }
}
