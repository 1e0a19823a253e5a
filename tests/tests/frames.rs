//! `/sync` on the wire, below the WebSocket library: a plain GET is refused with a reason, an
//! oversized frame gets a clear error, and large messages arrive in small frames (so that an
//! idle connection keeps no large buffer) that reassemble into the protocol message.

use fieldsync_protocol::Role;
use fieldsync_protocol::wire::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
use fieldsync_server::auth::new_device_token;
use fieldsync_store::Store;
use fieldsync_tests::TestServer;
use fieldsync_tests::demo::{self, Rng};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Largest frame the server writes (see server/src/routes/websocket.rs).
const FRAGMENT: usize = 4 * 1024;

#[tokio::test]
async fn a_plain_get_of_the_sync_endpoint_is_refused_with_the_reason() {
    let server = TestServer::start().await;
    let (status, body) = fieldsync_tests::http_get(server.addr(), "/sync")
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("WebSocket"), "{body}");
}

/// One WebSocket frame as read off the socket.
struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

async fn read_frame(stream: &mut TcpStream) -> Frame {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let len = match head[1] & 0x7f {
        126 => stream.read_u16().await.unwrap() as usize,
        127 => stream.read_u64().await.unwrap() as usize,
        n => n as usize,
    };
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).await.unwrap();
    Frame {
        fin: head[0] & 0x80 != 0,
        opcode: head[0] & 0x0f,
        payload,
    }
}

/// A masked binary frame from the client, as RFC 6455 requires.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x82];
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend((n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend((n as u64).to_be_bytes());
        }
    }
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A server whose database holds `accounts` seeded accounts and an office device; its token.
async fn server_with_office(accounts: usize) -> (TestServer, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    let token = {
        let mut store = Store::open(&path).unwrap();
        demo::seed_company(&mut store, &mut Rng::new(3), accounts, 2);
        let tx = store.transaction().unwrap();
        let user = tx.add_user("dana", Role::Office, None).unwrap();
        let (token, hash) = new_device_token();
        tx.add_device(user.id, "dana's tablet", hash).unwrap();
        tx.commit().unwrap();
        token
    };
    let server = TestServer::start_with_db(&path).await.unwrap();
    (server, token, dir)
}

/// Opens `/sync` by hand: the upgrade request, and the check of the server's answer.
async fn open_sync(server: &TestServer, token: &str) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let request = format!(
        "GET /sync HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Authorization: Bearer {token}\r\n\r\n",
        server.addr()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // The key from RFC 6455 §1.3 and its answer.
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    stream
}

/// Sends a new device's `Hello`, `Lineage` and `Holding` (nothing held), each in one masked
/// frame.
async fn send_hello(stream: &mut TcpStream) {
    let hello = ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        cursor: None,
    };
    let lineage = ClientMessage::Lineage {
        lineage: fieldsync_protocol::wire::Lineage::EMPTY,
        acked: (0, fieldsync_protocol::wire::Lineage::EMPTY),
    };
    let holding = ClientMessage::Holding {
        accounts_digest: fieldsync_protocol::engine::accounts_digest([]),
        leaving: Vec::new(),
    };
    for message in [hello, lineage, holding] {
        stream
            .write_all(&client_frame(&message.encode()))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_oversized_frame_gets_a_clear_error_and_the_server_serves_others() {
    let (server, token, _dir) = server_with_office(1).await;
    let mut stream = open_sync(&server, &token).await;
    // A binary frame announcing 17 MiB (over the 16 MiB limit); only its start is sent.
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend((17u64 << 20).to_be_bytes());
    frame.extend([0, 0, 0, 0]);
    frame.extend([0u8; 1024]);
    stream.write_all(&frame).await.unwrap();
    let answer = read_frame(&mut stream).await;
    match ServerMessage::decode(&answer.payload).unwrap() {
        ServerMessage::Error { code, message } => {
            assert_eq!(code, fieldsync_protocol::wire::ErrorCode::Malformed);
            assert!(message.contains("16 MiB"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(
        read_frame(&mut stream).await.opcode,
        8,
        "then the server closes"
    );
    // Others are still served.
    let mut other = open_sync(&server, &token).await;
    send_hello(&mut other).await;
    let welcome = read_frame(&mut other).await;
    assert!(matches!(
        ServerMessage::decode(&welcome.payload).unwrap(),
        ServerMessage::Welcome { .. }
    ));
}

#[tokio::test]
async fn large_messages_arrive_in_frames_of_at_most_4_kib_that_reassemble() {
    // About 200 documents: a first download of several pages of up to 64 KiB.
    let (server, token, _dir) = server_with_office(40).await;
    let mut stream = open_sync(&server, &token).await;
    send_hello(&mut stream).await;

    let (mut documents, mut fragmented, mut largest) = (0, 0, 0);
    loop {
        let first = read_frame(&mut stream).await;
        assert_eq!(
            first.opcode, 2,
            "a binary message starts with a binary frame"
        );
        largest = largest.max(first.payload.len());
        let mut message = first.payload;
        let mut frames = 1;
        let mut fin = first.fin;
        while !fin {
            let next = read_frame(&mut stream).await;
            assert_eq!(
                next.opcode, 0,
                "the rest of a message are continuation frames"
            );
            largest = largest.max(next.payload.len());
            message.extend(next.payload);
            fin = next.fin;
            frames += 1;
        }
        assert!(
            frames > 1 || message.len() <= FRAGMENT,
            "a {} byte message came in one frame",
            message.len()
        );
        if frames > 1 {
            fragmented += 1;
        }
        match ServerMessage::decode(&message).unwrap() {
            ServerMessage::Changes { docs, complete, .. } => {
                documents += docs.len();
                if complete {
                    break;
                }
            }
            ServerMessage::Welcome { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(documents, 200, "40 accounts of 5 documents each");
    assert!(fragmented >= 2, "the pages were sent in fragments");
    assert!(largest <= FRAGMENT, "a frame of {largest} bytes");
}
