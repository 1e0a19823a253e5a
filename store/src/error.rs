//! The store's error type.

use fieldsync_protocol::{DocId, DocumentError, UserId};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (I/O, a full disk, a busy database, a broken constraint).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A document or change could not be read or written as a Fieldsync record.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// Stored bytes cannot be loaded (a damaged snapshot or change row); names the document.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// Automerge data handed to [`crate::StoreTx::apply`] cannot be parsed; nothing was stored.
    #[error("automerge data for document {doc} cannot be read: {reason}")]
    InvalidData {
        /// The document the data was for.
        doc: DocId,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read or written (a backup, a restore).
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
    /// A projection row could not be encoded or decoded as JSON.
    #[error("projection JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// [`crate::StoreTx::add_user`]: a user already has this name (names are unique
    /// regardless of case); nothing was written.
    #[error("a user named {name:?} already exists")]
    NameTaken {
        /// The existing user's name, as stored.
        name: String,
    },
    /// [`crate::StoreTx::add_device`]: there is no user with this id; nothing was written.
    #[error("no user with id {0}")]
    UnknownUser(UserId),
}

/// Result of a store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

impl From<rusqlite::types::FromSqlError> for StoreError {
    /// A column holds a value of the wrong type: the database was not written by this store.
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        StoreError::Corrupt(format!("unexpected column value: {e}"))
    }
}

impl StoreError {
    /// Whether SQLite (or the file system) said there is no room to write.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::DiskFull
            }
            StoreError::Io(e) => e.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

/// What a caught panic said (its message, when it carried one).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
