//! One server per database: `serve` holds an exclusive lock on `<db>.lock` while it runs, so a
//! second server on the same file, or a `restore` over a running server's database, is refused
//! with a clear message instead of damaging it. The operating system releases the lock when the
//! process ends, however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The lock held while serving a database; released when dropped.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
}

/// Why the database could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock: a server is running on the database.
    #[error("a fieldsync-server is running on {db} (it holds {lock}); stop it first")]
    InUse {
        /// The database.
        db: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file cannot be created or locked.
    #[error("cannot lock {lock}: {source}")]
    Io {
        /// The lock file.
        lock: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// The lock file of the database at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push(".lock");
    PathBuf::from(path)
}

/// Takes the database's lock, or says who holds it.
pub fn lock_database(db: &Path) -> Result<DatabaseLock, LockError> {
    let lock = lock_path(db);
    let io = |source| LockError::Io {
        lock: lock.clone(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(DatabaseLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(LockError::InUse {
            db: db.to_owned(),
            lock,
        }),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fieldsync.sqlite3");
        let first = lock_database(&db).unwrap();
        let err = lock_database(&db).unwrap_err();
        assert!(matches!(err, LockError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("stop it first"), "{err}");
        drop(first);
        lock_database(&db).unwrap();
    }
}
