//! The server's accept loop: TCP, then TLS when configured, then HTTP/1.1 (hyper) with the
//! WebSocket upgrade, over the axum router.
//!
//! It is ours rather than `axum::serve` for what that one cannot be told: TLS, a timeout for
//! reading a request's headers (a client that opens connections and sends headers slowly
//! would otherwise hold each open for ever; the same timeout closes a keep-alive connection
//! left idle), and telling every request who sent it ([`Peer`]) over which transport.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// How the server is reached.
#[derive(Clone, Debug)]
pub struct Serving {
    /// TLS on the listener; `None` serves plain HTTP (a local trial, or behind a proxy that
    /// terminates TLS).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Longest wait for a request's headers, counted from when the server starts waiting
    /// for them (so also the longest a keep-alive connection stays idle), and for the TLS
    /// handshake.
    pub header_read_timeout: Duration,
    /// Behind a reverse proxy that terminates TLS: believe its `X-Forwarded-Proto` and
    /// `X-Forwarded-For` headers (see [`Peer`]).
    pub behind_proxy: bool,
}

/// The default [`Serving::header_read_timeout`].
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

impl Default for Serving {
    fn default() -> Self {
        Serving {
            tls: None,
            header_read_timeout: HEADER_READ_TIMEOUT,
            behind_proxy: false,
        }
    }
}

/// Who sent a request and how: a request extension set on every request.
///
/// Behind a proxy ([`Serving::behind_proxy`]), the proxy says: the address is the last of
/// `X-Forwarded-For` (the one the proxy added), and the request came over TLS when
/// `X-Forwarded-Proto` is `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The client's address.
    pub addr: IpAddr,
    /// Whether the browser or tablet reached the server over TLS.
    pub https: bool,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    /// The request's peer; for a request not served by [`run`] (the router called directly),
    /// the unspecified address over plain HTTP.
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Peer>().copied().unwrap_or(Peer {
            addr: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            https: false,
        }))
    }
}

impl Peer {
    fn of(headers: &HeaderMap, connection: Peer, behind_proxy: bool) -> Peer {
        if !behind_proxy {
            return connection;
        }
        let forwarded_for = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back();
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        Peer {
            addr: forwarded_for.unwrap_or(connection.addr),
            https: https || connection.https,
        }
    }
}

/// Serves `state`'s router on `listener` as `serving` says until `shutdown` resolves; then
/// stops accepting, tells sync connections to finish, and waits for in-flight requests (at
/// most [`crate::SHUTDOWN_GRACE`]).
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    serving: Serving,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_shutdown: impl FnOnce(),
) -> io::Result<()> {
    let acceptor = serving.tls.clone().map(TlsAcceptor::from);
    // Every connection's task holds a receiver; the sender is closed once all have ended.
    let (open_tx, open_rx) = watch::channel(());
    let (stop_tx, _) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without TCP_NODELAY, a small message written while the previous one is
        // unacknowledged waits for the device's delayed ACK (up to 40 ms): live changes and
        // acknowledgements are small messages.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY on a connection");
        }
        let connection = Connection {
            router: router.clone(),
            peer: Peer {
                addr: addr.ip(),
                https: acceptor.is_some(),
            },
            serving: serving.clone(),
            stop: stop_tx.subscribe(),
            _open: open_rx.clone(),
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => connection.serve(tcp).await,
                Some(acceptor) => {
                    let timeout = connection.serving.header_read_timeout;
                    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => connection.serve(tls).await,
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(open_rx);
    on_shutdown();
    stop_tx.send_replace(true);
    if tokio::time::timeout(crate::SHUTDOWN_GRACE, open_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the shutdown grace period");
    }
    Ok(())
}

/// One accepted connection, before its transport is ready.
struct Connection {
    router: Router,
    peer: Peer,
    serving: Serving,
    stop: watch::Receiver<bool>,
    /// Held until the connection ends (see [`run`]).
    _open: watch::Receiver<()>,
}

impl Connection {
    async fn serve<IO>(mut self, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (router, peer, behind_proxy) = (self.router, self.peer, self.serving.behind_proxy);
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let peer = Peer::of(request.headers(), peer, behind_proxy);
            request.extensions_mut().insert(peer);
            router.clone().oneshot(request.map(Body::new))
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.serving.header_read_timeout);
        let mut conn = pin!(
            builder
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades()
        );
        let mut asked_to_stop = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(addr = %peer.addr, error = %e, "connection ended");
                    }
                    break;
                }
                changed = self.stop.wait_for(|stop| *stop), if !asked_to_stop => {
                    asked_to_stop = true;
                    if changed.is_ok() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// Accepting failed: for a per-connection error try again at once; otherwise (out of file
/// descriptors) wait a little, so as not to spin.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The URL scheme of a server served as `serving` says.
pub fn scheme(serving: &Serving) -> &'static str {
    if serving.tls.is_some() {
        "https"
    } else {
        "http"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn forwarded_headers_count_only_behind_a_proxy() {
        let direct = Peer {
            addr: "10.0.0.2".parse().unwrap(),
            https: false,
        };
        let sent = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);

        assert_eq!(Peer::of(&sent, direct, false), direct);
        let proxied = Peer::of(&sent, direct, true);
        assert_eq!(proxied.addr, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert!(proxied.https);
        assert_eq!(Peer::of(&HeaderMap::new(), direct, true), direct);
    }
}
