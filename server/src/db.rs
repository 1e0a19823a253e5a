//! The server's handle on its SQLite file: the replica store of `fieldsync-store`, opened (and
//! its migrations applied) at startup, reached from async code only through [`Db::run`].

use fieldsync_protocol::wire::Lineage;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fieldsync_store::{Store, StoreError};

use crate::assignments::Assignments;

/// Why the database could not be opened or queried.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The file could not be opened or created, or it is not an SQLite database.
    #[error("cannot open database {}", path.display())]
    Open {
        /// The path that was given.
        path: PathBuf,
        /// What the store said.
        #[source]
        source: Box<StoreError>,
    },
    /// The database is damaged (SQLite's integrity check found problems, or SQLite reported
    /// corruption while opening it): the server does not start on it.
    #[error(
        "database {} is damaged ({problems}); the server will not start on it. Keep the file \
         for inspection, then put the latest backup in its place: `fieldsync-server restore \
         --from BACKUP --db {}` (or restore the Litestream replica and then that, see the \
         README); tablets give back what the backup lacks on their next sync",
        path.display(),
        path.display()
    )]
    Damaged {
        /// The database.
        path: PathBuf,
        /// What SQLite found.
        problems: String,
    },
    /// A statement failed on an open connection.
    #[error("database query failed")]
    Query(#[from] rusqlite::Error),
    /// The store refused or failed an operation.
    #[error("store operation failed")]
    Store(#[source] Box<StoreError>),
    /// The disk (or the database's size limit) is full: nothing of the write was stored.
    /// Reads go on; writes are tried again as they come and succeed once there is room.
    #[error("the server's disk is full: nothing was saved ({0})")]
    StorageFull(String),
    /// The work given to the database panicked: its transaction was rolled back, and the
    /// connection serves the next request (a bug, reported for the one request that hit it).
    #[error("the database work failed: {0}")]
    Panicked(String),
    /// The server is shutting down and no longer takes writes.
    #[error("the database is closing")]
    Closed,
    /// A group commit failed; nothing of it was stored.
    #[error("commit failed: {0}")]
    Commit(String),
    /// One pushed batch failed in its group commit (rolled back alone; the others were
    /// stored): nothing of it was stored.
    #[error("the batch could not be stored: {0}")]
    BatchFailed(String),
    /// The blocking task running the query panicked or was cancelled.
    #[error("database task did not complete")]
    Task(#[from] tokio::task::JoinError),
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        DbError::Store(Box::new(e))
    }
}

/// Reader connections beside the writer.
const READERS: usize = 2;
/// How much of the database file each reader maps (see [`Store::map_for_reading`]).
const READER_MAP: i64 = 1 << 30;

/// The replica store, shared by all requests.
///
/// Cheap to clone. Async code reaches the connection only through [`Db::run`], which locks it
/// on a blocking thread, so the lock is never held across an `.await`.
#[derive(Debug, Clone)]
pub struct Db {
    path: Arc<Path>,
    epoch: u64,
    latest_at_open: (u64, Lineage),
    conn: Arc<Mutex<Store>>,
    /// Whose assignments the writer's commits changed.
    assignments: Arc<Assignments>,
    /// Connections for catch-up reads, so that sending changes to many devices never waits for
    /// (or holds up) the writer: SQLite in WAL mode reads beside a writer.
    readers: Arc<[Mutex<Store>]>,
    /// Why the last write failed for lack of space, until a write succeeds again.
    full: Arc<Mutex<Option<String>>>,
}

impl DbError {
    /// Whether this is SQLite (or the file system) saying there is no room to write.
    pub fn is_storage_full(&self) -> bool {
        fn sqlite_full(e: &rusqlite::Error) -> bool {
            matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
        }
        match self {
            DbError::StorageFull(_) => true,
            DbError::Query(e) => sqlite_full(e),
            DbError::Store(e) => e.is_disk_full(),
            _ => false,
        }
    }
}

/// Runs `f` on the store behind `conn`, so that a panic in it fails only this request: the
/// panic is caught and turned into [`DbError::Panicked`], the transaction it had open was rolled
/// back as it unwound (documents cached by the store are only used at the heads stored on
/// disk), and a lock poisoned by it is taken over.
fn contained<T>(
    conn: &Mutex<Store>,
    f: impl FnOnce(&mut Store) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let mut store = conn.lock().unwrap_or_else(|poisoned| {
        conn.clear_poison();
        poisoned.into_inner()
    });
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut store))) {
        Ok(result) => result,
        Err(panic) => {
            let why = fieldsync_store::panic_message(panic.as_ref());
            tracing::error!(panic = %why, "database work panicked; its transaction was rolled back");
            Err(DbError::Panicked(why))
        }
    }
}

/// A write-ahead log longer than this (pages; 64 MiB of 4 KiB pages) is started again from its
/// beginning once all of it is in the database file. The file keeps its size (it is written over
/// again): truncating it cost the writer 30 to 80 ms each time, every two seconds on a busy
/// server, the worst of its commit times.
const WAL_RESTART_PAGES: i64 = 16_384;
/// How long a restart waits for readers still using the log (the writer waits meanwhile):
/// short, since the next try is [`CHECKPOINT_EVERY`] away and reads are short.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(5);

/// What SQLite said when `error` is its report of a damaged database file.
fn corruption(error: &StoreError) -> Option<String> {
    match error {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, message))
            if e.code == rusqlite::ErrorCode::DatabaseCorrupt =>
        {
            Some(message.clone().unwrap_or_else(|| e.to_string()))
        }
        _ => None,
    }
}

/// How often the write-ahead log is checkpointed.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Checkpoints the write-ahead log on its own connection and thread, so that the writer's
/// commits (and their acknowledgements) never wait for one; stops when the database is closed.
fn start_checkpointer(store: Store, writer: std::sync::Weak<Mutex<Store>>) {
    let spawned = std::thread::Builder::new()
        .name("wal-checkpoint".into())
        .spawn(move || {
            while writer.strong_count() > 0 {
                std::thread::sleep(CHECKPOINT_EVERY);
                match store.checkpoint() {
                    // All of a long log is in the database file: start it again from its beginning.
                    Ok((log, done)) if log > WAL_RESTART_PAGES && done == log => {
                        if let Err(e) = store.checkpoint_restart(RESTART_WAIT) {
                            tracing::warn!(error = %e, "write-ahead log restart failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "write-ahead log checkpoint failed"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the checkpoint thread");
    }
}

impl Db {
    /// Opens the database at `path`, creating the file if it does not exist.
    ///
    /// Fails if the file cannot be created (for example, its directory is missing) or if it
    /// exists but is not an SQLite database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DbError> {
        let path = path.as_ref();
        let open_error = |source| DbError::Open {
            path: path.to_owned(),
            source,
        };
        // Opening reads and migrates the schema, so a file that is not a database (or a
        // database from elsewhere) fails here, at startup, rather than on the first request.
        let damaged = |problems: String| DbError::Damaged {
            path: path.to_owned(),
            problems,
        };
        let mut conn = Store::open(path).map_err(|e| match corruption(&e) {
            Some(problems) => damaged(problems),
            None => open_error(Box::new(e)),
        })?;
        // At start, every page is read once: a damaged database is refused here, not found
        // out by the first request that reaches the damage.
        let problems = conn.quick_check().map_err(|e| match corruption(&e) {
            Some(problems) => damaged(problems),
            None => open_error(Box::new(e)),
        })?;
        if !problems.is_empty() {
            return Err(damaged(problems.join("; ")));
        }
        conn.disable_auto_checkpoint()
            .map_err(|e| open_error(Box::new(e)))?;
        // Compaction re-saves a whole document: done off the commits (`housekeeping::compact`).
        conn.defer_compaction();
        let epoch = conn.epoch().map_err(|e| open_error(Box::new(e)))?;
        let latest_at_open = conn.latest_lineage().map_err(|e| open_error(Box::new(e)))?;
        conn.watch_assignments()
            .map_err(|e| open_error(Box::new(e)))?;
        let checkpointer = Store::open(path).map_err(|e| open_error(Box::new(e)))?;
        let conn = Arc::new(Mutex::new(conn));
        start_checkpointer(checkpointer, Arc::downgrade(&conn));
        Ok(Self {
            path: path.into(),
            epoch,
            latest_at_open,
            conn,
            assignments: Arc::default(),
            readers: (0..READERS)
                .map(|_| {
                    let reader = Store::open(path)?;
                    reader.map_for_reading(READER_MAP)?;
                    Ok(Mutex::new(reader))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| open_error(Box::new(e)))?
                .into(),
            full: Arc::default(),
        })
    }

    /// The database's epoch: its random name, which device cursors carry.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The latest change sequence number when the database was opened, and its lineage.
    pub fn latest_at_open(&self) -> (u64, Lineage) {
        self.latest_at_open
    }

    /// The path the database was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the writer connection on tokio's blocking pool and returns its result.
    /// Before it returns, whose assignments `f` changed is noted in [`Db::assignments`].
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, DbError> + Send + 'static,
    {
        let (conn, assignments) = (Arc::clone(&self.conn), Arc::clone(&self.assignments));
        let full = Arc::clone(&self.full);
        tokio::task::spawn_blocking(move || {
            // Whether the work wrote anything, read under the same lock.
            let wrote = |store: &mut Store| {
                let before = store.conn().total_changes();
                f(store).map(|value| (value, store.conn().total_changes() != before))
            };
            let result = match contained(&conn, wrote) {
                Err(e) if e.is_storage_full() => {
                    // SQLite's own words ("database or disk is full").
                    let mut why = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(cause) = source {
                        why = cause.to_string();
                        source = cause.source();
                    }
                    tracing::error!(error = %why, "write refused: the disk is full");
                    *full.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                    Err(DbError::StorageFull(why))
                }
                // Something was written: there is room again.
                Ok((value, true)) => {
                    let was = full.lock().unwrap_or_else(|p| p.into_inner()).take();
                    if was.is_some() {
                        tracing::info!("writes succeed again: the disk has room");
                    }
                    Ok(value)
                }
                Ok((value, false)) => Ok(value),
                Err(e) => Err(e),
            };
            let changed = contained(&conn, |store| Ok(store.take_assignment_changes()?));
            match changed {
                Ok(users) => assignments.note(users),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot tell whose assignments changed: every technician's scope is read again");
                    assignments.note_everyone();
                }
            }
            result
        })
        .await?
    }

    /// Runs `f` on the writer right away, blocking: only while the server starts, before any
    /// request.
    pub(crate) fn at_start<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.conn.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Why the last write failed for lack of space, while no write has succeeded since.
    pub fn storage_full(&self) -> Option<String> {
        self.full.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Test and operator hook: caps the database at its current size plus `pages` pages
    /// (SQLite's `max_page_count`, on the writer), as a full disk would; `None` lifts the cap.
    pub async fn cap_size(&self, pages: Option<i64>) -> Result<(), DbError> {
        self.run(move |store| {
            let cap = match pages {
                Some(extra) => {
                    let count: i64 = store
                        .conn()
                        .query_row("PRAGMA page_count", [], |row| row.get(0))?;
                    count + extra
                }
                None => 4_294_967_294,
            };
            store
                .conn()
                .query_row(&format!("PRAGMA max_page_count = {cap}"), [], |row| {
                    row.get::<_, i64>(0)
                })?;
            Ok(())
        })
        .await
    }

    /// Whose assignments changed, and when (see [`Assignments`]).
    pub fn assignments(&self) -> &Assignments {
        &self.assignments
    }

    /// Runs `f`, which must only read, with one of the reader connections.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, DbError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            // Take the first free reader, else wait for the first.
            let free = readers
                .iter()
                .position(|r| !r.is_poisoned() && r.try_lock().is_ok());
            contained(&readers[free.unwrap_or(0)], f)
        })
        .await?
    }

    /// Checks that the database answers a query of one of its tables.
    pub async fn ping(&self) -> Result<(), DbError> {
        // A real table, which every store has.
        self.run(|store| {
            Ok(store
                .conn()
                .query_row("SELECT count(*) FROM meta", [], |row| row.get::<_, i64>(0))?)
        })
        .await?;
        Ok(())
    }

    /// Damages the database as a test needs it: drops `table`, so that every query of it
    /// fails from now on.
    #[cfg(test)]
    pub(crate) async fn drop_table(&self, table: &'static str) {
        self.run(move |store| Ok(store.conn().execute_batch(&format!("DROP TABLE {table}"))?))
            .await
            .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_creates_the_file_and_ping_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.sqlite3");
        assert!(!path.exists());

        let db = Db::open(&path).unwrap();

        assert!(path.exists());
        assert_eq!(db.path(), path);
        db.ping().await.unwrap();
    }

    #[test]
    fn open_fails_when_the_directory_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("db.sqlite3");

        let err = Db::open(&path).unwrap_err();

        assert!(matches!(&err, DbError::Open { path: p, .. } if *p == path));
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn open_fails_on_a_file_that_is_not_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "plain text, not SQLite\n".repeat(100)).unwrap();

        let err = Db::open(&path).unwrap_err();

        assert!(matches!(err, DbError::Open { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn run_returns_the_closure_result_and_its_errors() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("db.sqlite3")).unwrap();

        let sum: i64 = db
            .run(|store| {
                Ok(store
                    .conn()
                    .query_row("SELECT 2 + 3", [], |row| row.get(0))?)
            })
            .await
            .unwrap();
        assert_eq!(sum, 5);

        let err = db
            .run(|store| Ok(store.conn().execute("NOT SQL AT ALL", [])?))
            .await
            .unwrap_err();
        assert!(matches!(err, DbError::Query(_)), "{err:?}");
    }

    #[tokio::test]
    async fn ping_fails_once_the_database_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("db.sqlite3")).unwrap();

        db.drop_table("meta").await;

        assert!(matches!(db.ping().await, Err(DbError::Query(_))));
    }

    #[tokio::test]
    async fn a_panic_in_database_work_fails_that_request_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("db.sqlite3")).unwrap();
        for _ in 0..2 {
            let err = db
                .run(|store| -> Result<(), DbError> {
                    let tx = store.transaction()?;
                    tx.conn().execute_batch("CREATE TABLE half_done (x)")?;
                    panic!("a bug in the middle of a transaction");
                })
                .await
                .unwrap_err();
            assert!(
                matches!(err, DbError::Panicked(ref why) if why.contains("a bug")),
                "{err:?}"
            );
            let read = db.read(|_| -> Result<(), DbError> { panic!("a bug in a read") });
            assert!(matches!(read.await, Err(DbError::Panicked(_))));
        }
        // The writer and the readers go on, and the half-done transaction was rolled back.
        db.ping().await.unwrap();
        let tables: i64 = db
            .read(|store| {
                Ok(store.conn().query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'",
                    [],
                    |row| row.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(tables, 0);
    }
}
