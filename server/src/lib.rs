//! The Fieldsync server: one process in front of one SQLite file.
//!
//! Tablets sync over a WebSocket (`/sync`); office staff use the web page and its JSON API;
//! all over HTTP/1.1, with TLS when configured ([`serving`], [`tls`]). The pieces:
//!
//! - [`AppState`] holds what every request shares: the database handle ([`db::Db`]), group
//!   commit ([`GroupCommit`]), the latest committed sequence number and the changes of the
//!   latest commits ([`recent`]), office sessions ([`sessions`]) and failed sign-ins
//!   ([`sign_in_limits`]), the dispatch boards' live refreshes ([`live_board`]), the
//!   [`metrics`], and the count of open sync connections.
//! - [`router`] builds the axum [`Router`] from the route table (`routes.rs`) and its handlers
//!   under `routes/`: the JSON API (`api.rs`), the office page (`pages.rs` and `pages/`), the
//!   sync endpoint (`sync.rs`, `websocket.rs`), `/healthz` (`health.rs`), `/metrics`
//!   (`metrics.rs`), and the guards every request passes (`guard.rs`). What the API and the
//!   pages do is in [`office`]. JSON handlers fail with [`error::ApiError`]; the pages show
//!   the same errors as an HTML page.
//! - [`serve`] runs the router on a bound listener, in plain HTTP with the default timeouts,
//!   until a shutdown future resolves, then lets in-flight requests and sync connections
//!   finish (at most [`SHUTDOWN_GRACE`]); [`serve_with`] also takes TLS and timeouts
//!   ([`serving::Serving`]).
//!
//! `main.rs` parses [`config::Cli`] and, for `serve`, opens the state, binds and calls
//! [`serve_with`] on [`runtime`]; tests call [`serve`] on `127.0.0.1:0`:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let state = fieldsync_server::AppState::open(dir.path().join("fieldsync.sqlite3"))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(fieldsync_server::serve(listener, state, async {
//!     let _ = stopped.await;
//! }));
//! // ... talk to the server ...
//! let _ = stop.send(());
//! server.await??;
//! # Ok(())
//! # }
//! ```

pub mod assignments;
pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod fanout;
mod group_commit;
pub mod housekeeping;
pub mod live_board;
pub mod lock;
pub mod metrics;
pub mod office;
mod payment_notes;
pub mod recent;
mod routes;
pub mod serving;
pub mod sessions;
pub mod sign_in_limits;
pub mod templates;
pub mod tls;
pub mod zone;

use std::future::Future;
use std::path::Path;

use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::db::{Db, DbError};
pub use crate::group_commit::GroupCommit;

/// What every request handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    db: Db,
    epoch: u64,
    /// The latest committed sequence number; every sync connection watches it.
    latest: Arc<watch::Sender<u64>>,
    /// Set when the server begins shutting down.
    stopping: Arc<watch::Sender<bool>>,
    /// Open sync connections: a shutdown waits for them to say goodbye.
    sync_connections: Arc<watch::Sender<usize>>,
    /// Open sync connections by device number, and the caps ([`AppState::sync_connection`]).
    sync_by_device: Arc<std::sync::Mutex<std::collections::HashMap<i64, usize>>>,
    max_sync_connections: usize,
    commits: GroupCommit,
    metrics: Arc<metrics::Metrics>,
    recent: Arc<recent::Recent>,
    /// The sync connections, by what they see: whom a commit wakes.
    fanout: Arc<fanout::Fanout>,
    sessions: Arc<sessions::Sessions>,
    sign_in_limits: Arc<sign_in_limits::SignInLimits>,
    /// The dispatch boards' live refreshes, shared.
    live_boards: Arc<live_board::LiveBoards>,
    /// How often an open sync connection checks that its device was not revoked.
    revocation_check: std::time::Duration,
}

impl AppState {
    /// Opens (creating if missing) the database at `db_path` and starts the group-commit task
    /// (so it must be called within a tokio runtime).
    ///
    /// Fails, rather than starting a server that cannot answer, if the file cannot be created
    /// or is not a Fieldsync database.
    pub fn open(db_path: impl AsRef<Path>) -> Result<Self, DbError> {
        let db = Db::open(db_path)?;
        let sessions = Arc::new(db.at_start(|store| sessions::Sessions::load(store))?);
        let (epoch, at_open) = (db.epoch(), db.latest_at_open());
        let latest = Arc::new(watch::Sender::new(at_open.0));
        let metrics = Arc::new(metrics::Metrics::default());
        let recent = Arc::new(recent::Recent::new(at_open));
        let fanout = Arc::new(fanout::Fanout::default());
        let commits = GroupCommit::start(
            db.clone(),
            Arc::clone(&latest),
            Arc::clone(&metrics),
            (Arc::clone(&recent), Arc::clone(&fanout)),
        );
        Ok(Self {
            db,
            epoch,
            latest,
            stopping: Arc::new(watch::Sender::new(false)),
            sync_connections: Arc::new(watch::Sender::new(0)),
            sync_by_device: Arc::default(),
            max_sync_connections: DEFAULT_MAX_SYNC_CONNECTIONS,
            commits,
            metrics,
            recent,
            fanout,
            sessions,
            sign_in_limits: Arc::default(),
            live_boards: Arc::default(),
            revocation_check: std::time::Duration::from_secs(15),
        })
    }

    /// The company's time zone as its settings say now (one read on a reader connection, so
    /// a change made with the command line while serving shows at once).
    pub async fn zone(&self) -> Result<zone::Zone, DbError> {
        let company = self.db.read(|store| Ok(store.company()?)).await?;
        Ok(zone::Zone::of(&company))
    }

    /// The database handle.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The database's epoch (its random name, part of every device cursor).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Watches the latest committed sequence number.
    pub fn latest(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Announces a commit made outside group commit.
    pub fn publish(&self, seq: u64) {
        publish(&self.latest, seq);
        // What it changed is not known here: every connection looks.
        self.fanout.wake_all();
    }

    /// The sync connections, by what they see (see [`fanout`]).
    pub fn fanout(&self) -> &Arc<fanout::Fanout> {
        &self.fanout
    }

    /// Watches for the start of shutdown.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Counts a sync connection of device `device` as open until the guard is dropped; or
    /// why it may not open: the device has [`MAX_SYNC_CONNECTIONS_PER_DEVICE`] open already
    /// (a stolen token used beside the tablet, or a buggy app reconnecting in a loop), or
    /// the server carries its most.
    pub fn sync_connection(&self, device: i64) -> Result<SyncConnectionGuard, TooManyConnections> {
        let mut by_device = self
            .sync_by_device
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *self.sync_connections.borrow() >= self.max_sync_connections {
            return Err(TooManyConnections::Server);
        }
        let mine = by_device.entry(device).or_default();
        if *mine >= MAX_SYNC_CONNECTIONS_PER_DEVICE {
            return Err(TooManyConnections::Device);
        }
        *mine += 1;
        self.sync_connections.send_modify(|n| *n += 1);
        Ok(SyncConnectionGuard {
            open: Arc::clone(&self.sync_connections),
            by_device: Arc::clone(&self.sync_by_device),
            device,
        })
    }

    /// Sets the most sync connections open at once (all devices together).
    pub fn with_max_sync_connections(mut self, most: usize) -> Self {
        self.max_sync_connections = most;
        self
    }

    /// The changes of the latest commits, for live sessions.
    pub fn recent(&self) -> &recent::Recent {
        &self.recent
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// A shared handle on the metrics, for tasks that outlive a borrow of the state.
    pub fn metrics_handle(&self) -> Arc<metrics::Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Sets how often an open sync connection checks that its device was not revoked (a
    /// revoked device's open connection is closed within this time).
    pub fn with_revocation_check(mut self, every: std::time::Duration) -> Self {
        self.revocation_check = every;
        self
    }

    /// How often an open sync connection checks that its device was not revoked.
    pub fn revocation_check(&self) -> std::time::Duration {
        self.revocation_check
    }

    /// The signed-in office sessions.
    pub fn sessions(&self) -> &sessions::Sessions {
        &self.sessions
    }

    /// Failed office sign-ins, by name and by address.
    pub fn sign_in_limits(&self) -> &sign_in_limits::SignInLimits {
        &self.sign_in_limits
    }

    /// The dispatch boards' live refreshes.
    pub fn live_boards(&self) -> &live_board::LiveBoards {
        &self.live_boards
    }

    /// The latest committed sequence number now.
    pub fn latest_seq(&self) -> u64 {
        *self.latest.borrow()
    }

    /// Stores pushed batches through group commit.
    pub fn commits(&self) -> &GroupCommit {
        &self.commits
    }
}

/// Raises the latest sequence number to `seq` (never lowers it) and wakes the watchers.
pub(crate) fn publish(latest: &watch::Sender<u64>, seq: u64) {
    latest.send_if_modified(|current| {
        let newer = seq > *current;
        *current = (*current).max(seq);
        newer
    });
}

/// Most threads for blocking database work. The database has one writer and two reader
/// connections, so more threads would only wait for them, and every thread costs memory (its
/// stack, and an allocator arena that keeps what it once held).
pub const BLOCKING_THREADS: usize = 8;

/// The runtime the server runs on: tokio's multi-threaded scheduler with a small blocking
/// pool ([`BLOCKING_THREADS`]).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
}

/// The server's HTTP routes, bound to `state`.
pub fn router(state: AppState) -> Router {
    routes::table(state)
}

/// The default of [`AppState::with_max_sync_connections`].
pub const DEFAULT_MAX_SYNC_CONNECTIONS: usize = 5000;

/// Most sync connections one device may have open at once. More than one, for a tablet
/// whose old connection the server has not yet seen drop when it reconnects.
pub const MAX_SYNC_CONNECTIONS_PER_DEVICE: usize = 3;

/// A device that reads nothing for this long while the server has something to send it is
/// disconnected.
pub const SYNC_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a sync connection may not open now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TooManyConnections {
    /// The device has [`MAX_SYNC_CONNECTIONS_PER_DEVICE`] open already.
    #[error("this device already has {MAX_SYNC_CONNECTIONS_PER_DEVICE} sync connections open")]
    Device,
    /// The server carries as many as it may.
    #[error("the server is carrying as many sync connections as it may")]
    Server,
}

/// An open sync connection, counted until dropped (see [`AppState::sync_connection`]).
#[derive(Debug)]
pub struct SyncConnectionGuard {
    open: Arc<watch::Sender<usize>>,
    by_device: Arc<std::sync::Mutex<std::collections::HashMap<i64, usize>>>,
    device: i64,
}

impl Drop for SyncConnectionGuard {
    fn drop(&mut self) {
        let mut by_device = self
            .by_device
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(mine) = by_device.get_mut(&self.device) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                by_device.remove(&self.device);
            }
        }
        self.open.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// How long a shutdown waits for sync connections to finish: acknowledge what they pushed,
/// tell their device, close.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves [`router`] on `listener`, in plain HTTP with the default timeouts, until `shutdown`
/// resolves; see [`serve_with`].
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, serving::Serving::default(), shutdown).await
}

/// Serves [`router`] on `listener` as `serving` says (TLS, timeouts) until `shutdown`
/// resolves, then waits for in-flight requests and sync connections to finish (each at most
/// [`SHUTDOWN_GRACE`]).
///
/// Returns an error only if accepting connections fails for good.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    serving: serving::Serving,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = Arc::clone(&state.stopping);
    let mut open = state.sync_connections.subscribe();
    // Payments recorded on tablets get their system notes once stored.
    let notes = tokio::spawn(payment_notes::run(state.clone()));
    // Unnamed blobs collected and expired quarantine deleted, now and every hour.
    let housekeeping = tokio::spawn(housekeeping::run(state.clone()));
    // Documents compacted off the writer's commits.
    let compactor = tokio::spawn(housekeeping::compact(state.clone()));
    // Sync connections are upgraded out of hyper's sight: tell them to finish.
    let served = serving::run(listener, router(state), serving, shutdown, move || {
        stopping.send_replace(true);
    })
    .await;
    notes.abort();
    housekeeping.abort();
    compactor.abort();
    served?;
    // ... and wait for them to have said goodbye (their batches acknowledged, the device told
    // why), so that the process does not end under them.
    let said = tokio::time::timeout(SHUTDOWN_GRACE, open.wait_for(|n| *n == 0))
        .await
        .is_ok();
    if !said {
        tracing::warn!(
            open = *open.borrow(),
            "sync connections still open after the shutdown grace period: closing under them"
        );
    }
    Ok(())
}
