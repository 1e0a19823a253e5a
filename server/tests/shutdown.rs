//! Stopping the server (SIGTERM, as a service manager does) while a tablet is connected: the
//! tablet is told why the connection ends before the process exits, and the process exits
//! cleanly.

use std::process::Command;

use fieldsync_protocol::wire::{ClientMessage, ErrorCode, Lineage, ServerMessage};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

mod common;

#[tokio::test]
async fn a_stopping_server_says_goodbye_to_connected_tablets_before_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fieldsync.sqlite3");
    let demo = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["demo", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(demo.status.success());
    let token = String::from_utf8_lossy(&demo.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("fsd_"))
        .expect("the demo prints tablet tokens")
        .to_string();

    let (mut serving, addr) = common::serve(&db);

    let mut request = format!("ws://{addr}/sync").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for message in [
        ClientMessage::Hello {
            version: fieldsync_protocol::wire::PROTOCOL_VERSION,
            cursor: None,
        },
        ClientMessage::Lineage {
            lineage: Lineage::EMPTY,
            acked: (0, Lineage::EMPTY),
        },
    ] {
        ws.send(Message::binary(message.encode())).await.unwrap();
    }
    match ws.next().await.unwrap().unwrap() {
        Message::Binary(bytes) => assert!(
            matches!(
                ServerMessage::decode(&bytes).unwrap(),
                ServerMessage::Welcome { .. }
            ),
            "welcomed"
        ),
        other => panic!("{other:?}"),
    }

    let pid = serving.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut told = None;
    while let Some(Ok(frame)) = ws.next().await {
        if let Message::Binary(bytes) = frame
            && let Ok(ServerMessage::Error { code, message }) = ServerMessage::decode(&bytes)
        {
            told = Some((code, message));
        }
    }
    let (code, message) = told.expect("the tablet is told before the connection ends");
    assert_eq!(code, ErrorCode::ShuttingDown);
    assert!(message.contains("restarting"), "{message}");
    let status = serving.wait().unwrap();
    assert!(status.success(), "a clean exit: {status}");
}
