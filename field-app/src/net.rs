//! The network edge: a WebSocket client (tokio-tungstenite) that carries the sync session's
//! messages to and from the server's `/sync` endpoint, with the device token as a bearer token.
//!
//! A connection attempt that fails, or a connection that drops, is retried after a jittered,
//! exponentially growing and capped delay ([`Backoff`]). Nothing is lost meanwhile: every
//! change waits in the outbox, every photo in the upload queue.
//!
//! - [`sync_until_caught_up`]: connect, exchange until the tablet has everything the server
//!   had and the server acknowledged everything the tablet had, then close (the command line's
//!   `sync`).
//! - [`SyncService`]: keep the tablet in sync in the background, publishing a [`SyncStatus`]
//!   after every change (the UI).
//!
//! The tablet is shared as a [`SharedTablet`]; the lock is held only while one message is
//! handled, never across an `.await`.

mod backoff;
mod exchange;
mod service;
pub mod tls;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fieldsync_protocol::wire::MAX_FRAME;
use fieldsync_store::Pairing;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use backoff::Backoff;
pub use exchange::{SyncLimits, SyncReport, sync_until_caught_up};
pub use service::SyncService;

use crate::{AppError, Tablet};

/// The tablet, shared between the sync client and the UI.
pub type SharedTablet = Arc<Mutex<Tablet>>;

/// Shares a tablet.
pub fn shared(tablet: Tablet) -> SharedTablet {
    Arc::new(Mutex::new(tablet))
}

/// Locks the shared tablet. A panic while it was locked leaves nothing half written (store
/// transactions roll back), so a poisoned lock is taken over.
pub fn lock(tablet: &SharedTablet) -> MutexGuard<'_, Tablet> {
    tablet
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Longest wait for a connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why syncing failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The server address is not usable.
    #[error("bad server address: {0}")]
    BadUrl(String),
    /// No connection could be opened.
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable {
        /// The address tried.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server's certificate is not trusted, or is not the one pinned at pairing; nothing
    /// was sent.
    #[error("{0}")]
    Untrusted(String),
    /// The server is busy (too many connections); try again later.
    #[error("the server is busy: {0}")]
    Busy(String),
    /// The server refused the connection (a wrong or revoked token).
    #[error("the server refused this tablet (HTTP {status}): {reason}")]
    Refused {
        /// HTTP status code.
        status: u16,
        /// The server's reason.
        reason: String,
    },
    /// The server no longer speaks this app's protocol version.
    #[error("please update the app: {0}")]
    UpgradeRequired(String),
    /// The server closed the connection or sent something this app cannot read.
    #[error("the connection failed: {0}")]
    Connection(String),
    /// Not caught up in the time allowed; everything not sent waits in the outbox.
    #[error("not caught up after {seconds} s ({last})")]
    TimedOut {
        /// The time allowed.
        seconds: u64,
        /// The last failure, or what was still under way.
        last: String,
    },
    /// The tablet's store failed.
    #[error(transparent)]
    App(Box<AppError>),
}

impl From<AppError> for NetError {
    fn from(e: AppError) -> Self {
        NetError::App(Box::new(e))
    }
}

impl NetError {
    /// Whether the server refused this tablet's token (unknown or revoked): only pairing the
    /// tablet again can help.
    pub fn needs_pairing(&self) -> bool {
        matches!(
            self,
            NetError::Refused {
                status: 401 | 403,
                ..
            }
        )
    }

    /// Whether trying again soon cannot help (a refused token, an old app, a bad address, a
    /// failing store).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            NetError::BadUrl(_)
                | NetError::Untrusted(_)
                | NetError::Refused { .. }
                | NetError::UpgradeRequired(_)
                | NetError::App(_)
        )
    }
}

/// The WebSocket address of the sync endpoint of the server at `server_url`:
/// `http://host:port` (or `ws://`) becomes `ws://host:port/sync`, `https://host:port` (or
/// `wss://`) becomes `wss://host:port/sync`.
pub fn sync_url(server_url: &str) -> Result<String, String> {
    let given = server_url.trim();
    let example = || {
        format!(
            "{given:?} is not a server address such as https://fieldsync.example.com or http://192.168.1.20:8080"
        )
    };
    let mut url = url::Url::parse(given).map_err(|_| example())?;
    let scheme = match url.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(example()),
    };
    if url.host_str().is_none_or(str::is_empty) || url.query().is_some() || url.fragment().is_some()
    {
        return Err(example());
    }
    url.set_scheme(scheme).map_err(|()| example())?;
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/sync").unwrap_or(path).to_string();
    url.set_path(&format!("{path}/sync"));
    let ws = url.to_string();
    ws.as_str()
        .into_client_request()
        .map_err(|e| format!("{given:?}: {e}"))?;
    Ok(ws)
}

/// Checks a server address with the certificate fingerprint to pin (if any): a fingerprint
/// is for `https://` servers only. Returns the fingerprint in the form servers print it.
pub fn check_server(server_url: &str, fingerprint: Option<&str>) -> Result<Option<String>, String> {
    let url = sync_url(server_url)?;
    let Some(fingerprint) = fingerprint.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let parsed = tls::Fingerprint::parse(fingerprint)?;
    if !url.starts_with("wss://") {
        return Err(format!(
            "a certificate fingerprint is for a server reached over TLS: use https://, not {:?}",
            server_url.trim()
        ));
    }
    Ok(Some(parsed.to_string()))
}

/// Opens the sync connection of `pairing`, remembering what the server says about the tablet
/// ([`DeviceIdentity::remember`]).
async fn connect(tablet: &SharedTablet, pairing: &Pairing) -> Result<Socket, NetError> {
    let (socket, identity) = connect_identified(pairing).await?;
    if let Some(identity) = identity {
        identity.remember(&mut lock(tablet))?;
    }
    Ok(socket)
}

/// Who a device token belongs to, as the server says when the tablet connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The user the device was made for.
    pub user: fieldsync_protocol::UserId,
    /// Their name.
    pub name: String,
    /// Their role (`technician`, `office`, `admin`).
    pub role: String,
    /// The device's number on the server.
    pub device: i64,
    /// The company, as its invoices name it (`None` from a server that does not say).
    pub company: Option<fieldsync_protocol::Company>,
    /// The highest counter of this device's invoice numbers on the server.
    pub invoice_seq: Option<u32>,
    /// The company's custom field definitions (`None` from a server that does not say).
    pub custom_fields: Option<Vec<fieldsync_protocol::custom_fields::FieldDef>>,
}

impl DeviceIdentity {
    /// Keeps on the tablet what the server said about it: its device number (which its
    /// invoice numbers carry) and how far they went, and the company its invoices name.
    pub fn remember(&self, tablet: &mut Tablet) -> Result<(), AppError> {
        if let Ok(number) = u32::try_from(self.device) {
            tablet.remember_device_number(number, self.invoice_seq.unwrap_or(0))?;
        }
        if let Some(company) = &self.company {
            tablet.remember_company(company)?;
        }
        if let Some(defs) = &self.custom_fields {
            tablet.remember_custom_fields(defs)?;
        }
        Ok(())
    }
}

/// The identity headers of the server's answer to the upgrade, if it sent them.
fn identity(response: &tungstenite::handshake::client::Response) -> Option<DeviceIdentity> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let name = header("fieldsync-user-name")?;
    Some(DeviceIdentity {
        user: header("fieldsync-user")?.parse().ok()?,
        name: percent_encoding::percent_decode_str(&name)
            .decode_utf8()
            .ok()?
            .into_owned(),
        role: header("fieldsync-role")?,
        device: header("fieldsync-device")?.parse().ok()?,
        invoice_seq: header("fieldsync-invoice-seq").and_then(|n| n.parse().ok()),
        company: header("fieldsync-company").and_then(|json| decoded_json(&json)),
        custom_fields: header("fieldsync-custom-fields")
            .and_then(|json| {
                decoded_json::<Vec<fieldsync_protocol::custom_fields::FieldDef>>(&json)
            })
            .filter(|defs| fieldsync_protocol::custom_fields::check_definitions(defs).is_ok()),
    })
}

/// A header's percent-encoded JSON value, read; `None` when it is not what was expected.
fn decoded_json<T: serde::de::DeserializeOwned>(encoded: &str) -> Option<T> {
    let json = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .ok()?;
    serde_json::from_str(&json).ok()
}

/// Connects, and reads who the token belongs to from the server's answer.
async fn connect_identified(
    pairing: &Pairing,
) -> Result<(Socket, Option<DeviceIdentity>), NetError> {
    let url = sync_url(&pairing.server_url).map_err(NetError::BadUrl)?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| NetError::BadUrl(e.to_string()))?;
    let bearer = format!("Bearer {}", pairing.token)
        .parse()
        .map_err(|_| NetError::BadUrl("the device token cannot be sent in a header".into()))?;
    request.headers_mut().insert("Authorization", bearer);
    // tungstenite zeroes its whole read buffer before each read: the default 128 KiB would be
    // cleared for every small live message, on a tablet's battery.
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
        .read_buffer_size(16 * 1024);
    let unreachable = |reason: String| NetError::Unreachable {
        url: pairing.server_url.clone(),
        reason,
    };
    let connector = if url.starts_with("wss://") {
        let pinned = match pairing.tls_fingerprint.as_deref() {
            Some(text) => Some(tls::Fingerprint::parse(text).map_err(NetError::BadUrl)?),
            None => None,
        };
        let config = tls::client_config(pinned).map_err(NetError::Untrusted)?;
        Some(tokio_tungstenite::Connector::Rustls(config))
    } else {
        None
    };
    let attempt =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Err(_) => Err(unreachable(format!(
            "no answer in {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
        Ok(Ok((socket, response))) => Ok((socket, identity(&response))),
        Ok(Err(tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            let reason = refusal_reason(response.body().as_deref().unwrap_or_default());
            Err(match status {
                429 | 503 => NetError::Busy(reason),
                _ => NetError::Refused { status, reason },
            })
        }
        Ok(Err(tungstenite::Error::Io(e))) => Err(match tls::failure(&e) {
            Some(why) => NetError::Untrusted(why),
            None => unreachable(e.to_string()),
        }),
        Ok(Err(tungstenite::Error::Tls(e))) => Err(NetError::Untrusted(format!(
            "the secure connection failed: {e}"
        ))),
        Ok(Err(other)) => Err(NetError::Connection(other.to_string())),
    }
}

/// The reason in a refusal's body (`{"error": "..."}`), or the body as text.
fn refusal_reason(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        error: String,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(body) => body.error,
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    }
}

/// Checks a pairing before it is kept: opens the sync connection to the server at
/// `server_url` with `token` (checked at the upgrade), the server's certificate pinned to
/// `tls_fingerprint` when given, and closes it; returns who the token belongs to.
pub async fn check_pairing(
    server_url: &str,
    token: &str,
    tls_fingerprint: Option<&str>,
) -> Result<DeviceIdentity, NetError> {
    let probe = Pairing {
        server_url: server_url.trim().to_string(),
        token: token.trim().to_string(),
        user: fieldsync_protocol::UserId::default(),
        user_name: String::new(),
        actor: Vec::new(),
        paired_at_ms: 0,
        tls_fingerprint: tls_fingerprint.map(str::to_string),
    };
    let (mut socket, identity) = connect_identified(&probe).await?;
    let _ = socket.close(None).await;
    identity.ok_or_else(|| {
        NetError::Connection("the server did not say whose device token this is".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_become_sync_urls() {
        for (given, url) in [
            ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/sync"),
            ("http://127.0.0.1:8080/", "ws://127.0.0.1:8080/sync"),
            (
                " ws://fieldsync.local:8080/sync ",
                "ws://fieldsync.local:8080/sync",
            ),
            ("http://10.0.0.5", "ws://10.0.0.5/sync"),
        ] {
            assert_eq!(sync_url(given).unwrap(), url);
        }
        for bad in [
            "",
            "127.0.0.1:8080",
            "ftp://x",
            "http://",
            "http:// x",
            "https://",
            "https://x/?token=1",
        ] {
            assert!(sync_url(bad).is_err(), "{bad:?}");
        }
        assert_eq!(sync_url("https://x:8443").unwrap(), "wss://x:8443/sync");
        assert_eq!(sync_url("wss://x/sync").unwrap(), "wss://x/sync");
        assert_eq!(
            sync_url("https://example.com/fieldsync/").unwrap(),
            "wss://example.com/fieldsync/sync",
            "a server behind a proxy under a path"
        );
    }

    #[test]
    fn a_fingerprint_is_pinned_only_for_a_tls_server() {
        let hex = "ab".repeat(32);
        let pinned = check_server("https://10.0.0.5:8443", Some(&hex)).unwrap();
        assert_eq!(pinned.as_deref(), Some(&*["AB"; 32].join(":")));
        assert_eq!(check_server("https://10.0.0.5:8443", Some("  ")), Ok(None));
        assert!(
            check_server("http://10.0.0.5:8080", Some(&hex))
                .unwrap_err()
                .contains("https://")
        );
        assert!(check_server("https://10.0.0.5", Some("abc")).is_err());
    }

    #[test]
    fn refusals_carry_the_servers_reason() {
        assert_eq!(
            refusal_reason(br#"{"error":"device token revoked: pair the tablet again"}"#),
            "device token revoked: pair the tablet again"
        );
        assert_eq!(refusal_reason(b" Bad Gateway "), "Bad Gateway");
    }
}
