//! `edit`: what a change to a document with a long history costs, against a small document.
//!
//! A company with an account of 500 jobs, one of which holds 5,000 notes written over 100
//! visits, and a fresh small job. One device then adds notes one at a time, 2,000 to each job:
//! first straight into the server's store (the server's cost of checking and storing a change,
//! beside plain automerge `apply_changes` of the same changes to the same document), then over
//! a WebSocket to the server in its own process (acknowledgement latency), then 2,000 more in
//! pushes of 100 (acknowledged edits a second), and last 16 devices at once, each adding
//! 1,000 notes to a job of its own in pushes of 50. `edit store` runs only the first phase;
//! `FIELDSYNC_EDITS=200` pushes 200 instead of 2,000 in each phase.

use std::path::Path;
use std::time::{Duration, Instant};

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit, Change, ReadDoc};
use fieldsync_protocol::wire::{ClientMessage, DocData};
use fieldsync_protocol::{
    AccountId, Author, DocId, Note, NoteId, NoteKind, Record, Role, Timestamp, UserId, Writer,
};
use fieldsync_store::{CheckedOutcome, Origin, Store};

use crate::net::{self, percentile};
use crate::print;

/// Notes in the big job, written in this many visits.
const NOTES: usize = 5_000;
const VISITS: usize = 100;
/// Jobs on the big job's account.
const JOBS: usize = 500;
/// Single-note changes pushed to each job in each phase, unless `FIELDSYNC_EDITS` says.
fn edits() -> usize {
    std::env::var("FIELDSYNC_EDITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

/// A device adding notes to one document.
struct Device {
    doc: DocId,
    document: AutoCommit,
    author: Author,
    /// Milliseconds of the next change.
    clock: i64,
}

impl Device {
    fn new(doc: DocId, document: &AutoCommit) -> Device {
        let mut document = document.clone();
        document.set_actor(ActorId::random());
        Device {
            doc,
            document,
            author: Author {
                user: UserId::new(),
                name: "Tess".into(),
            },
            clock: chrono::Utc::now().timestamp_millis(),
        }
    }

    /// Adds `count` notes in one change, as the tablet writes them (only the new notes).
    fn add_notes(&mut self, count: usize) -> Change {
        let notes = match self.document.get(automerge::ROOT, "notes") {
            Ok(Some((automerge::Value::Object(_), id))) => id,
            other => panic!("no notes map: {other:?}"),
        };
        for _ in 0..count {
            self.clock += 1;
            let note = Note {
                id: NoteId::new(),
                kind: NoteKind::ServicePerformed,
                text: format!(
                    "Visit {}: checked the burner, cleaned the flue, pressure 1.4 bar.",
                    self.clock
                ),
                author: self.author.user,
                author_name: self.author.name.clone(),
                created_at: Timestamp::from_millis(self.clock).unwrap(),
            };
            autosurgeon::reconcile_prop(&mut self.document, &notes, &*note.id.to_string(), &note)
                .unwrap();
        }
        let options = CommitOptions::default()
            .with_message(self.author.to_message())
            .with_time(self.clock);
        self.document.commit_with(options).unwrap();
        self.document.get_last_local_change().unwrap()
    }

    fn changes(&mut self, count: usize) -> Vec<Change> {
        (0..count).map(|_| self.add_notes(1)).collect()
    }
}

/// The big and the small job, and [`MANY`] other jobs of the big job's account.
pub(crate) struct Seeded {
    pub big: (DocId, AutoCommit),
    pub small: (DocId, AutoCommit),
    pub others: Vec<(DocId, AutoCommit)>,
}

/// Devices that edit jobs of their own at once, in the last phase.
const MANY: usize = 16;

/// The company: an account with [`JOBS`] jobs, the first holding [`NOTES`] notes; and a small
/// job on another account.
pub(crate) fn seed(db: &Path) -> Seeded {
    let mut store = Store::open(db).unwrap();
    let office = Writer::new(Role::Office, UserId::new(), "Dana");
    let accounts = store.accounts().unwrap();
    let (big_account, small_account) = (accounts[0].id, accounts[1].id);
    let sites = |account: AccountId| store.sites_for_account(account).unwrap()[0].id;
    let (big_site, small_site) = (sites(big_account), sites(small_account));
    let now = Timestamp(chrono::Utc::now());
    let job = |account: AccountId, site, title: String| {
        let record = Record::new_job(fieldsync_protocol::Job {
            id: fieldsync_protocol::JobId::new(),
            account,
            site,
            title,
            requested_services: vec!["Annual service".into()],
            pickup_address: None,
            delivery_address: None,
            inventory: Vec::new(),
            estimate: None,
            final_amount: None,
            status: fieldsync_protocol::JobStatus::Scheduled,
            technicians: Default::default(),
            scheduled_start: None,
            scheduled_end: None,
            created_at: now,
            contact: None,
        });
        let (document, change) = office.create(&record, now).unwrap();
        (record.doc_id(), document, change)
    };
    let mut docs = Vec::new();
    let (big, mut big_doc, change) = job(big_account, big_site, "Boiler contract".into());
    docs.push((big, change));
    let mut others = Vec::new();
    for i in 1..JOBS {
        let (doc, document, change) = job(big_account, big_site, format!("Visit {i}"));
        docs.push((doc, change));
        if others.len() < MANY {
            others.push((doc, document));
        }
    }
    let (small, small_doc, change) = job(small_account, small_site, "Leaking tap".into());
    docs.push((small, change));
    // Five years of weekly visits: the big job's notes, written visit by visit.
    let mut writer = Device::new(big, &big_doc);
    for _ in 0..VISITS {
        docs.push((big, writer.add_notes(NOTES / VISITS)));
    }
    big_doc = writer.document;
    let data: Vec<DocData> = docs
        .into_iter()
        .map(|(doc, mut change)| DocData {
            doc,
            data: change.bytes().to_vec(),
            attested: None,
        })
        .collect();
    let tx = store.transaction().unwrap();
    for chunk in data.chunks(256) {
        tx.apply_batch(chunk, Origin::LOCAL).unwrap();
    }
    tx.commit().unwrap();
    Seeded {
        big: (big, big_doc),
        small: (small, small_doc),
        others,
    }
}

fn summary(name: &str, mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let (p50, p99) = (percentile(&times, 0.50), percentile(&times, 0.99));
    print(&format!("{name}_p50"), format!("{p50:.3}"), "ms");
    print(&format!("{name}_p99"), format!("{p99:.3}"), "ms");
    (p50, p99)
}

/// The server's cost of each change: checked and stored in its own transaction.
fn server_cost(store: &mut Store, doc: DocId, changes: &[Change]) -> Vec<Duration> {
    changes
        .iter()
        .map(|change| {
            let started = Instant::now();
            let tx = store.transaction().unwrap();
            let outcome = tx
                .apply_checked(doc, change.raw_bytes(), Role::Technician, Origin(1))
                .unwrap();
            tx.commit().unwrap();
            let took = started.elapsed();
            assert!(matches!(outcome, CheckedOutcome::Stored(_)), "{outcome:?}");
            took
        })
        .collect()
}

/// The tablet's cost of adding a note to job `doc` (reading, editing, checking and storing it
/// in its replica and outbox), [`TABLET_EDITS`] times.
fn tablet_cost(db: &Path, doc: DocId) -> Vec<Duration> {
    let author = Author {
        user: UserId::new(),
        name: "Tess".into(),
    };
    let mut tablet = fieldsync_app::Tablet::open(db, author).unwrap();
    let job = fieldsync_protocol::JobId::from_slice(doc.as_bytes()).unwrap();
    let mut clock = chrono::Utc::now().timestamp_millis();
    (0..TABLET_EDITS.min(edits()))
        .map(|i| {
            clock += 1;
            let now = Timestamp::from_millis(clock).unwrap();
            let text = format!("Visit {i}: checked the burner, cleaned the flue, 1.4 bar.");
            let started = Instant::now();
            tablet
                .add_job_note(now, job, NoteKind::ServicePerformed, &text)
                .unwrap();
            started.elapsed()
        })
        .collect()
}

/// Notes the tablet adds to each job.
const TABLET_EDITS: usize = 500;

/// Plain automerge: the same changes applied to the same document, one at a time.
fn automerge_cost(document: &AutoCommit, changes: &[Change]) -> Vec<Duration> {
    let mut document = document.clone();
    changes
        .iter()
        .map(|change| {
            let started = Instant::now();
            document.apply_changes([change.clone()]).unwrap();
            started.elapsed()
        })
        .collect()
}

fn data(doc: DocId, changes: &[Change]) -> Vec<DocData> {
    changes
        .iter()
        .map(|c| DocData {
            doc,
            data: c.raw_bytes().to_vec(),
            attested: None,
        })
        .collect()
}

/// Pushes `changes` in batches of `size`, numbered on from `batch`, at most 4 unacknowledged at
/// a time, and waits for every acknowledgement; returns the last batch number.
async fn push_all(
    client: &mut fieldsync_tests::sync_client::SyncClient,
    mut batch: u64,
    changes: &[DocData],
    size: usize,
) -> u64 {
    let mut in_flight = std::collections::VecDeque::new();
    for chunk in changes.chunks(size) {
        batch += 1;
        let push = ClientMessage::Push {
            batch,
            changes: chunk.to_vec(),
        };
        client.send(&push).await;
        in_flight.push_back(batch);
        if in_flight.len() == 4 {
            net::wait_ack(client, in_flight.pop_front().unwrap()).await;
        }
    }
    while let Some(b) = in_flight.pop_front() {
        net::wait_ack(client, b).await;
    }
    batch
}

pub(crate) async fn edit() {
    let dir = tempfile::tempdir().unwrap();
    // One device for the single pushes, one for each of the many at once.
    let (db, tokens) = net::setup_devices(&dir, 1 + MANY);
    let token = tokens[0].clone();
    let seeding = Instant::now();
    let Seeded {
        big: (big, big_doc),
        small: (small, small_doc),
        others,
    } = seed(&db);
    print(
        "edit_seed_time",
        format!("{:.1}", seeding.elapsed().as_secs_f64()),
        "s",
    );
    print("edit_big_job_notes", NOTES, "notes");
    print("edit_account_jobs", JOBS, "jobs");
    // The network phases start from the same company.
    let net_db = dir.path().join("network.sqlite3");
    std::fs::copy(&db, &net_db).unwrap();

    // One device per job; the same changes for the store and for plain automerge.
    let (mut on_big, mut on_small) = (Device::new(big, &big_doc), Device::new(small, &small_doc));
    let (big_changes, small_changes) = (on_big.changes(edits()), on_small.changes(edits()));
    let mut store = Store::open(&db).unwrap();
    // As the server's writer: compaction is left to the background (timed below).
    store.defer_compaction();
    let small_cost = server_cost(&mut store, small, &small_changes);
    let big_cost = server_cost(&mut store, big, &big_changes);
    let (small_p50, _) = summary("edit_small_server_cost", small_cost);
    let (big_p50, _) = summary("edit_big_server_cost", big_cost);
    print(
        "edit_cost_ratio",
        format!("{:.2}", big_p50 / small_p50),
        "ratio",
    );
    summary(
        "edit_small_automerge_apply",
        automerge_cost(&small_doc, &small_changes),
    );
    summary(
        "edit_big_automerge_apply",
        automerge_cost(&big_doc, &big_changes),
    );
    // The big job's compaction, as the server's background makes it: re-saved on a reader,
    // put in place on the writer.
    let started = Instant::now();
    let compaction = store.compaction(big).unwrap().unwrap();
    let saved = started.elapsed();
    let started = Instant::now();
    let installed = store
        .write(|tx| tx.install_compaction(big, &compaction))
        .unwrap();
    assert!(installed);
    print(
        "edit_big_compaction_save",
        format!("{:.1}", saved.as_secs_f64() * 1000.0),
        "ms",
    );
    print(
        "edit_big_compaction_install",
        format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        "ms",
    );
    print(
        "edit_big_compacted_bytes",
        compaction.snapshot.len(),
        "bytes",
    );
    drop(store);
    // The tablet's own edits: a note added through the tablet core, on the same documents.
    let tablet_db = dir.path().join("tablet.sqlite3");
    std::fs::copy(&db, &tablet_db).unwrap();
    let (small_p50, _) = summary("edit_small_tablet_note", tablet_cost(&tablet_db, small));
    let (big_p50, _) = summary("edit_big_tablet_note", tablet_cost(&tablet_db, big));
    print(
        "edit_tablet_cost_ratio",
        format!("{:.2}", big_p50 / small_p50),
        "ratio",
    );
    if std::env::args().nth(2).as_deref() == Some("store") {
        return;
    }

    // Over the network: acknowledgement latency of single-note pushes, then throughput.
    let mut on_big = Device::new(big, &big_doc);
    let mut on_small = Device::new(small, &small_doc);
    let server = net::start(&net_db);
    let mut client = net::connect(server.addr, &token).await;
    let mut batch = 0u64;
    for (name, device) in [("small", &mut on_small), ("big", &mut on_big)] {
        let mut times = Vec::with_capacity(edits());
        for change in device.changes(edits()) {
            batch += 1;
            let started = Instant::now();
            let push = ClientMessage::Push {
                batch,
                changes: data(device.doc, &[change]),
            };
            client.send(&push).await;
            net::wait_ack(&mut client, batch).await;
            times.push(started.elapsed());
        }
        summary(&format!("edit_{name}_ack_latency"), times);
    }
    for (name, device) in [("small", &mut on_small), ("big", &mut on_big)] {
        let changes = data(device.doc, &device.changes(edits()));
        let started = Instant::now();
        batch = push_all(&mut client, batch, &changes, 100).await;
        let rate = edits() as f64 / started.elapsed().as_secs_f64();
        print(
            &format!("edit_{name}_acknowledged_per_second"),
            format!("{rate:.0}"),
            "edits/s",
        );
    }
    // Many devices at once, each adding notes to a job of its own (existing documents).
    let per_device = edits() / 2;
    let mut clients = Vec::new();
    for ((doc, document), token) in others.iter().zip(&tokens[1..]) {
        let mut device = Device::new(*doc, document);
        let changes = data(*doc, &device.changes(per_device));
        clients.push((net::connect(server.addr, token).await, changes));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (mut client, changes) in clients {
        tasks.push(tokio::spawn(async move {
            push_all(&mut client, 0, &changes, 50).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rate = (others.len() * per_device) as f64 / started.elapsed().as_secs_f64();
    print("edit_many_devices", others.len(), "devices");
    print(
        "edit_many_acknowledged_per_second",
        format!("{rate:.0}"),
        "edits/s",
    );
    print("edit_server_rss", server.rss_kib() / 1024, "MiB");
}

/// `pages`: the office pages of those records, big and small, as a signed-in clerk sees them
/// (40 requests each, or `FIELDSYNC_PAGE_REQUESTS`), and as many notes the office adds to each.
pub(crate) async fn pages() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = net::setup(&dir);
    let Seeded {
        big: (big, _),
        small: (small, _),
        ..
    } = seed(&db);
    let store = Store::open(&db).unwrap();
    let account_of = |doc: DocId| store.record(doc).unwrap().unwrap().account();
    let (big_account, small_account) = (account_of(big), account_of(small));
    drop(store);
    let server = net::start(&db);
    let http = net::http_client().cookie_store(true).build().unwrap();
    let base = net::base_url(server.addr);
    let login = http
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"name": "dana", "password": "dana-office-demo"}))
        .send()
        .await
        .unwrap();
    assert!(
        login.status().is_success(),
        "signing in: {}",
        login.status()
    );
    let pages = [
        ("job_page_big", format!("/jobs/{big}")),
        ("job_page_small", format!("/jobs/{small}")),
        ("job_api_big", format!("/api/jobs/{big}")),
        ("customer_page_big", format!("/customers/{big_account}")),
        ("customer_page_small", format!("/customers/{small_account}")),
    ];
    let requests = std::env::var("FIELDSYNC_PAGE_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    for (name, path) in pages {
        let (times, bytes) = net::time_page(&http, &base, &path, requests).await;
        summary(&format!("pages_{name}"), times);
        print(&format!("pages_{name}_bytes"), bytes, "bytes");
    }
    // The office adds notes to both jobs (`POST /api/notes`: read, edit, stored durably).
    for (name, job) in [("small", small), ("big", big)] {
        let mut times = Vec::with_capacity(requests);
        for i in 0..requests {
            let note = serde_json::json!({
                "on": job.to_string(),
                "kind": "service_request",
                "text": format!("Customer called again ({i}): the boiler is noisy."),
            });
            let started = Instant::now();
            let response = http
                .post(format!("{base}/api/notes"))
                .json(&note)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            times.push(started.elapsed());
        }
        summary(&format!("pages_office_note_{name}"), times);
    }
}
