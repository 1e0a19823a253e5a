//! Consistent copies of a live database: SQLite's online backup API, from a read transaction,
//! so that writers go on while it copies.

use std::path::Path;

use rusqlite::Connection;
use rusqlite::backup::Backup;

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
        // Numbers this database hands out (its own invoice numbers) may have been handed out
        // after the backup was taken: they start again well past anything it may have used.
        dst.execute(
            "UPDATE meta SET value = value + ?1 WHERE key LIKE 'counter:%'",
            [RESTORED_COUNTER_GAP],
        )?;
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
