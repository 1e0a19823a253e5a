//! Seeded simulation: one server and three replicas (two technicians, one office) over a network
//! that drops, duplicates, reorders and partitions messages (what the server sends a device is
//! dropped but never duplicated or reordered: evictions and whole documents carry no sequence
//! number, and a stale copy of a document delivered after its eviction would lack the device's
//! own acknowledged changes, which catch-up never sends back; TCP never does that within a
//! connection), with replicas and the server
//! restarted from their SQLite stores, the server put back to older copies of its database
//! (backups taken while it ran), and the office assigning jobs to the technicians and
//! taking them away while they are online or offline. Each round ends with every replica
//! holding exactly the documents of its scope (a technician: the accounts of the jobs assigned
//! to them now), identical to the server's, with identical balances, every change made on a
//! replica present on the server, and unique invoice numbers.
//!
//! `FIELDSYNC_SIM_SEEDS=N` runs seeds 0..N (default 60); `FIELDSYNC_SIM_SEED=S` replays one.
//! Backups of the running server and restores from them are among the faults
//! (`FIELDSYNC_SIM_RESTORES=0` leaves them out). After a restore, every change a replica still
//! holds comes back, whoever made it (the server's attestations, issue 13), and no change a
//! technician made under an assignment is refused, even one the restore lost; what is gone is
//! only what no replica held any more (acknowledged, then evicted from its only holder) and what
//! the office wrote on the server and no replica received.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use fieldsync_protocol::engine::{ClientConfig, ClientSession, OutboxItem, ServerSession};
use fieldsync_protocol::wire::{ClientMessage, Cursor, Lineage, ServerMessage};
use fieldsync_protocol::{DocId, DocKind, Record, Role, Timestamp, UserId, Writer};
use fieldsync_store::host::{ConnectionHost, DeviceContext, DeviceEvent, DeviceHost};
use fieldsync_store::{Origin, Scope, Store};
use fieldsync_tests::demo::{self, Rng};

const STEP_MS: u64 = 20;
/// Steps with faults per round; each round ends by settling and checking.
const STEPS: u64 = 120;
const ROUNDS: u64 = 2;
const RETRY_MS: u64 = 400;

struct Packet {
    at: u64,
    /// A frame of a connection's handshake (`Hello`, `Lineage`, then `Holding`): never
    /// dropped, duplicated or overtaken, as the WebSocket upgrade guarantees.
    first: bool,
    conn: u64,
    to_server: bool,
    bytes: Vec<u8>,
}

struct Replica {
    path: PathBuf,
    store: Store,
    session: ClientSession,
    writer: Writer,
    origin: Origin,
    conn: Option<u64>,
    made: Vec<[u8; 32]>,
}

struct Conn {
    session: ServerSession,
    host: ConnectionHost,
}

struct Sim {
    rng: Rng,
    now: u64,
    server_path: PathBuf,
    server: Store,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    replicas: Vec<Replica>,
    net: Vec<Packet>,
    faults: bool,
    payments_made: usize,
    hello_sent: BTreeSet<u64>,
    fallbacks: usize,
    /// Copies of the server's database taken while it ran, oldest first.
    snapshots: Vec<PathBuf>,
    /// Times the server was put back to one of them.
    restores: usize,
    /// Whether backups are taken and put back (unless `FIELDSYNC_SIM_RESTORES=0`).
    restores_on: bool,
    /// Changes made on a replica that no replica held any more when the server was put back
    /// to a copy without them (acknowledged, then evicted from their only holder): the
    /// restore lost them, as it would on a real server.
    lost_with_restore: BTreeSet<[u8; 32]>,
    /// Handshakes at which a technician's holdings were not its scope (the scope changed
    /// while it was away): the server asked for its accounts.
    reconciles: usize,
    _dir: tempfile::TempDir,
}

fn temp_dir() -> tempfile::TempDir {
    // Simulated stores live in memory-backed /dev/shm when there is one: the runs exercise the
    // real SQLite code paths, without paying for hundreds of fsyncs per seed.
    match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    }
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let dir = temp_dir();
        let server_path = dir.path().join("server.sqlite3");
        let mut server = Store::open(&server_path).unwrap();
        let mut rng = Rng::new(seed);
        let seeded = demo::seed_company(&mut server, &mut rng, 4, 2);
        let roles = [Role::Technician, Role::Technician, Role::Office];
        let replicas = roles
            .iter()
            .enumerate()
            .map(|(i, role)| {
                let path = dir.path().join(format!("replica{i}.sqlite3"));
                let actor = rng.actor();
                let writer =
                    Writer::new(*role, UserId(rng.uuid()), format!("user {i}")).with_actor(actor);
                Replica {
                    store: Store::open(&path).unwrap(),
                    path,
                    session: client(),
                    writer,
                    origin: Origin(i as i64 + 1),
                    conn: None,
                    made: Vec::new(),
                }
            })
            .collect();
        Sim {
            rng,
            now: 0,
            server_path,
            server,
            conns: BTreeMap::new(),
            next_conn: 1,
            replicas,
            net: Vec::new(),
            faults: true,
            payments_made: seeded.payments,
            hello_sent: BTreeSet::new(),
            fallbacks: 0,
            snapshots: Vec::new(),
            restores: 0,
            restores_on: !std::env::var("FIELDSYNC_SIM_RESTORES").is_ok_and(|v| v == "0"),
            lost_with_restore: BTreeSet::new(),
            reconciles: 0,
            _dir: dir,
        }
    }

    fn send(&mut self, conn: u64, to_server: bool, bytes: Vec<u8>) {
        let delay = if self.faults { self.rng.below(60) } else { 1 };
        let first = to_server && !self.hello_sent.contains(&conn);
        // The handshake's frames arrive in order, and before anything else of the connection.
        let hello = self
            .net
            .iter()
            .filter(|p| p.first && p.conn == conn)
            .map(|p| p.at)
            .max();
        if first {
            // Hello, Lineage, then Holding: the handshake.
            let message = ClientMessage::decode(&bytes).expect("client frames decode");
            if matches!(message, ClientMessage::Holding { .. }) {
                self.hello_sent.insert(conn);
            }
        }
        let mut at = (self.now + 1 + delay).max(hello.map_or(0, |at| at + 1));
        if !to_server {
            // In order, as TCP delivers within a connection.
            let last = self
                .net
                .iter()
                .filter(|p| !p.to_server && p.conn == conn)
                .map(|p| p.at)
                .max();
            at = at.max(last.unwrap_or(0));
        }
        self.net.push(Packet {
            at,
            first,
            conn,
            to_server,
            bytes,
        });
    }

    fn connect(&mut self, r: usize) {
        let conn = self.next_conn;
        self.next_conn += 1;
        let replica = &mut self.replicas[r];
        let (user, role) = (replica.writer.author.user, replica.writer.role);
        // As the server's sync route does: the device as the store knows it now.
        let device = DeviceContext::of_device(&self.server, replica.origin.0, user, role).unwrap();
        let host = ConnectionHost::new(device);
        let session = host.session(
            self.server.epoch().unwrap(),
            self.server.latest_seq().unwrap(),
        );
        self.conns.insert(conn, Conn { session, host });
        replica.conn = Some(conn);
        let (send, events) =
            DeviceHost::connect(&mut replica.store, &mut replica.session, self.now).unwrap();
        self.client_sent(r, send, events);
    }

    fn disconnect(&mut self, r: usize) {
        if let Some(conn) = self.replicas[r].conn.take() {
            self.conns.remove(&conn);
            self.net.retain(|p| p.conn != conn);
            self.replicas[r].session.disconnected();
        }
    }

    fn client_outputs(&mut self, r: usize, outputs: Vec<fieldsync_protocol::engine::ClientOutput>) {
        let replica = &mut self.replicas[r];
        let (send, events) =
            DeviceHost::run(&mut replica.store, &mut replica.session, outputs).unwrap();
        self.client_sent(r, send, events);
    }

    fn client_sent(&mut self, r: usize, send: Vec<ClientMessage>, events: Vec<DeviceEvent>) {
        for event in events {
            if let DeviceEvent::Refused(why) | DeviceEvent::Failed(_, why) = event {
                panic!(
                    "replica {r}: a valid change was refused: {why} (after {} restores)",
                    self.restores
                );
            }
        }
        if let Some(conn) = self.replicas[r].conn {
            for message in send {
                self.send(conn, true, message.encode());
            }
        }
    }

    fn server_outputs(
        &mut self,
        conn: u64,
        outputs: Vec<fieldsync_protocol::engine::ServerOutput>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let run = c
            .host
            .run(&mut self.server, &mut c.session, outputs)
            .unwrap();
        for message in run.send {
            self.send(conn, false, message.encode());
        }
        if run.committed {
            self.notify_all();
        }
    }

    /// A commit: as the server's sync route does, every technician's scope is read again,
    /// then every session loads what is new.
    fn notify_all(&mut self) {
        let latest = self.server.latest_seq().unwrap();
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            let mut outputs = c.host.rescope(&mut self.server, &mut c.session).unwrap();
            outputs.extend(c.session.notify(latest));
            self.server_outputs(id, outputs);
        }
    }

    /// The office assigns a job to some of the technicians (or none) on the server.
    fn office_reassigns(&mut self) {
        let now = Timestamp::from_millis(1_790_000_000_000 + self.now as i64).unwrap();
        let technicians: Vec<UserId> = self
            .replicas
            .iter()
            .filter(|r| r.writer.role == Role::Technician)
            .map(|r| r.writer.author.user)
            .collect();
        let writer = office_writer(&mut self.rng);
        if demo::reassign(&mut self.server, &writer, &mut self.rng, now, &technicians) {
            self.notify_all();
        }
    }

    fn deliver(&mut self, packet: Packet) {
        if packet.to_server {
            let message = ClientMessage::decode(&packet.bytes).expect("client frames decode");
            let Some(c) = self.conns.get_mut(&packet.conn) else {
                return;
            };
            let outputs = c.session.receive(message);
            self.server_outputs(packet.conn, outputs);
        } else {
            let message = ServerMessage::decode(&packet.bytes).expect("server frames decode");
            self.reconciles += usize::from(message == ServerMessage::ListAccounts);
            let Some(r) = self
                .replicas
                .iter()
                .position(|r| r.conn == Some(packet.conn))
            else {
                return;
            };
            let outputs = self.replicas[r].session.receive(self.now, message);
            self.client_outputs(r, outputs);
        }
    }

    fn local_edit(&mut self, r: usize) {
        let now = Timestamp::from_millis(1_790_000_000_000 + self.now as i64).unwrap();
        let pick = self.rng.below(100);
        let replica = &mut self.replicas[r];
        let made = demo::random_edit(
            &mut replica.store,
            &replica.writer,
            replica.origin,
            &mut self.rng,
            now,
            pick,
        );
        let Some((doc, hash, bytes, payment)) = made else {
            return;
        };
        self.payments_made += usize::from(payment);
        replica.made.push(hash);
        let outputs = replica
            .session
            .local_changes(self.now, vec![OutboxItem { hash, doc, bytes }]);
        self.client_outputs(r, outputs);
    }

    fn office_edit_on_server(&mut self) {
        let now = Timestamp::from_millis(1_790_000_000_000 + self.now as i64).unwrap();
        let writer = office_writer(&mut self.rng);
        let pick = self.rng.below(100);
        if let Some((_, _, _, payment)) = demo::random_edit(
            &mut self.server,
            &writer,
            Origin::LOCAL,
            &mut self.rng,
            now,
            pick,
        ) {
            self.payments_made += usize::from(payment);
            self.notify_all();
        }
    }

    fn step(&mut self) {
        self.now += STEP_MS;
        if self.faults {
            for r in 0..self.replicas.len() {
                match self.rng.below(1000) {
                    0..=14 if self.replicas[r].conn.is_some() => self.disconnect(r),
                    15..=44 if self.replicas[r].conn.is_none() => self.connect(r),
                    45..=49 => self.restart_replica(r),
                    50..=129 => self.local_edit(r),
                    _ => {}
                }
            }
            match self.rng.below(1000) {
                0..=3 => self.restart_server(),
                4..=40 => self.office_edit_on_server(),
                41..=60 => self.office_reassigns(),
                61..=66 if self.restores_on => self.back_up_server(),
                67..=68 if self.restores_on => self.restore_server(),
                _ => {}
            }
        }
        let now = self.now;
        let (due, later): (Vec<Packet>, Vec<Packet>) = std::mem::take(&mut self.net)
            .into_iter()
            .partition(|p| p.at <= now);
        self.net = later;
        for packet in due {
            if self.faults {
                match self.rng.below(100) {
                    0..=4 if !packet.first => continue, // dropped
                    5..=8 if !packet.first && packet.to_server => self.net.push(Packet {
                        at: now + 1 + self.rng.below(80),
                        first: false,
                        conn: packet.conn,
                        to_server: packet.to_server,
                        bytes: packet.bytes.clone(),
                    }),
                    _ => {}
                }
            }
            self.deliver(packet);
        }
        for r in 0..self.replicas.len() {
            if self.replicas[r].conn.is_some() {
                let outputs = self.replicas[r].session.tick(self.now);
                self.client_outputs(r, outputs);
            }
        }
    }

    fn restart_replica(&mut self, r: usize) {
        let online = self.replicas[r].conn.is_some();
        self.disconnect(r);
        let forget_cursor = self.rng.below(3) == 0;
        let replica = &mut self.replicas[r];
        replica.store = Store::open(&replica.path).unwrap();
        replica.session = client();
        if forget_cursor {
            // As if restored from a backup made against another server database: the cursor
            // cannot be trusted, and sync must fall back to automerge's own protocol.
            let tx = replica.store.transaction().unwrap();
            let seq = tx.latest_seq().unwrap();
            tx.set_cursor(Some((Cursor { epoch: 0xBAD, seq }, Lineage::EMPTY)))
                .unwrap();
            tx.commit().unwrap();
            self.fallbacks += 1;
        }
        if online {
            self.connect(r);
        }
    }

    fn restart_server(&mut self) {
        for r in 0..self.replicas.len() {
            self.disconnect(r);
        }
        self.server = Store::open(&self.server_path).unwrap();
    }

    /// A backup of the running server's database.
    fn back_up_server(&mut self) {
        let path = self
            ._dir
            .path()
            .join(format!("backup{}.sqlite3", self.snapshots.len()));
        self.server.backup_to(&path).unwrap();
        self.snapshots.push(path);
    }

    /// The server's disk dies: one of its backups goes back in place, and it starts again.
    /// What it stored since is on the replicas that hold it.
    fn restore_server(&mut self) {
        if self.snapshots.is_empty() {
            return;
        }
        let snapshot = self.snapshots[self.rng.below(self.snapshots.len() as u64) as usize].clone();
        for r in 0..self.replicas.len() {
            self.disconnect(r);
        }
        self.server = Store::open_in_memory().unwrap(); // the file is closed
        fieldsync_store::restore(&snapshot, &self.server_path).unwrap();
        self.server = Store::open(&self.server_path).unwrap();
        self.restores += 1;
        let has = |store: &Store, hash: &[u8; 32]| -> bool {
            store
                .conn()
                .prepare_cached("SELECT 1 FROM changes WHERE hash = ?1")
                .unwrap()
                .exists([&hash[..]])
                .unwrap()
        };
        for replica in &self.replicas {
            for hash in &replica.made {
                let held = has(&self.server, hash)
                    || self.replicas.iter().any(|other| has(&other.store, hash));
                if !held {
                    self.lost_with_restore.insert(*hash);
                }
            }
        }
    }

    /// Heal: no more faults, everyone reconnects, run until nothing moves.
    fn settle(&mut self) {
        self.faults = false;
        for r in 0..self.replicas.len() {
            self.disconnect(r);
            self.connect(r);
        }
        for _ in 0..(4 * RETRY_MS / STEP_MS + 200) {
            self.step();
        }
        assert!(self.net.is_empty(), "network still busy after settling");
    }
}

fn office_writer(rng: &mut Rng) -> Writer {
    let actor = rng.actor();
    Writer::new(Role::Office, UserId(rng.uuid()), "server office").with_actor(actor)
}

fn client() -> ClientSession {
    ClientSession::new(ClientConfig {
        retry_after_ms: RETRY_MS,
        verify_quiet_ms: RETRY_MS,
        ..Default::default()
    })
}

fn snapshot(store: &Store, scope: &Scope) -> (BTreeSet<DocId>, [u8; 32]) {
    (
        store.doc_ids(scope).unwrap().into_iter().collect(),
        store.heads_digest(scope).unwrap(),
    )
}

fn balances(store: &Store, scope: &Scope) -> BTreeMap<String, String> {
    store
        .accounts()
        .unwrap()
        .into_iter()
        .filter(|a| scope.contains(a.id))
        .map(|a| {
            (
                a.id.to_string(),
                format!("{:?}", store.ledger(a.id).unwrap()),
            )
        })
        .collect()
}

/// What one run did, to check that the seeds really exercise the paths they are meant to.
#[derive(Debug, Default)]
struct Ran {
    changes: usize,
    fallbacks: usize,
    restores: usize,
    reconciles: usize,
    /// Changes lost with a restore (no replica held them any more).
    lost_with_restore: usize,
    /// Digest of the converged documents: a replayed seed reproduces it exactly.
    digest: String,
}

fn run(seed: u64) -> Ran {
    let mut sim = Sim::new(seed);
    let mut digest = String::new();
    for _ in 0..ROUNDS {
        sim.faults = true;
        for _ in 0..STEPS {
            sim.step();
        }
        sim.settle();
        digest = sim.check();
    }
    Ran {
        changes: sim.replicas.iter().map(|r| r.made.len()).sum(),
        fallbacks: sim.fallbacks,
        restores: sim.restores,
        reconciles: sim.reconciles,
        lost_with_restore: sim.lost_with_restore.len(),
        digest,
    }
}

impl Sim {
    /// After settling: every replica holds exactly the documents of its scope, identical to
    /// the server's, with the same balances; nothing waits to be sent; every change made on a
    /// replica is on the server; every payment counts once and no invoice number is used
    /// twice. Returns the digest of the server's documents.
    fn check(&self) -> String {
        let all = snapshot(&self.server, &Scope::All);
        for (r, replica) in self.replicas.iter().enumerate() {
            let scope = match replica.writer.role {
                Role::Technician => Scope::Accounts(
                    self.server
                        .technician_accounts(replica.writer.author.user)
                        .unwrap(),
                ),
                Role::Office | Role::Admin => Scope::All,
            };
            let expected = snapshot(&self.server, &scope);
            if snapshot(&replica.store, &Scope::All) != expected {
                diagnose(r, &replica.store, &self.server, &scope);
            }
            assert_eq!(
                snapshot(&replica.store, &Scope::All),
                expected,
                "replica {r} does not hold exactly the server's documents of its scope"
            );
            assert_eq!(
                balances(&replica.store, &Scope::All),
                balances(&self.server, &scope),
                "replica {r} balances differ"
            );
            assert!(
                replica.store.outbox().unwrap().is_empty(),
                "replica {r} still has unsent changes"
            );
            let tx_store = &mut Store::open(&self.server_path).unwrap();
            let tx = tx_store.transaction().unwrap();
            let refused: BTreeSet<[u8; 32]> = replica
                .store
                .outbox_entries()
                .unwrap()
                .into_iter()
                .filter(|e| e.status != fieldsync_store::OutboxStatus::Pending)
                .map(|e| e.hash)
                .collect();
            assert!(refused.is_empty(), "replica {r}: changes refused");
            for hash in replica
                .made
                .iter()
                .filter(|h| !refused.contains(*h) && !self.lost_with_restore.contains(*h))
            {
                assert!(
                    tx.has_change(hash).unwrap(),
                    "replica {r}: a change made offline never reached the server"
                );
            }
        }
        let mut numbers = BTreeSet::new();
        let mut payments = 0;
        for id in self.server.doc_ids(&Scope::All).unwrap() {
            match self.server.record(id).unwrap() {
                Some(Record::Job(job)) => {
                    for invoice in job.invoices.values() {
                        assert!(
                            numbers.insert(invoice.number.clone()),
                            "invoice number {} used twice",
                            invoice.number
                        );
                    }
                }
                Some(Record::Payment(_)) => payments += 1,
                Some(other) => assert_ne!(other.kind(), DocKind::Payment),
                None => panic!("document {id} unreadable"),
            }
        }
        if self.restores == 0 {
            assert_eq!(
                payments, self.payments_made,
                "every payment counts exactly once"
            );
        } else {
            // A payment the office recorded on the server after the backup that went back, and
            // that no replica received, is gone with the disk; none counts twice.
            assert!(
                payments <= self.payments_made,
                "{payments} payments on the server, {} made",
                self.payments_made
            );
        }
        all.1.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Seed 234 (found when the records gained fields, which changed every run's course): after a
/// restore, a tablet holds an office note the server lost and had attested, and its own change
/// on top of it. A false positive of the server's Bloom filter hid the note from the tablet's
/// sync message; the server received the tablet's change without what it depends on, dropped
/// it with the document it could not store, and asked for the change itself again instead of
/// the note, round after round. Fixed by keeping such changes across rounds
/// (`engine::fallback`); replayed here on its own so that it stays fixed whatever the default
/// number of seeds.
#[test]
fn a_repair_after_a_restore_takes_back_attested_changes_hidden_by_a_bloom_false_positive() {
    run(234);
}

#[test]
fn replicas_converge_under_faults() {
    if let Ok(seed) = std::env::var("FIELDSYNC_SIM_SEED") {
        let ran = run(seed.parse().expect("FIELDSYNC_SIM_SEED is a number"));
        eprintln!(
            "seed {seed}: {} changes, {} fallbacks, {} restores, {} scopes put right, documents digest {}",
            ran.changes, ran.fallbacks, ran.restores, ran.reconciles, ran.digest
        );
        return;
    }
    let mut total = Ran::default();
    let seeds: u64 = std::env::var("FIELDSYNC_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    for seed in 0..seeds {
        match std::panic::catch_unwind(|| run(seed)) {
            Ok(ran) => {
                total.changes += ran.changes;
                total.fallbacks += ran.fallbacks;
                total.restores += ran.restores;
                total.reconciles += ran.reconciles;
                total.lost_with_restore += ran.lost_with_restore;
            }
            Err(panic) => {
                eprintln!(
                    "simulation failed for seed {seed}; replay with FIELDSYNC_SIM_SEED={seed} cargo test -p fieldsync-tests --test convergence"
                );
                std::panic::resume_unwind(panic);
            }
        }
    }
    eprintln!("{seeds} seeds: {total:?}");
    let enough = seeds as usize * 10;
    assert!(
        total.changes >= enough,
        "too few changes to test anything: {total:?}"
    );
    assert!(
        seeds < 10 || total.fallbacks > 0,
        "no run exercised the sync fallback"
    );
    assert!(
        seeds < 10 || total.reconciles > 0,
        "no run changed a scope while its technician was away"
    );
    assert!(
        seeds < 10
            || total.restores > 0
            || std::env::var("FIELDSYNC_SIM_RESTORES").is_ok_and(|v| v == "0"),
        "no run put the server back to a backup"
    );
}

/// Says which documents differ and how, before the assertion fails.
fn diagnose(r: usize, replica: &Store, server: &Store, scope: &Scope) {
    let theirs: BTreeSet<DocId> = server.doc_ids(scope).unwrap().into_iter().collect();
    let ours: BTreeSet<DocId> = replica.doc_ids(&Scope::All).unwrap().into_iter().collect();
    for id in ours.difference(&theirs) {
        eprintln!(
            "replica {r}: holds {id} (account {:?}; on the server: {:?}), outside its scope or unknown to the server",
            replica.record(*id).ok().flatten().map(|r| r.account()),
            server.record(*id).ok().flatten().map(|r| r.account())
        );
    }
    for id in theirs.difference(&ours) {
        eprintln!("replica {r}: lacks {id} of its scope");
    }
    for id in server.doc_ids(scope).unwrap() {
        let mut ours = replica.load(id).unwrap().unwrap_or_default();
        let mut theirs = server.load(id).unwrap().unwrap_or_default();
        if ours.get_heads() != theirs.get_heads() {
            let lacking = ours.get_changes_added(&mut theirs);
            let missing_here = lacking.len();
            let mut replica_rw =
                Store::open(replica.conn().path().map(std::path::Path::new).unwrap()).unwrap();
            let tx = replica_rw.transaction().unwrap();
            for change in &lacking {
                eprintln!(
                    "  lacking change {} (seq {} of actor {}, deps {:?}): in the replica's change log: {}",
                    change.hash(),
                    change.seq(),
                    change.actor_id(),
                    change.deps().len(),
                    tx.has_change(&change.hash().0).unwrap()
                );
            }
            drop(tx);
            let fresh = replica_rw.load(id).unwrap().unwrap_or_default().get_heads();
            eprintln!(
                "  heads: cached load {:?} / fresh store {:?} / server {:?}",
                ours.get_heads().len(),
                fresh == ours.get_heads(),
                theirs.get_heads().len()
            );
            let missing_there = theirs.get_changes_added(&mut ours).len();
            let kind = server.record(id).unwrap().map(|r| r.kind());
            eprintln!(
                "replica {r}: {id} ({kind:?}) lacks {missing_here} of the server's changes; the server lacks {missing_there} of its; replica missing deps {:?}",
                ours.get_missing_deps(&[]).len()
            );
        }
    }
    eprintln!(
        "replica {r}: outbox {:?}, cursor {:?}",
        replica.outbox_entries().unwrap().len(),
        replica.cursor().unwrap()
    );
    eprintln!(
        "server quarantine: {}",
        server.quarantined(100).unwrap().len()
    );
}
