//! Photo blobs over the sync protocol: by content hash, resumable, verified, size-limited.

use fieldsync_protocol::blob::{BLOB_CHUNK, BlobUpload, MAX_BLOB_SIZE};
use fieldsync_protocol::wire::{ClientMessage, ServerMessage};
use fieldsync_protocol::{ContentHash, Role};
use fieldsync_store::host::{ConnectionHost, DeviceContext};
use fieldsync_store::{Origin, Scope, Store};

fn host() -> ConnectionHost {
    ConnectionHost::new(DeviceContext::new(Origin(1), Role::Technician, Scope::All))
}

fn photo(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn ask(host: &ConnectionHost, store: &mut Store, message: ClientMessage) -> ServerMessage {
    host.blob(store, message)
        .unwrap()
        .expect("blob messages are answered")
}

/// Sends messages one by one, feeding each status back to the upload; stops after `limit`
/// chunks (a dropped connection) or when the upload is done.
fn pump(
    host: &ConnectionHost,
    store: &mut Store,
    upload: &mut BlobUpload,
    first: ClientMessage,
    limit: usize,
) -> usize {
    // In order, as over one WebSocket.
    let mut queue = std::collections::VecDeque::from([first]);
    let mut chunks = 0;
    while let Some(message) = queue.pop_front() {
        if matches!(message, ClientMessage::BlobPut { .. }) {
            if chunks == limit {
                return chunks;
            }
            chunks += 1;
        }
        match ask(host, store, message) {
            ServerMessage::BlobStatus { have, complete, .. } => {
                queue.extend(upload.on_status(have, complete));
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    chunks
}

#[test]
fn an_interrupted_upload_resumes_where_the_server_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("server.sqlite3")).unwrap();
    let host = host();
    let bytes = photo(5 * BLOB_CHUNK + 123);
    let mut upload = BlobUpload::new(bytes.clone()).unwrap();
    let first = upload.start();
    let sent_before_drop = pump(&host, &mut store, &mut upload, first, 2);
    assert_eq!(sent_before_drop, 2);
    let state = store.blob_state(&upload.hash()).unwrap().unwrap();
    assert_eq!(state.have, 2 * BLOB_CHUNK as u64);
    assert!(!state.complete);
    assert_eq!(
        store.blob(&upload.hash()).unwrap(),
        None,
        "an incomplete blob is not served"
    );

    // Reconnect: the upload asks again and sends only what is missing.
    let first = upload.start();
    let sent_after = pump(&host, &mut store, &mut upload, first, usize::MAX);
    assert_eq!(sent_after, 4, "only the four missing chunks are sent again");
    assert!(upload.is_done());
    assert_eq!(store.blob(&upload.hash()).unwrap().unwrap(), bytes);

    // Download from the middle.
    let offset = BLOB_CHUNK as u64 + 10;
    match ask(
        &host,
        &mut store,
        ClientMessage::BlobGet {
            hash: upload.hash(),
            offset,
        },
    ) {
        ServerMessage::BlobChunk {
            offset: at,
            bytes: got,
            total,
            ..
        } => {
            assert_eq!((at, total), (offset, bytes.len() as u64));
            assert_eq!(got, bytes[offset as usize..2 * BLOB_CHUNK]);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn bytes_that_do_not_match_their_hash_are_refused_and_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("server.sqlite3")).unwrap();
    let host = host();
    let bytes = photo(1000);
    let hash = ContentHash::of(&bytes);
    let mut tampered = bytes.clone();
    tampered[500] ^= 0xFF;
    let put = ClientMessage::BlobPut {
        hash,
        total: 1000,
        offset: 0,
        bytes: tampered,
    };
    match ask(&host, &mut store, put) {
        ServerMessage::BlobError { message, .. } => {
            assert!(message.contains("do not match"), "{message}")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        store.blob_state(&hash).unwrap(),
        None,
        "nothing of it is kept"
    );
}

#[test]
fn oversized_and_ill_fitting_chunks_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("server.sqlite3")).unwrap();
    let host = host();
    let hash = ContentHash::of(b"x");
    let huge = ClientMessage::BlobPut {
        hash,
        total: MAX_BLOB_SIZE + 1,
        offset: 0,
        bytes: vec![1],
    };
    assert!(
        matches!(ask(&host, &mut store, huge), ServerMessage::BlobError { message, .. } if message.contains("limit"))
    );
    let beyond = ClientMessage::BlobPut {
        hash,
        total: 10,
        offset: 8,
        bytes: vec![0; 5],
    };
    assert!(matches!(
        ask(&host, &mut store, beyond),
        ServerMessage::BlobError { .. }
    ));
    assert!(BlobUpload::new(vec![0u8; MAX_BLOB_SIZE as usize + 1]).is_err());
    let missing = ClientMessage::BlobGet { hash, offset: 0 };
    assert!(matches!(
        ask(&host, &mut store, missing),
        ServerMessage::BlobError { .. }
    ));
}
