//! Photo blobs over the sync protocol: by content hash, resumable, verified, size-limited.

use fieldsync_protocol::blob::{BLOB_CHUNK, BlobUpload, MAX_BLOB_SIZE};
use fieldsync_protocol::wire::{ClientMessage, ServerMessage};
use fieldsync_protocol::{
    AccountId, ContentHash, DocId, Photo, PhotoId, PhotoTag, Record, Role, Timestamp, UserId,
    Writer,
};
use fieldsync_store::host::{ConnectionHost, DeviceContext};
use fieldsync_store::{Origin, Scope, Store};
use fieldsync_tests::fixtures::{Company, People};

fn host() -> ConnectionHost {
    ConnectionHost::new(DeviceContext::new(Origin(1), Role::Technician, Scope::All))
}

fn photo(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn ask(host: &mut ConnectionHost, store: &mut Store, message: ClientMessage) -> ServerMessage {
    host.blob(store, message)
        .unwrap()
        .expect("blob messages are answered")
}

/// Sends messages one by one, feeding each status back to the upload; stops after `limit`
/// chunks (a dropped connection) or when the upload is done.
fn pump(
    host: &mut ConnectionHost,
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
    let mut host = host();
    let bytes = photo(5 * BLOB_CHUNK + 123);
    let mut upload = BlobUpload::new(bytes.clone()).unwrap();
    let first = upload.start();
    let sent_before_drop = pump(&mut host, &mut store, &mut upload, first, 2);
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
    let sent_after = pump(&mut host, &mut store, &mut upload, first, usize::MAX);
    assert_eq!(sent_after, 4, "only the four missing chunks are sent again");
    assert!(upload.is_done());
    assert_eq!(store.blob(&upload.hash()).unwrap().unwrap(), bytes);

    // Download from the middle.
    let offset = BLOB_CHUNK as u64 + 10;
    match ask(
        &mut host,
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
    let mut host = host();
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
    match ask(&mut host, &mut store, put) {
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
    let mut host = host();
    let hash = ContentHash::of(b"x");
    let huge = ClientMessage::BlobPut {
        hash,
        total: MAX_BLOB_SIZE + 1,
        offset: 0,
        bytes: vec![1],
    };
    assert!(
        matches!(ask(&mut host, &mut store, huge), ServerMessage::BlobError { message, .. } if message.contains("limit"))
    );
    let beyond = ClientMessage::BlobPut {
        hash,
        total: 10,
        offset: 8,
        bytes: vec![0; 5],
    };
    assert!(matches!(
        ask(&mut host, &mut store, beyond),
        ServerMessage::BlobError { .. }
    ));
    assert!(BlobUpload::new(vec![0u8; MAX_BLOB_SIZE as usize + 1]).is_err());
    let missing = ClientMessage::BlobGet { hash, offset: 0 };
    assert!(matches!(
        ask(&mut host, &mut store, missing),
        ServerMessage::BlobError { .. }
    ));
}

/// Adds a photo whose full image is `bytes` (stored as a blob) to the first job of `account`.
fn add_photo(store: &mut Store, account: AccountId, bytes: &[u8]) -> ContentHash {
    let job = store.jobs_for_account(account).unwrap()[0].id;
    let office = Writer::new(Role::Office, UserId::new(), "Dana");
    let now = Timestamp::from_millis(1_790_000_000_000).unwrap();
    let hash = ContentHash::of(bytes);
    let photo = Photo {
        id: PhotoId::new(),
        caption: "Boiler plate".into(),
        tag: PhotoTag::Before,
        taken_at: now,
        author: office.author.user,
        author_name: "Dana".into(),
        width: 10,
        height: 10,
        full_hash: hash,
        full_size: bytes.len() as u64,
        thumb_hash: hash,
        thumb_size: bytes.len() as u64,
    };
    let mut doc = store.load(DocId::from(job)).unwrap().unwrap();
    let change = office
        .edit(&mut doc, now, |record| {
            if let Record::Job(d) = record {
                d.photos.insert(photo.id, photo);
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
    let tx = store.transaction().unwrap();
    tx.record_local(job.into(), &mut doc, &change, false)
        .unwrap();
    tx.put_blob(bytes).unwrap().unwrap();
    tx.commit().unwrap();
    hash
}

#[test]
fn a_technician_downloads_only_photos_of_accounts_in_scope() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("server.sqlite3")).unwrap();
    let company = Company::seed(&mut store, &People::new());
    let (mine, theirs) = (company.harbor, company.dental);
    let my_photo = add_photo(&mut store, mine, &photo(3000));
    let their_photo = add_photo(&mut store, theirs, &photo(4000));
    let stray = {
        let tx = store.transaction().unwrap();
        let hash = tx.put_blob(&photo(5000)).unwrap().unwrap();
        tx.commit().unwrap();
        hash
    };
    let scope = Scope::Accounts([mine].into_iter().collect());
    let mut technician =
        ConnectionHost::new(DeviceContext::new(Origin(1), Role::Technician, scope));
    let get = |hash| ClientMessage::BlobGet { hash, offset: 0 };

    match ask(&mut technician, &mut store, get(my_photo)) {
        ServerMessage::BlobChunk { total, .. } => assert_eq!(total, 3000),
        other => panic!("unexpected {other:?}"),
    }
    for hidden in [their_photo, stray] {
        match ask(&mut technician, &mut store, get(hidden)) {
            ServerMessage::BlobError { message, .. } => {
                assert_eq!(message, "no such photo on the server")
            }
            other => panic!("an out-of-scope photo was answered with {other:?}"),
        }
    }
    // The office sees every photo.
    let mut office = host();
    for hash in [their_photo, stray] {
        assert!(matches!(
            ask(&mut office, &mut store, get(hash)),
            ServerMessage::BlobChunk { .. }
        ));
    }
}
