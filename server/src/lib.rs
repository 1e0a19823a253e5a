//! The Fieldsync server: one process in front of one SQLite file.
//!
//! Tablets and office screens will talk to it over HTTP and WebSockets; for now it answers
//! `GET /healthz`. The pieces:
//!
//! - [`AppState`] holds what every request shares: the database handle ([`db::Db`]).
//! - [`router`] builds the axum [`Router`] from the route table (`routes.rs`, one handler
//!   file per resource under `routes/`). Handlers fail with [`error::ApiError`].
//! - [`serve`] runs the router on a bound listener until a shutdown future resolves, then
//!   lets in-flight requests finish.
//!
//! `main.rs` parses [`config::Cli`], opens the state, binds and calls [`serve`]; tests do the
//! same on `127.0.0.1:0`:
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

pub mod config;
pub mod db;
pub mod error;
mod routes;

use std::future::Future;
use std::path::Path;

use axum::Router;
use tokio::net::TcpListener;

use crate::db::{Db, DbError};

/// What every request handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    db: Db,
}

impl AppState {
    /// Opens (creating if missing) the database at `db_path`.
    ///
    /// Fails, rather than starting a server that cannot answer, if the file cannot be created
    /// or is not an SQLite database.
    pub fn open(db_path: impl AsRef<Path>) -> Result<Self, DbError> {
        Ok(Self {
            db: Db::open(db_path)?,
        })
    }

    /// The database handle.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// The server's HTTP routes, bound to `state`.
pub fn router(state: AppState) -> Router {
    routes::table().with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then waits for in-flight
/// requests to finish.
///
/// Returns an error only if accepting connections fails for good.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
