//! The WebSocket upgrade of `/sync`, on tokio-tungstenite directly.
//!
//! axum's own WebSocket sends every message as one frame, and the socket then keeps a buffer
//! as large as the largest frame it ever wrote: after a first download in 64 KiB pages every
//! idle connection held 64 KiB. Here large messages go out in fragments of at most
//! [`FRAGMENT`] bytes (RFC 6455 §5.4; every WebSocket client reassembles them), so an idle
//! connection keeps only small buffers.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use futures_util::SinkExt as _;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

/// Largest frame written: larger messages are fragmented.
pub(crate) const FRAGMENT: usize = 4 * 1024;

/// An upgraded `/sync` connection.
pub(crate) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// A valid WebSocket upgrade request (HTTP/1.1 `GET` with `Connection: upgrade`,
/// `Upgrade: websocket`, `Sec-WebSocket-Version: 13` and a key).
pub(crate) struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// Why a request to `/sync` is not a WebSocket upgrade: 400 (426 for a wrong version) with the
/// reason.
#[derive(Debug)]
pub(crate) struct NotAnUpgrade(StatusCode, &'static str);

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|part| part.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, NotAnUpgrade> {
        let refuse = |why| Err(NotAnUpgrade(StatusCode::BAD_REQUEST, why));
        if parts.version != Version::HTTP_11 || parts.method != Method::GET {
            return refuse("/sync is a WebSocket endpoint: open it with an HTTP/1.1 GET upgrade");
        }
        if !header_has(&parts.headers, header::CONNECTION, "upgrade")
            || !header_has(&parts.headers, header::UPGRADE, "websocket")
        {
            return refuse(
                "/sync is a WebSocket endpoint: the request must carry Connection: upgrade and Upgrade: websocket",
            );
        }
        if parts.headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13"))
        {
            return Err(NotAnUpgrade(
                StatusCode::UPGRADE_REQUIRED,
                "only WebSocket version 13 is supported",
            ));
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return refuse("the WebSocket upgrade has no Sec-WebSocket-Key");
        };
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return refuse("this connection cannot be upgraded");
        };
        Ok(Upgrade { key, on_upgrade })
    }
}

impl Upgrade {
    /// Answers `101 Switching Protocols` and runs `callback` with the socket once the client
    /// has switched.
    pub(crate) fn on_upgrade<C, F>(self, config: WebSocketConfig, callback: C) -> Response
    where
        C: FnOnce(Socket) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let socket = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        Role::Server,
                        Some(config),
                    )
                    .await;
                    callback(socket).await;
                }
                Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
            }
        });
        let accept = derive_accept_key(self.key.as_bytes());
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// Sends `bytes` as one binary message, in frames of at most [`FRAGMENT`] bytes. Each frame
/// waits until the one before is written, so a slow reader holds back the sender rather than
/// growing a buffer; a reader that takes more than `timeout` for the whole message makes it
/// fail (the connection is then closed rather than held by a stalled device).
pub(crate) async fn send_binary<S>(
    socket: &mut WebSocketStream<S>,
    bytes: impl Into<tungstenite::Bytes>,
    timeout: Duration,
) -> Result<(), tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(timeout, send_fragments(socket, bytes.into()))
        .await
        .unwrap_or_else(|_| Err(timed_out(timeout)))
}

/// Sends a close frame, waiting at most `timeout` for the reader.
pub(crate) async fn send_close<S>(
    socket: &mut WebSocketStream<S>,
    timeout: Duration,
) -> Result<(), tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(timeout, socket.send(Message::Close(None)))
        .await
        .unwrap_or_else(|_| Err(timed_out(timeout)))
}

fn timed_out(timeout: Duration) -> tungstenite::Error {
    tungstenite::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("the device read nothing for {} s", timeout.as_secs_f32()),
    ))
}

async fn send_fragments<S>(
    socket: &mut WebSocketStream<S>,
    bytes: tungstenite::Bytes,
) -> Result<(), tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if bytes.len() <= FRAGMENT {
        return socket.send(Message::Binary(bytes)).await;
    }
    let count = bytes.len().div_ceil(FRAGMENT);
    for (i, start) in (0..bytes.len()).step_by(FRAGMENT).enumerate() {
        let piece = bytes.slice(start..(start + FRAGMENT).min(bytes.len()));
        let opcode = OpCode::Data(if i == 0 { Data::Binary } else { Data::Continue });
        let frame = Frame::message(piece, opcode, i + 1 == count);
        socket.feed(Message::Frame(frame)).await?;
    }
    socket.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_to_a_reader_that_reads_nothing_times_out() {
        // The device's end is kept open but never read: 64 KiB of buffer, then nothing.
        let (server, _device) = tokio::io::duplex(64 * 1024);
        let mut socket = WebSocketStream::from_raw_socket(server, Role::Server, None).await;

        let small = send_binary(&mut socket, vec![1u8; 1024], Duration::from_millis(200)).await;
        assert!(small.is_ok(), "{small:?}");
        let big = send_binary(&mut socket, vec![2u8; 1 << 20], Duration::from_millis(200)).await;

        let Err(tungstenite::Error::Io(e)) = big else {
            panic!("not timed out: {big:?}");
        };
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    }
}
