//! A tablet's first download and its reconnect, over a real WebSocket to the server in its own
//! process: the device runs the real client engine (`ClientSession` + `DeviceHost`) on its own
//! SQLite file, and every byte counted is a frame that crossed the socket.

use std::time::Instant;

use fieldsync_protocol::engine::{ClientConfig, ClientSession};
use fieldsync_protocol::{Author, Role, Timestamp, UserId, Writer};
use fieldsync_store::host::{DeviceEvent, DeviceHost};
use fieldsync_store::{Origin, Scope, Store};
use fieldsync_tests::demo::{self, Rng};

use crate::net::start;
use crate::print;

/// What one sync over the socket cost.
#[derive(Default)]
struct Traffic {
    up: usize,
    down: usize,
    /// Times the device sent something and then had to wait for an answer.
    round_trips: usize,
    seconds: f64,
}

/// A server database with `accounts` seeded accounts (5 documents each) and an office device;
/// returns the token.
fn seeded_server(path: &std::path::Path, accounts: usize, rng: &mut Rng) -> (usize, String) {
    let mut store = Store::open(path).unwrap();
    let seeded = demo::seed_company(&mut store, rng, accounts, 2);
    let tx = store.transaction().unwrap();
    let user = tx.add_user("bench", Role::Office, None).unwrap();
    let (token, hash) = fieldsync_server::auth::new_device_token();
    tx.add_device(user.id, "bench tablet", hash).unwrap();
    tx.commit().unwrap();
    (seeded.documents, token)
}

/// Connects `store` (a tablet) and syncs until it has caught up and its outbox is empty.
async fn sync(addr: std::net::SocketAddr, token: &str, store: &mut Store) -> Traffic {
    let mut session = ClientSession::new(ClientConfig::default());
    let started = Instant::now();
    let mut client = crate::net::open(addr, token).await;
    let (mut up, _) = DeviceHost::connect(store, &mut session, 0).unwrap();
    let mut traffic = Traffic::default();
    let mut caught_up = false;
    loop {
        let sent = !up.is_empty();
        for message in up.drain(..) {
            traffic.up += message.encode().len();
            client.send(&message).await;
        }
        if caught_up && store.outbox().unwrap().is_empty() {
            break;
        }
        if sent {
            // Sent, and now waiting for the answer: a round trip.
            traffic.round_trips += 1;
        }
        let message = client.recv().await.expect("the server stays connected");
        traffic.down += message.encode().len();
        let outputs = session.receive(0, message);
        let (send, events) = DeviceHost::run(store, &mut session, outputs).unwrap();
        for event in &events {
            match event {
                DeviceEvent::CaughtUp => caught_up = true,
                DeviceEvent::Failed(_, why) | DeviceEvent::Refused(why) => {
                    panic!("sync failed: {why}")
                }
                _ => {}
            }
        }
        up.extend(send);
    }
    traffic.seconds = started.elapsed().as_secs_f64();
    client.close().await;
    traffic
}

/// `initial`: a new tablet downloads 10,000 records.
pub(crate) async fn initial() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    // 2,000 accounts × (account + site + 2 jobs + payment) = 10,000 records.
    let (records, token) = seeded_server(&path, 2_000, &mut Rng::new(3));
    let server = start(&path);
    let mut tablet = Store::open(&dir.path().join("tablet.sqlite3")).unwrap();
    let traffic = sync(server.addr, &token, &mut tablet).await;
    assert_eq!(
        tablet.doc_ids(&Scope::All).unwrap().len(),
        records,
        "the download is complete"
    );
    print("initial_records", records, "records");
    print("initial_seconds", format!("{:.3}", traffic.seconds), "s");
    print("initial_bytes_down", traffic.down, "bytes");
    print(
        "initial_records_per_second",
        format!("{:.0}", records as f64 / traffic.seconds),
        "records/s",
    );
}

/// `reconnect-socket`: a tablet holding 2,000 documents reconnects after 20 changed (10 on the
/// tablet, 10 by the office on the server while the tablet was away).
pub(crate) async fn reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    let mut rng = Rng::new(1);
    // 400 accounts × 5 = 2,000 documents.
    let (records, token) = seeded_server(&path, 400, &mut rng);
    let mut tablet = Store::open(&dir.path().join("tablet.sqlite3")).unwrap();
    {
        let server = start(&path);
        sync(server.addr, &token, &mut tablet).await;
    } // the server process stops: the tablet goes offline

    let now = Timestamp::from_millis(1_790_000_100_000).unwrap();
    let writer = |name: &str, role| Writer {
        actor: automerge::ActorId::random(),
        author: Author {
            user: UserId::new(),
            name: name.into(),
        },
        role,
    };
    let (technician, office) = (
        writer("Tess Tech", Role::Technician),
        writer("Olly Office", Role::Office),
    );
    let mut server_store = Store::open(&path).unwrap();
    let mut changed = std::collections::BTreeSet::new();
    let mut change_bytes = 0;
    while changed.len() < 20 {
        let pick = 30 + rng.below(25); // a note on a job
        let made = if changed.len() % 2 == 0 {
            demo::random_edit(&mut tablet, &technician, Origin(1), &mut rng, now, pick)
        } else {
            demo::random_edit(
                &mut server_store,
                &office,
                Origin::LOCAL,
                &mut rng,
                now,
                pick,
            )
        };
        if let Some((doc, _, bytes, _)) = made {
            changed.insert(doc);
            change_bytes += bytes.len();
        }
    }
    drop(server_store);

    let server = start(&path);
    let traffic = sync(server.addr, &token, &mut tablet).await;
    drop(server);
    let server_store = Store::open(&path).unwrap();
    assert_eq!(
        server_store.heads_digest(&Scope::All).unwrap(),
        tablet.heads_digest(&Scope::All).unwrap(),
        "reconnect did not converge"
    );
    let total = traffic.up + traffic.down;
    print("socket_documents", records, "docs");
    print("socket_changed_documents", changed.len(), "docs");
    print("socket_change_bytes", change_bytes, "bytes");
    print("socket_reconnect_bytes", total, "bytes");
    print(
        "socket_reconnect_round_trips",
        traffic.round_trips,
        "round trips",
    );
    print(
        "socket_reconnect_bytes_per_change_byte",
        format!("{:.3}", total as f64 / change_bytes as f64),
        "ratio",
    );
    print(
        "socket_reconnect_ms",
        format!("{:.1}", traffic.seconds * 1000.0),
        "ms",
    );
}
