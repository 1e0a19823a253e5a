//! A real WebSocket sync client for end-to-end tests: tokio-tungstenite on loopback, driving
//! the tablet core ([`fieldsync_app::Tablet`]) or sending raw protocol messages.

use std::net::SocketAddr;
use std::time::Duration;

use fieldsync_app::Tablet;
use fieldsync_protocol::wire::{ClientMessage, ServerMessage};
use fieldsync_store::host::DeviceEvent;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest wait for an answer before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// An open `/sync` connection.
#[derive(Debug)]
pub struct SyncClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// The upgrade was refused: HTTP status and body.
#[derive(Debug)]
pub struct Refused {
    /// HTTP status code.
    pub status: u16,
    /// Response body.
    pub body: String,
}

impl SyncClient {
    /// Opens `/sync` with `token` as the bearer token (none when `None`).
    pub async fn connect(addr: SocketAddr, token: Option<&str>) -> Result<SyncClient, Refused> {
        Self::connect_url(&format!("ws://{addr}/sync"), None, token).await
    }

    /// Opens `/sync` on `server` (over TLS when it serves TLS, trusting its certificate).
    pub async fn connect_to(
        server: &crate::TestServer,
        token: Option<&str>,
    ) -> Result<SyncClient, Refused> {
        Self::connect_secure(server.addr(), server.certificate_pem(), token).await
    }

    /// Opens `/sync` at `addr`: over TLS trusting the certificate `pem` when given, else in
    /// plain WebSocket.
    pub async fn connect_secure(
        addr: SocketAddr,
        pem: Option<&str>,
        token: Option<&str>,
    ) -> Result<SyncClient, Refused> {
        let url = match pem {
            Some(_) => format!("wss://{addr}/sync"),
            None => format!("ws://{addr}/sync"),
        };
        let connector = pem.map(|pem| {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject as _;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.expect("the test certificate")).unwrap();
            }
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            tokio_tungstenite::Connector::Rustls(std::sync::Arc::new(config))
        });
        Self::connect_url(&url, connector, token).await
    }

    async fn connect_url(
        url: &str,
        connector: Option<tokio_tungstenite::Connector>,
        token: Option<&str>,
    ) -> Result<SyncClient, Refused> {
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("Authorization", format!("Bearer {token}").parse().unwrap());
        }
        // tungstenite zeroes its whole read buffer before each read: the default 128 KiB made
        // the benchmarks' hundreds of watchers measure memset rather than the server.
        let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
        let connecting = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            connector,
        );
        match connecting.await {
            Ok((ws, _)) => Ok(SyncClient { ws }),
            Err(tungstenite::Error::Http(response)) => Err(Refused {
                status: response.status().as_u16(),
                body: String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                    .into_owned(),
            }),
            Err(other) => panic!("connecting to {url}: {other}"),
        }
    }

    /// Sends one protocol message.
    pub async fn send(&mut self, message: &ClientMessage) {
        self.send_raw(message.encode()).await;
    }

    /// Sends raw bytes as one binary frame.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send a frame");
    }

    /// The next protocol message; `None` once the server closed the connection. Fails the test
    /// after [`PATIENCE`].
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("the server answers in time");
            match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
                Some(Ok(Message::Binary(bytes))) => {
                    return Some(ServerMessage::decode(&bytes).expect("server frames decode"));
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Says hello as a new device (no cursor, so the empty lineage, holding nothing, as it
    /// answers when asked) and
    /// waits until the server has sent everything in scope.
    pub async fn hello(&mut self) {
        let hello = ClientMessage::Hello {
            version: fieldsync_protocol::wire::PROTOCOL_VERSION,
            cursor: None,
        };
        self.send(&hello).await;
        let lineage = ClientMessage::Lineage {
            lineage: fieldsync_protocol::wire::Lineage::EMPTY,
            acked: (0, fieldsync_protocol::wire::Lineage::EMPTY),
        };
        self.send(&lineage).await;
        let holding = ClientMessage::Holding {
            accounts_digest: fieldsync_protocol::engine::accounts_digest([]),
            leaving: Vec::new(),
        };
        self.send(&holding).await;
        loop {
            match self.recv().await {
                Some(ServerMessage::Changes { complete: true, .. }) => return,
                Some(ServerMessage::ListAccounts) => {
                    let held = ClientMessage::AccountsHeld {
                        accounts: Vec::new(),
                    };
                    self.send(&held).await;
                }
                Some(_) => continue,
                None => panic!("the server closed the connection during the handshake"),
            }
        }
    }

    /// Waits for the acknowledgement of `batch`, passing over other messages; returns what it
    /// refused and deferred.
    pub async fn ack(&mut self, batch: u64) -> (Vec<fieldsync_protocol::wire::Refusal>, Vec<u32>) {
        loop {
            match self.recv().await {
                Some(ServerMessage::Ack {
                    batch: b,
                    refused,
                    deferred,
                    ..
                }) if b == batch => {
                    return (refused, deferred);
                }
                Some(_) => continue,
                None => panic!("the server closed the connection before acknowledging {batch}"),
            }
        }
    }

    /// Connects `tablet` and syncs until it has caught up, the server acknowledged all its
    /// changes and compared its documents with the tablet's (repairing first when they
    /// differ); returns the connection for more (live) traffic.
    pub async fn sync(addr: SocketAddr, token: &str, tablet: &mut Tablet) -> SyncClient {
        Self::sync_reporting(addr, token, tablet).await.0
    }

    /// [`SyncClient::sync`], also saying whether the sync repaired (see
    /// [`DeviceEvent::Repairing`]).
    pub async fn sync_reporting(
        addr: SocketAddr,
        token: &str,
        tablet: &mut Tablet,
    ) -> (SyncClient, bool) {
        let mut client = SyncClient::connect(addr, Some(token))
            .await
            .expect("token accepted");
        for message in tablet.connected(0).unwrap() {
            client.send(&message).await;
        }
        let (mut caught_up, mut verified, mut repairing, mut repaired) =
            (false, false, false, false);
        let started = std::time::Instant::now();
        while !(caught_up && verified && !repairing && tablet.pending().unwrap() == 0) {
            let message =
                match tokio::time::timeout(std::time::Duration::from_millis(200), client.recv())
                    .await
                {
                    Ok(message) => message.expect("connection stays open while syncing"),
                    Err(_) => {
                        // Quiet: time passes for the tablet (a repair verifies once quiet).
                        assert!(
                            started.elapsed() < PATIENCE,
                            "the sync did not finish in time: caught up {caught_up}, verified \
                             {verified}, repairing {repairing}, {} changes pending",
                            tablet.pending().unwrap()
                        );
                        let now = started.elapsed().as_millis() as u64;
                        for message in tablet.tick(now).unwrap() {
                            client.send(&message).await;
                        }
                        continue;
                    }
                };
            let now = started.elapsed().as_millis() as u64;
            let (send, events) = tablet.received(now, message).unwrap();
            caught_up |= events.contains(&DeviceEvent::CaughtUp);
            if events.contains(&DeviceEvent::Repairing) {
                (repairing, repaired) = (true, true);
            }
            if events
                .iter()
                .any(|e| matches!(e, DeviceEvent::Verified { .. }))
            {
                (verified, repairing) = (true, false);
            }
            if let Some(DeviceEvent::Failed(_, why) | DeviceEvent::Refused(why)) = events
                .iter()
                .find(|e| matches!(e, DeviceEvent::Failed(..) | DeviceEvent::Refused(_)))
            {
                panic!("sync failed: {why}");
            }
            for message in send {
                client.send(&message).await;
            }
        }
        (client, repaired)
    }

    /// Receives live messages into `tablet` until `done` holds.
    pub async fn follow(&mut self, tablet: &mut Tablet, done: impl Fn(&Tablet) -> bool) {
        while !done(tablet) {
            let message = self.recv().await.expect("connection stays open");
            let (send, _) = tablet.received(0, message).unwrap();
            for message in send {
                self.send(&message).await;
            }
        }
    }

    /// Connects to `server` with a technician's device `token` and pushes one change setting
    /// `job` to `status`, made by `author` on the server database's copy of the job, as the
    /// tablet would; fails the test unless the server stores it. Returns the connection.
    pub async fn push_job_status(
        server: &crate::TestServer,
        token: &str,
        author: fieldsync_protocol::Author,
        job: fieldsync_protocol::JobId,
        status: fieldsync_protocol::JobStatus,
    ) -> SyncClient {
        use fieldsync_protocol::{Record, Role, Timestamp, Writer};
        let mut device = SyncClient::connect_to(server, Some(token))
            .await
            .expect("the device token is accepted");
        device.hello().await;
        let mut doc = fieldsync_store::Store::open(server.db_path())
            .expect("open the server's database")
            .load(job.into())
            .expect("read the job")
            .expect("the job exists");
        let writer = Writer::new(Role::Technician, author.user, author.name);
        let mut change = writer
            .edit(&mut doc, Timestamp(chrono::Utc::now()), |record| {
                if let Record::Job(j) = record {
                    j.record.status = status;
                }
                Ok(())
            })
            .expect("a technician may change a job's status")
            .expect("the status changed");
        let changes = vec![fieldsync_protocol::wire::DocData {
            doc: job.into(),
            data: change.bytes().to_vec(),
            attested: None,
        }];
        device
            .send(&ClientMessage::Push { batch: 1, changes })
            .await;
        let (refused, deferred) = device.ack(1).await;
        assert!(refused.is_empty() && deferred.is_empty(), "{refused:?}");
        device
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
