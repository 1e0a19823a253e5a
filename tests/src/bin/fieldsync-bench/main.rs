//! Fieldsync benchmarks. Run in release mode:
//!
//! ```text
//! cargo build --release --bins -p fieldsync-tests   # the server process the scenarios start
//! cargo run --release --bin fieldsync-bench -- reconnect
//! cargo run --release --bin fieldsync-bench -- initial
//! cargo run --release --bin fieldsync-bench -- load
//! cargo run --release --bin fieldsync-bench -- ingest
//! cargo run --release --bin fieldsync-bench -- fanout [watchers=500] [changes/s=100]
//! cargo run --release --bin fieldsync-bench -- connections
//! cargo run --release --bin fieldsync-bench -- edit
//! cargo run --release --bin fieldsync-bench -- pages
//! cargo run --release --bin fieldsync-bench -- fleet
//! ```
//!
//! Each prints one figure a line as `name: value unit`. With `FIELDSYNC_BENCH_TLS=1` the
//! scenarios that start the server in its own process serve and connect over TLS (a
//! self-signed certificate made for the run), and print `transport: tls` first.

use std::collections::HashMap;
use std::time::Instant;

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};
use fieldsync_protocol::engine::{ClientConfig, ClientSession, ServerSession};
use fieldsync_protocol::wire::{ClientMessage, ServerMessage};
use fieldsync_protocol::{DocId, Role, Timestamp, UserId, Writer};
use fieldsync_store::host::{ConnectionHost, DeviceContext, DeviceHost};
use fieldsync_store::{Origin, Scope, Store};
use fieldsync_tests::demo::{self, Rng};

mod edit;
mod fleet;
mod net;
mod socket;

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    let runtime = || tokio::runtime::Runtime::new().expect("a tokio runtime");
    if net::over_tls() {
        println!("transport: tls");
    }
    match scenario.as_str() {
        "reconnect" => {
            reconnect();
            runtime().block_on(socket::reconnect());
        }
        "initial" => runtime().block_on(socket::initial()),
        "load" => load(),
        "ingest" => runtime().block_on(net::ingest()),
        "fanout" => {
            let arg = |n: usize, default: u64| {
                std::env::args()
                    .nth(n)
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(default)
            };
            runtime().block_on(net::fanout(arg(2, 500) as usize, arg(3, 100)))
        }
        "connections" => runtime().block_on(net::connections()),
        "edit" => runtime().block_on(edit::edit()),
        "pages" => runtime().block_on(edit::pages()),
        "fleet" => runtime().block_on(fleet::fleet()),
        _ => {
            eprintln!(
                "usage: fieldsync-bench <reconnect|initial|load|ingest|fanout|connections|edit|pages|fleet>"
            );
            std::process::exit(2);
        }
    }
}

pub(crate) fn print(name: &str, value: impl std::fmt::Display, unit: &str) {
    println!("{name}: {value} {unit}");
}

/// Bytes and flights of one sync exchange between a device and the server.
#[derive(Default)]
struct Exchange {
    up: usize,
    down: usize,
    round_trips: usize,
}

struct Device {
    store: Store,
    session: ClientSession,
}

/// Runs flights until neither side has anything to say: every flight is the device's messages
/// up, then the server's answers down. A flight counts as a round trip when the device waited
/// for an answer.
fn exchange(
    server: &mut Store,
    device: &mut Device,
    mut up: Vec<ClientMessage>,
    origin: Origin,
) -> Exchange {
    let mut session = ServerSession::new(server.epoch().unwrap(), server.latest_seq().unwrap());
    let mut host = ConnectionHost::new(DeviceContext::new(origin, Role::Office, Scope::All));
    let mut stats = Exchange::default();
    while !up.is_empty() {
        let mut down = Vec::new();
        for message in up.drain(..) {
            let frame = message.encode();
            stats.up += frame.len();
            let outputs = session.receive(ClientMessage::decode(&frame).unwrap());
            down.extend(host.run(server, &mut session, outputs).unwrap().send);
        }
        if down.is_empty() {
            break; // nothing answered: the last flight was not a round trip
        }
        stats.round_trips += 1;
        for message in down {
            let frame = message.encode();
            stats.down += frame.len();
            let outputs = device
                .session
                .receive(0, ServerMessage::decode(&frame).unwrap());
            let (send, _) =
                DeviceHost::run(&mut device.store, &mut device.session, outputs).unwrap();
            up.extend(send);
        }
    }
    stats
}

fn connect(server: &mut Store, device: &mut Device) -> Exchange {
    let (send, _) = DeviceHost::connect(&mut device.store, &mut device.session, 0).unwrap();
    exchange(server, device, send, Origin(1))
}

fn load_all(store: &mut Store) -> HashMap<DocId, AutoCommit> {
    let ids = store.doc_ids(&Scope::All).unwrap();
    let tx = store.transaction().unwrap();
    ids.into_iter()
        .map(|id| (id, tx.load(id).unwrap().unwrap()))
        .collect()
}

fn reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Store::open(&dir.path().join("server.sqlite3")).unwrap();
    let mut rng = Rng::new(1);
    // 400 accounts × (account + site + 2 jobs + payment) = 2,000 documents.
    demo::seed_company(&mut server, &mut rng, 400, 2);
    let mut device = Device {
        store: Store::open(&dir.path().join("tablet.sqlite3")).unwrap(),
        session: ClientSession::new(ClientConfig::default()),
    };
    let first = connect(&mut server, &mut device);
    device.session.disconnected();
    let docs = demo::all_docs(&device.store).len();
    print("documents", docs, "docs");
    print("initial_download_bytes", first.down, "bytes");

    // Offline: 10 edits on the tablet, 10 by the office on the server.
    let now = Timestamp::from_millis(1_790_000_100_000).unwrap();
    let tablet = Writer::new(Role::Technician, UserId::new(), "Tess Tech");
    let office = Writer::new(Role::Office, UserId::new(), "Olly Office");
    let mut changed = std::collections::BTreeSet::new();
    let mut change_bytes = 0;
    while changed.len() < 20 {
        let on_tablet = changed.len() % 2 == 0;
        let pick = 30 + rng.below(25); // a note on a job
        let made = if on_tablet {
            demo::random_edit(&mut device.store, &tablet, Origin(1), &mut rng, now, pick)
        } else {
            demo::random_edit(&mut server, &office, Origin::LOCAL, &mut rng, now, pick)
        };
        if let Some((doc, _, bytes, _)) = made {
            changed.insert(doc);
            change_bytes += bytes.len();
        }
    }
    let server_docs = load_all(&mut server);
    let device_docs = load_all(&mut device.store);

    let ours = connect(&mut server, &mut device);
    let total = ours.up + ours.down;
    print("changed_documents", changed.len(), "docs");
    print("change_bytes", change_bytes, "bytes");
    print("reconnect_bytes_up", ours.up, "bytes");
    print("reconnect_bytes_down", ours.down, "bytes");
    print("reconnect_bytes", total, "bytes");
    print("reconnect_round_trips", ours.round_trips, "round trips");
    print(
        "reconnect_bytes_per_change_byte",
        format!("{:.3}", total as f64 / change_bytes as f64),
        "ratio",
    );
    assert_eq!(
        server.heads_digest(&Scope::All).unwrap(),
        device.store.heads_digest(&Scope::All).unwrap(),
        "reconnect did not converge"
    );

    let (am_bytes, am_messages, am_rounds) = automerge_sync(server_docs, device_docs);
    print("automerge_sync_bytes", am_bytes, "bytes");
    print("automerge_sync_messages", am_messages, "messages");
    print("automerge_sync_round_trips", am_rounds, "round trips");
    print(
        "bytes_saved_factor",
        format!("{:.1}", am_bytes as f64 / total as f64),
        "x",
    );
}

/// Plain per-document automerge sync of every document, all documents in parallel, fresh sync
/// states (as after a reconnect). Counts only the sync messages' own bytes.
fn automerge_sync(
    mut server: HashMap<DocId, AutoCommit>,
    mut device: HashMap<DocId, AutoCommit>,
) -> (usize, usize, usize) {
    let ids: Vec<DocId> = server
        .keys()
        .chain(device.keys())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut states: HashMap<DocId, (sync::State, sync::State)> =
        ids.iter().map(|id| (*id, Default::default())).collect();
    let (mut bytes, mut messages, mut flights) = (0, 0, 0);
    loop {
        let mut moved = false;
        for id in &ids {
            let (device_state, server_state) = states.get_mut(id).unwrap();
            let d = device.entry(*id).or_default();
            if let Some(m) = d.sync().generate_sync_message(device_state) {
                let m = m.encode();
                bytes += m.len();
                messages += 1;
                moved = true;
                let s = server.entry(*id).or_default();
                s.sync()
                    .receive_sync_message(server_state, sync::Message::decode(&m).unwrap())
                    .unwrap();
            }
        }
        for id in &ids {
            let (device_state, server_state) = states.get_mut(id).unwrap();
            let s = server.entry(*id).or_default();
            if let Some(m) = s.sync().generate_sync_message(server_state) {
                let m = m.encode();
                bytes += m.len();
                messages += 1;
                moved = true;
                let d = device.entry(*id).or_default();
                d.sync()
                    .receive_sync_message(device_state, sync::Message::decode(&m).unwrap())
                    .unwrap();
            }
        }
        if !moved {
            break;
        }
        flights += 1;
    }
    (bytes, messages, flights)
}

fn load() {
    let dir = tempfile::tempdir().unwrap();
    let mut source = Store::open(&dir.path().join("source.sqlite3")).unwrap();
    let mut rng = Rng::new(2);
    // 2,000 accounts × (account + site + 2 jobs + payment) = 10,000 records.
    let seeded = demo::seed_company(&mut source, &mut rng, 2_000, 2);
    let (docs, _) = source.snapshots(&Scope::All, None, usize::MAX).unwrap();
    let mut fresh = Store::open(&dir.path().join("fresh.sqlite3")).unwrap();
    let started = Instant::now();
    let tx = fresh.transaction().unwrap();
    // As a tablet applies a downloaded page: one batch, one transaction.
    tx.apply_batch(&docs, Origin::REMOTE).unwrap();
    tx.commit().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    print("load_records", seeded.documents, "records");
    print("load_seconds", format!("{elapsed:.3}"), "s");
    print(
        "load_records_per_second",
        format!("{:.0}", seeded.documents as f64 / elapsed),
        "records/s",
    );
}
