//! End-to-end test support: the real server on loopback, over a real SQLite file.
//!
//! [`TestServer::start`] opens a database in a fresh temporary directory, binds
//! `127.0.0.1:0` *before* spawning the server, so the port accepts connections as soon as
//! `start` returns (no sleeps, no retries), and runs [`fieldsync_server::serve`] on a tokio
//! task. [`http_get`] fetches a path of it with reqwest, for tests that need only a status
//! and a body.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use fieldsync_tests::{TestServer, http_get};
//!
//! let server = TestServer::start().await;
//! let (status, body) = http_get(server.addr(), "/healthz").await?;
//! assert_eq!(status, 200);
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod browser;
pub mod crew;
pub mod demo;
pub mod office;
pub mod sync_client;

/// The company the tests tell their stories in, and valid records (from the store).
pub use fieldsync_store::fixtures;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use fieldsync_server::AppState;
use fieldsync_server::db::DbError;
use fieldsync_server::serving::Serving;
use rustls::pki_types::pem::PemObject as _;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server on `127.0.0.1` with its own database.
///
/// Stop it with [`TestServer::shutdown`] to see how serving ended; dropping it also asks it
/// to stop, without waiting.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    db_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
    /// The server's state (shared with it).
    state: AppState,
    /// How it is served (TLS, timeouts), kept across a restart.
    serving: Serving,
    /// Its self-signed certificate (PEM) and the certificate's fingerprint, when over TLS.
    tls: Option<(String, String)>,
    /// Holds the database's directory until the server is gone; `None` when the caller
    /// chose the path.
    _dir: Option<TempDir>,
}

impl TestServer {
    /// Starts a server with a new database in a temporary directory.
    ///
    /// Panics if that fails: with a fresh directory it can only fail if the machine is
    /// broken.
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let db_path = dir.path().join("fieldsync.sqlite3");
        let mut server = Self::start_with_db(&db_path)
            .await
            .expect("start the test server");
        server._dir = Some(dir);
        server
    }

    /// Starts a server on the database at `db_path`, which the caller keeps alive.
    ///
    /// Returns the server's own error if the database cannot be opened.
    pub async fn start_with_db(db_path: impl AsRef<Path>) -> Result<TestServer, DbError> {
        let db_path = db_path.as_ref().to_owned();
        Self::start_with_state(AppState::open(&db_path)?, &db_path).await
    }

    /// Starts a server with `state` (opened on `db_path`, which the caller keeps alive).
    pub async fn start_with_state(state: AppState, db_path: &Path) -> Result<TestServer, DbError> {
        Self::start_serving(state, db_path, Serving::default().plain()).await
    }

    /// Starts a server with a new database, over TLS with a self-signed certificate made for
    /// `localhost` and `127.0.0.1` (see [`TestServer::certificate_pem`] and
    /// [`TestServer::fingerprint`]).
    pub async fn start_tls() -> TestServer {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let db_path = dir.path().join("fieldsync.sqlite3");
        let state = AppState::open(&db_path).expect("open a fresh database");
        let mut server = Self::start_serving(state, &db_path, Serving::default().with_test_tls())
            .await
            .expect("a fresh database opens");
        server._dir = Some(dir);
        server
    }

    /// Starts a server on `state` as `serving` says ([`ServingExt::with_test_tls`] or
    /// [`ServingExt::plain`]).
    pub async fn start_serving(
        state: AppState,
        db_path: &Path,
        serving: (Serving, Option<(String, String)>),
    ) -> Result<TestServer, DbError> {
        let addr = "127.0.0.1:0".parse().expect("an address");
        Self::start_on(state, db_path, addr, serving).await
    }

    /// Stops the server, calls `while_down` with its database file, and starts it again on the
    /// same database and address, as a server restarted by its operator: tablets reach it at
    /// the address they were paired with.
    pub async fn restart(self, while_down: impl FnOnce(&Path)) -> Result<TestServer, DbError> {
        let (addr, db_path) = (self.addr, self.db_path.clone());
        let serving = (self.serving.clone(), self.tls.clone());
        let dir = self.shutdown_keeping_dir().await;
        while_down(&db_path);
        let mut server = Self::start_on(AppState::open(&db_path)?, &db_path, addr, serving).await?;
        server._dir = dir;
        Ok(server)
    }

    async fn shutdown_keeping_dir(mut self) -> Option<TempDir> {
        let dir = self._dir.take();
        if let Err(e) = self.shutdown().await {
            panic!("the server stopped with an error: {e}");
        }
        dir
    }

    async fn start_on(
        state: AppState,
        db_path: &Path,
        addr: SocketAddr,
        (serving, tls): (Serving, Option<(String, String)>),
    ) -> Result<TestServer, DbError> {
        let db_path = db_path.to_owned();
        let listener = TcpListener::bind(addr).await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("read the bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            // A dropped sender means the same as an explicit stop.
            let _ = stopped.await;
        };
        let task = tokio::spawn(fieldsync_server::serve_with(
            listener,
            state.clone(),
            serving.clone(),
            shutdown,
        ));
        Ok(TestServer {
            addr,
            db_path,
            stop: Some(stop),
            task: Some(task),
            state,
            serving,
            tls,
            _dir: None,
        })
    }

    /// The running server's state: its database, for what a test does to it from outside
    /// (a disk that fills up, say).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr><path>` (`https://` over TLS), for clients that want a URL.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{}", self.addr, path)
    }

    /// The server's self-signed certificate (PEM), when it serves over TLS.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|(pem, _)| pem.as_str())
    }

    /// The SHA-256 fingerprint of the server's certificate, as the server prints it, when it
    /// serves over TLS.
    pub fn fingerprint(&self) -> Option<&str> {
        self.tls
            .as_ref()
            .map(|(_, fingerprint)| fingerprint.as_str())
    }

    /// An HTTP client for this server that keeps cookies (and, over TLS, trusts the server's
    /// certificate).
    pub fn http_client(&self) -> reqwest::Client {
        self.http_client_builder().build().expect("an HTTP client")
    }

    /// [`TestServer::http_client`] before it is built, for tests that want more of it.
    pub fn http_client_builder(&self) -> reqwest::ClientBuilder {
        let mut builder = reqwest::Client::builder()
            .cookie_store(true)
            .connect_timeout(std::time::Duration::from_secs(20));
        if let Some(pem) = self.certificate_pem() {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(pem.as_bytes()).expect("the test certificate"),
            );
        }
        builder
    }

    /// The server's database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Stops the server, waits for in-flight requests to finish, and returns how serving
    /// ended.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self
            .task
            .take()
            .expect("the server task is only taken here");
        task.await.map_err(io::Error::other)?
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Test settings for [`Serving`].
pub trait ServingExt: Sized {
    /// These settings over TLS, with a new self-signed certificate for `localhost` and
    /// `127.0.0.1`; with the certificate (PEM) and its fingerprint, for
    /// [`TestServer::start_serving`].
    fn with_test_tls(self) -> (Serving, Option<(String, String)>);
    /// These settings in plain HTTP, for [`TestServer::start_serving`].
    fn plain(self) -> (Serving, Option<(String, String)>);
}

impl ServingExt for Serving {
    fn with_test_tls(self) -> (Serving, Option<(String, String)>) {
        use fieldsync_server::tls;
        let names = ["localhost".to_string(), "127.0.0.1".to_string()];
        let (cert_pem, key_pem) = tls::generate(&names).expect("make a test certificate");
        let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the certificate just made");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .expect("the key just made");
        let made = tls::from_der(chain, key).expect("the test certificate and key go together");
        let serving = Serving {
            tls: Some(made.config),
            ..self
        };
        (serving, Some((cert_pem, made.fingerprint)))
    }

    fn plain(self) -> (Serving, Option<(String, String)>) {
        (self, None)
    }
}

/// Sends `GET path` to `addr` over plain HTTP and returns the status code and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .map_err(io::Error::other)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(io::Error::other)?;
    Ok((status, body))
}
