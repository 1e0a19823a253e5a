//! `fleet`: a whole company on one server, as it runs on a weekday.
//!
//! Seeds, straight into the store, 50,000 accounts (each with a contact and a site), 60,000
//! jobs over the past year (2,500 of them today) and 500 technicians, each assigned the jobs of
//! about 100 accounts (one job in ten shared with a colleague, so that what one writes reaches
//! another). Then the server, in its own process, takes 500 technician tablets (real WebSocket
//! clients, each first downloading its scope) and 20 dispatchers watching the board (the office
//! page's event stream, refetching the board on changes as the page's script does), and for
//! 60 s each technician pushes one change a second (a note, a status change or a payment, in
//! turn: 500 changes/s) while the office reassigns 5 jobs a second (adding a technician to a
//! job, and later taking them off: scopes change live).
//!
//! Printed: acknowledgement latency, delivery latency to the tablets whose scope holds the
//! change and to the dispatchers, deliveries of documents outside a tablet's scope (must be 0),
//! server CPU and peak memory, the database's size; then, on the same company, the board, a
//! search, a customer page and a job page, and a new technician's first download of 100
//! accounts.
//!
//! `FIELDSYNC_FLEET_ACCOUNTS` (default 50,000; one technician per 100 accounts) and
//! `FIELDSYNC_FLEET_SECONDS` (default 60) scale it; `FIELDSYNC_FLEET_REFRESH=0` leaves the
//! boards open but not refreshed (to tell the sync load from the boards').

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use fieldsync_protocol::wire::{ClientMessage, DocData, ServerMessage};
use fieldsync_protocol::{
    AccountId, AccountStatus, AccountType, Address, Author, Contact, ContactId, DocId, Job, JobId,
    JobSite, JobStatus, Note, NoteId, NoteKind, Party, Payment, PaymentId, PaymentMethod, Record,
    Role, SiteId, Timestamp, UserId, Writer,
};
use fieldsync_store::Store;
use fieldsync_tests::demo::Rng;
use fieldsync_tests::sync_client::SyncClient;
use futures_util::StreamExt as _;

use crate::net::{self, percentile};
use crate::print;

/// The dispatchers' shared sign-in.
const DISPATCH: (&str, &str) = ("dispatch", "dispatch-bench-password");
/// Accounts in each technician's scope, before sharing.
const PER_TECHNICIAN: usize = 100;
/// Dispatchers watching the board.
const WATCHERS: usize = 20;
/// Reassignments a second.
const ASSIGNMENTS_PER_SECOND: u64 = 5;
/// The shortest time between two refreshes of the board by the page's script (`app.js`).
const BOARD_GAP: Duration = Duration::from_secs(2);
/// Requests per office page measured after the load.
const PAGE_REQUESTS: usize = 30;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A technician of the seeded company.
struct Technician {
    author: Author,
    token: String,
    /// Jobs assigned at the start: the job, its account, whether it is today's.
    jobs: Vec<(JobId, AccountId, bool)>,
}

/// What [`seed`] made.
struct Company {
    technicians: Vec<Technician>,
    /// A technician who has never synced, with a scope of 100 accounts.
    newcomer: Technician,
    /// Every document's account (payments made during the load are added).
    account_of: HashMap<DocId, AccountId>,
    /// Every job's saved document and its technicians (by index).
    jobs: HashMap<JobId, (Vec<u8>, Vec<usize>)>,
    /// An account with two jobs, one of them today's; a word of its name.
    sample: (AccountId, JobId, String),
}

fn address(rng: &mut Rng, n: usize) -> Address {
    Address {
        line1: format!("{} Harbor Rd", 1 + rng.below(900)),
        line2: None,
        city: format!("Town {}", n % 300),
        region: "OR".into(),
        postal_code: format!("97{:03}", rng.below(1000)),
        country: "US".into(),
    }
}

fn seed(db: &Path, accounts: usize) -> Company {
    let technicians = (accounts / PER_TECHNICIAN).max(2);
    let mut store = Store::open(db).unwrap();
    let mut rng = Rng::new(19);
    let now = Timestamp(chrono::Utc::now());
    let today = now.0.date_naive();
    let tx = store.transaction().unwrap();
    let password = fieldsync_server::auth::hash_password(DISPATCH.1).unwrap();
    let dispatcher = tx
        .add_user(DISPATCH.0, Role::Office, Some(&password))
        .unwrap();
    let mut people: Vec<Technician> = (0..=technicians)
        .map(|t| {
            let name = format!("tech{t:04}");
            let user = tx.add_user(&name, Role::Technician, None).unwrap();
            let (token, hash) = fieldsync_server::auth::new_device_token();
            tx.add_device(user.id, &format!("{name}'s tablet"), hash)
                .unwrap();
            Technician {
                author: Author {
                    user: user.id,
                    name,
                },
                token,
                jobs: Vec::new(),
            }
        })
        .collect();
    tx.commit().unwrap();
    let office = Writer::new(Role::Office, dispatcher.id, DISPATCH.0).with_actor(rng.actor());
    let newcomer_every = (accounts / 100).max(1);
    let mut account_of = HashMap::new();
    let mut jobs = HashMap::new();
    let mut sample = None;
    let mut k = 0usize; // jobs made so far
    for chunk in (0..accounts).collect::<Vec<_>>().chunks(2_000) {
        let tx = store.transaction().unwrap();
        for &n in chunk {
            let mut create = |record: &Record, at: Timestamp| {
                let (mut doc, change) = office.create(record, at).unwrap();
                tx.record_local(record.doc_id(), &mut doc, &change, false)
                    .unwrap();
                account_of.insert(record.doc_id(), record.account());
                doc
            };
            let created = Timestamp(now.0 - chrono::Duration::days(400));
            let id = AccountId(rng.uuid());
            let name = format!("Customer{n:05} Heating");
            let mut account = Record::new_account(fieldsync_protocol::Account {
                id,
                name: name.clone(),
                party: Party::Business,
                account_type: AccountType::Customer,
                status: AccountStatus::Active,
                number: format!("A-{:05}", n + 1),
                phone: Some(format!("+1 541 555 {:04}", rng.below(10_000))),
                email: Some(format!("office{n}@example.com")),
                website: None,
                business_type: Some("Heating".into()),
                terms_net_days: 30,
                credit_hold: false,
                payment_method: None,
                billing_address: address(&mut rng, n),
                shipping_address: None,
                rep: None,
                comments: String::new(),
                custom_fields: Default::default(),
                merged_into: None,
                deleted_at: None,
                created_at: created,
            });
            if let Record::Account(doc) = &mut account {
                let contact = Contact {
                    id: ContactId(rng.uuid()),
                    name: format!("Facilities {n}"),
                    role: "Facilities".into(),
                    email: Some(format!("facilities{n}@example.org")),
                    phone: None,
                    sites: Vec::new(),
                    archived_at: None,
                };
                doc.contacts.insert(contact.id, contact);
            }
            create(&account, created);
            let site = JobSite {
                id: SiteId(rng.uuid()),
                account: id,
                name: "Main site".into(),
                address: address(&mut rng, n),
                access_instructions: format!("Gate code {}", rng.below(10_000)),
                archived_at: None,
            };
            let site_id = site.id;
            create(&Record::new_site(site), created);
            let owner = n * technicians / accounts;
            let jobs_here = if n % 5 == 0 { 2 } else { 1 };
            for j in 0..jobs_here {
                let is_today = k.is_multiple_of(24);
                let start = if is_today {
                    let hour = 7 + (k / 24 % 10) as u32;
                    Timestamp(today.and_hms_opt(hour, 0, 0).unwrap().and_utc())
                } else {
                    Timestamp(now.0 - chrono::Duration::hours(24 + rng.below(364 * 24) as i64))
                };
                let mut assigned = vec![owner];
                if k % 10 == 5 {
                    assigned.push((owner + 1) % technicians);
                }
                if n % newcomer_every == 7 % newcomer_every && j == 0 {
                    assigned.push(technicians); // the newcomer
                }
                let job = Job {
                    id: JobId(rng.uuid()),
                    account: id,
                    site: site_id,
                    title: "Boiler service".into(),
                    requested_services: vec!["Annual service".into()],
                    pickup_address: None,
                    delivery_address: None,
                    inventory: Vec::new(),
                    estimate: Some("180.00".parse().unwrap()),
                    final_amount: None,
                    status: if is_today {
                        JobStatus::Scheduled
                    } else {
                        JobStatus::Completed
                    },
                    technicians: assigned
                        .iter()
                        .map(|t| (people[*t].author.user, created))
                        .collect(),
                    scheduled_start: Some(start),
                    scheduled_end: Some(Timestamp(start.0 + chrono::Duration::minutes(90))),
                    created_at: created,
                    contact: None,
                };
                let job_id = job.id;
                let mut doc = create(&Record::new_job(job), created);
                for t in &assigned {
                    people[*t].jobs.push((job_id, id, is_today));
                }
                if is_today && jobs_here == 2 && sample.is_none() {
                    sample = Some((id, job_id, format!("Customer{n:05}")));
                }
                jobs.insert(job_id, (doc.save(), assigned));
                k += 1;
            }
        }
        tx.commit().unwrap();
    }
    let newcomer = people.pop().unwrap();
    Company {
        technicians: people,
        newcomer,
        account_of,
        jobs,
        sample: sample.expect("an account with two jobs, one today"),
    }
}

/// One change a device pushes during the load.
struct Planned {
    doc: DocId,
    account: AccountId,
    data: Vec<u8>,
}

/// A technician's changes in turn: a note on one of their jobs (shared ones first in turn), a
/// status change on one of today's jobs, a payment on one of their accounts.
fn technician_plan(
    technician: &Technician,
    jobs: &HashMap<JobId, (Vec<u8>, Vec<usize>)>,
    count: usize,
    seed: u64,
) -> Vec<Planned> {
    let mut rng = Rng::new(seed);
    let writer = Writer::new(
        Role::Technician,
        technician.author.user,
        technician.author.name.clone(),
    )
    .with_actor(rng.actor());
    let mut docs: HashMap<JobId, AutoCommit> = HashMap::new();
    let shared: Vec<_> = technician
        .jobs
        .iter()
        .filter(|(job, _, _)| jobs[job].1.len() > 1)
        .copied()
        .collect();
    let today: Vec<_> = technician.jobs.iter().filter(|j| j.2).copied().collect();
    let mut out = Vec::with_capacity(count);
    let mut clock = chrono::Utc::now();
    for i in 0..count {
        clock += chrono::Duration::milliseconds(1);
        let now = Timestamp(clock);
        let (job, account, _) = match i % 6 {
            0 | 3 if !shared.is_empty() => shared[i / 6 % shared.len()],
            1 | 4 if !today.is_empty() => today[i / 6 % today.len()],
            _ => technician.jobs[i % technician.jobs.len()],
        };
        if i % 3 == 2 {
            let payment = Record::new_payment(Payment {
                id: PaymentId(rng.uuid()),
                account,
                job: Some(job),
                invoice: None,
                amount: format!("{}.{:02}", 20 + rng.below(400), rng.below(100))
                    .parse()
                    .unwrap(),
                method: PaymentMethod::Card,
                reference: format!("card {}", rng.below(10_000)),
                received_at: now,
                recorded_by: writer.author.user,
                recorded_by_name: writer.author.name.clone(),
                credit_applied: Vec::new(),
            });
            let (_, mut change) = writer.create(&payment, now).unwrap();
            out.push(Planned {
                doc: payment.doc_id(),
                account,
                data: change.bytes().to_vec(),
            });
            continue;
        }
        let doc = docs
            .entry(job)
            .or_insert_with(|| AutoCommit::load(&jobs[&job].0).unwrap());
        let status = i % 3 == 1;
        let note = Note {
            id: NoteId(rng.uuid()),
            kind: NoteKind::ServicePerformed,
            text: format!(
                "Checked the burner and the flue; pressure 1.{} bar.",
                i % 10
            ),
            author: writer.author.user,
            author_name: writer.author.name.clone(),
            created_at: now,
        };
        let mut change = writer
            .edit(doc, now, |record| {
                if let Record::Job(j) = record {
                    if status {
                        let next = JobStatus::FIELD
                            .iter()
                            .position(|s| *s == j.record.status)
                            .map_or(0, |p| (p + 1) % JobStatus::FIELD.len());
                        j.record.status = JobStatus::FIELD[next];
                    } else {
                        j.notes.insert(note.id, note);
                    }
                }
                Ok(())
            })
            .unwrap()
            .expect("the job changed");
        out.push(Planned {
            doc: job.into(),
            account,
            data: change.bytes().to_vec(),
        });
    }
    out
}

/// A reassignment the office makes through the API, as the board's assign form does.
struct Assignment {
    job: JobId,
    account: AccountId,
    /// The job's technicians after it.
    technicians: Vec<UserId>,
    /// The technician added (true) or taken off (false).
    changes: (usize, bool),
}

/// The office's reassignments: every other one adds a technician to a job, the others take
/// the earliest added one off again.
fn office_plan(company: &Company, count: usize) -> Vec<Assignment> {
    let mut rng = Rng::new(7);
    let mut ids: Vec<JobId> = company.jobs.keys().copied().collect();
    ids.sort();
    let mut on: HashMap<JobId, Vec<usize>> = HashMap::new();
    let mut added: VecDeque<(JobId, usize)> = VecDeque::new();
    let technicians = company.technicians.len();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (job, changes) = if i % 2 == 0 || added.is_empty() {
            let job = *rng.pick(&ids);
            let on = on
                .entry(job)
                .or_insert_with(|| company.jobs[&job].1.clone());
            let mut technician = rng.below(technicians as u64) as usize;
            while on.contains(&technician) {
                technician = (technician + 1) % technicians;
            }
            on.push(technician);
            added.push_back((job, technician));
            (job, (technician, true))
        } else {
            let (job, technician) = added.pop_front().unwrap();
            on.get_mut(&job).unwrap().retain(|t| *t != technician);
            (job, (technician, false))
        };
        let user = |t: &usize| match company.technicians.get(*t) {
            Some(technician) => technician.author.user,
            None => company.newcomer.author.user,
        };
        out.push(Assignment {
            job,
            account: company.account_of[&DocId::from(job)],
            technicians: on[&job].iter().map(user).collect(),
            changes,
        });
    }
    out
}

/// The dispatch desk: one reassignment every `period` through the API; the server time of
/// each.
async fn dispatcher(
    http: reqwest::Client,
    base: String,
    plan: Vec<Assignment>,
    first: tokio::time::Instant,
    period: Duration,
    shared: Arc<Shared>,
) -> Vec<Duration> {
    let mut tick = tokio::time::interval_at(first, period);
    let mut times = Vec::with_capacity(plan.len());
    for assignment in plan {
        tick.tick().await;
        let (technician, add) = assignment.changes;
        {
            let mut scopes = shared.scopes.lock().unwrap();
            let Scopes { on_account, ever } = &mut *scopes;
            let on = on_account.entry(assignment.account).or_default();
            if add {
                *on.entry(technician).or_default() += 1;
                ever[technician].insert(assignment.account);
            } else if let Some(n) = on.get_mut(&technician) {
                *n -= 1;
                if *n == 0 {
                    on.remove(&technician);
                }
            }
        }
        shared.sending(assignment.job.into(), assignment.account, None);
        let started = Instant::now();
        let technicians: Vec<String> = assignment
            .technicians
            .iter()
            .map(ToString::to_string)
            .collect();
        let response = http
            .post(format!("{base}/api/jobs/{}/assign", assignment.job))
            .json(&serde_json::json!({ "technicians": technicians }))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "assigning: {}",
            response.status()
        );
        times.push(started.elapsed());
    }
    times
}

/// Who should see what, as the load goes: which technicians have jobs of each account, and
/// every account that was ever in each technician's scope.
struct Scopes {
    on_account: HashMap<AccountId, HashMap<usize, u32>>,
    ever: Vec<HashSet<AccountId>>,
}

/// A change on its way, for measuring its deliveries.
struct Sent {
    at: Instant,
    /// The technicians whose scope held the change's account when it was sent.
    expect: Vec<usize>,
}

/// What every device shares during the load.
struct Shared {
    account_of: HashMap<DocId, AccountId>,
    scopes: Mutex<Scopes>,
    sent: Mutex<HashMap<DocId, Sent>>,
}

impl Shared {
    /// Records that `by` (a technician, or the office when `None`) sends a change to `doc`.
    fn sending(&self, doc: DocId, account: AccountId, by: Option<usize>) {
        let expect = {
            let scopes = self.scopes.lock().unwrap();
            scopes
                .on_account
                .get(&account)
                .map(|on| on.keys().copied().filter(|t| Some(*t) != by).collect())
                .unwrap_or_default()
        };
        self.sent.lock().unwrap().insert(
            doc,
            Sent {
                at: Instant::now(),
                expect,
            },
        );
    }

    /// The latency of `doc`'s latest change as delivered to `receiver` (a technician, or a
    /// dispatcher when `None`), unless it was counted already (`counted`) or not meant for it.
    fn delivered(
        &self,
        doc: DocId,
        receiver: Option<usize>,
        counted: &mut HashMap<DocId, Instant>,
    ) -> Option<Duration> {
        let now = Instant::now();
        let sent = self.sent.lock().unwrap();
        let sent = sent.get(&doc)?;
        if receiver.is_some_and(|r| !sent.expect.contains(&r)) {
            return None;
        }
        if counted.get(&doc) == Some(&sent.at) {
            return None;
        }
        counted.insert(doc, sent.at);
        Some(now - sent.at)
    }
}

/// What one technician's tablet saw during the load.
#[derive(Default)]
struct TabletReport {
    acks: Vec<Duration>,
    deliveries: Vec<Duration>,
    out_of_scope: usize,
    refused: usize,
    unacknowledged: usize,
}

async fn tablet(
    index: usize,
    mut client: SyncClient,
    plan: Vec<Planned>,
    first: tokio::time::Instant,
    period: Duration,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> TabletReport {
    let mut report = TabletReport::default();
    let mut plan = plan.into_iter().peekable();
    let mut tick = tokio::time::interval_at(first, period);
    let mut pushed: HashMap<u64, Instant> = HashMap::new();
    let mut batch = 0u64;
    let mut counted = HashMap::new();
    loop {
        tokio::select! {
            _ = tick.tick(), if plan.peek().is_some() => {
                let change = plan.next().unwrap();
                shared.sending(change.doc, change.account, Some(index));
                batch += 1;
                pushed.insert(batch, Instant::now());
                let changes = vec![DocData { doc: change.doc, data: change.data , attested: None,}];
                client.send(&ClientMessage::Push { batch, changes }).await;
            }
            message = client.recv() => match message {
                Some(ServerMessage::Ack { batch, refused, deferred, .. }) => {
                    if let Some(at) = pushed.remove(&batch) {
                        report.acks.push(at.elapsed());
                    }
                    if let Some(first) = refused.first().filter(|_| report.refused == 0) {
                        eprintln!("tablet {index}: refused: {first:?}");
                    }
                    report.refused += refused.len() + deferred.len();
                }
                Some(ServerMessage::Changes { docs, .. }) => {
                    for data in docs {
                        let Some(account) = shared.account_of.get(&data.doc) else {
                            report.out_of_scope += 1;
                            continue;
                        };
                        if !shared.scopes.lock().unwrap().ever[index].contains(account) {
                            report.out_of_scope += 1;
                            continue;
                        }
                        if let Some(latency) = shared.delivered(data.doc, Some(index), &mut counted) {
                            report.deliveries.push(latency);
                        }
                    }
                }
                Some(_) => {}
                None => panic!("the server closed tablet {index}'s connection"),
            },
            _ = stop.changed() => break,
        }
    }
    report.unacknowledged = pushed.len();
    report
}

/// What one dispatcher's page saw during the load.
#[derive(Default)]
struct WatcherReport {
    deliveries: Vec<Duration>,
    refreshes: Vec<Duration>,
}

/// A dispatcher with the board open: the event stream, and the board fetched again after
/// changes, one fetch at a time and at most one every [`BOARD_GAP`], naming the latest commit
/// announced, as `app.js` does.
async fn watcher(
    http: reqwest::Client,
    base: String,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> WatcherReport {
    let mut report = WatcherReport::default();
    let events = http.get(format!("{base}/api/events")).send().await.unwrap();
    assert!(events.status().is_success(), "events: {}", events.status());
    let mut stream = events.bytes_stream();
    let mut buffer = Vec::new();
    let mut counted = HashMap::new();
    let wanted = Arc::new(tokio::sync::Notify::new());
    let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let refresher = {
        let (wanted, http, mut stop) = (Arc::clone(&wanted), http.clone(), stop.clone());
        let seen = Arc::clone(&seen);
        let board = format!("{base}/");
        let refreshing = setting("FIELDSYNC_FLEET_REFRESH", 1) == 1;
        tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                tokio::select! {
                    _ = wanted.notified() => {}
                    _ = stop.changed() => return times,
                }
                if !refreshing {
                    continue;
                }
                let started = Instant::now();
                let seen = seen.load(std::sync::atomic::Ordering::SeqCst).to_string();
                let response = http
                    .get(&board)
                    .header("X-Fieldsync-Seen", seen)
                    .send()
                    .await
                    .unwrap();
                assert!(
                    response.status().is_success(),
                    "board: {}",
                    response.status()
                );
                response.bytes().await.unwrap();
                times.push(started.elapsed());
                tokio::time::sleep_until((started + BOARD_GAP).into()).await;
            }
        })
    };
    loop {
        tokio::select! {
            chunk = stream.next() => {
                let Some(Ok(chunk)) = chunk else { break };
                buffer.extend_from_slice(&chunk);
                while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
                    let event: Vec<u8> = buffer.drain(..end + 2).collect();
                    let text = String::from_utf8_lossy(&event);
                    let Some(data) = text.lines().find_map(|l| l.strip_prefix("data:")) else {
                        continue;
                    };
                    let data: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
                    if let Some(seq) = data["seq"].as_u64() {
                        seen.fetch_max(seq, std::sync::atomic::Ordering::SeqCst);
                    }
                    wanted.notify_one();
                    for change in data["changes"].as_array().into_iter().flatten() {
                        let Ok(doc) = change["doc"].as_str().unwrap_or_default().parse::<DocId>() else {
                            continue;
                        };
                        if let Some(latency) = shared.delivered(doc, None, &mut counted) {
                            report.deliveries.push(latency);
                        }
                    }
                }
            }
            _ = stop.changed() => break,
        }
    }
    report.refreshes = refresher.await.unwrap();
    report
}

/// Signs in as the dispatcher; a client carrying the session.
async fn signed_in(base: &str) -> reqwest::Client {
    let http = net::http_client().cookie_store(true).build().unwrap();
    let login = http
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"name": DISPATCH.0, "password": DISPATCH.1}))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success(), "sign-in: {}", login.status());
    http
}

/// Seconds of CPU the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |r| r.1)
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    print(&format!("{name}_count"), times.len(), "samples");
    print(
        &format!("{name}_p50"),
        format!("{:.2}", percentile(&times, 0.50)),
        "ms",
    );
    print(
        &format!("{name}_p99"),
        format!("{:.2}", percentile(&times, 0.99)),
        "ms",
    );
}

pub(crate) async fn fleet() {
    let accounts = setting("FIELDSYNC_FLEET_ACCOUNTS", 50_000);
    let seconds = setting("FIELDSYNC_FLEET_SECONDS", 60) as u64;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let started = Instant::now();
    let company = seed(&db, accounts);
    let technicians = company.technicians.len();
    print("fleet_accounts", accounts, "accounts");
    print("fleet_jobs", company.jobs.len(), "jobs");
    print("fleet_technicians", technicians, "technicians");
    print(
        "fleet_seed_seconds",
        format!("{:.1}", started.elapsed().as_secs_f64()),
        "s",
    );

    // Every change of the load, made beforehand (on two threads) so that the clients spend
    // their time sending and receiving.
    let started = Instant::now();
    let halves = company.technicians.split_at(technicians / 2);
    let (first, second) = std::thread::scope(|s| {
        let jobs = &company.jobs;
        let plan = |part: &[Technician], from: usize| {
            part.iter()
                .enumerate()
                .map(|(i, t)| technician_plan(t, jobs, seconds as usize, (from + i) as u64))
                .collect::<Vec<_>>()
        };
        let first = s.spawn(move || plan(halves.0, 0));
        let second = plan(halves.1, halves.0.len());
        (first.join().unwrap(), second)
    });
    let plans: Vec<Vec<Planned>> = first.into_iter().chain(second).collect();
    let office = office_plan(&company, (ASSIGNMENTS_PER_SECOND * seconds) as usize);
    let mut account_of = company.account_of.clone();
    for planned in plans.iter().flatten() {
        account_of.insert(planned.doc, planned.account);
    }
    let mut on_account: HashMap<AccountId, HashMap<usize, u32>> = HashMap::new();
    let mut ever = vec![HashSet::new(); technicians];
    for (job, (_, on)) in &company.jobs {
        let account = company.account_of[&DocId::from(*job)];
        for &t in on.iter().filter(|t| **t < technicians) {
            *on_account.entry(account).or_default().entry(t).or_default() += 1;
            ever[t].insert(account);
        }
    }
    let scope_sizes: Vec<usize> = ever.iter().map(HashSet::len).collect();
    let shared = Arc::new(Shared {
        account_of,
        scopes: Mutex::new(Scopes { on_account, ever }),
        sent: Mutex::new(HashMap::new()),
    });
    print(
        "fleet_plan_seconds",
        format!("{:.1}", started.elapsed().as_secs_f64()),
        "s",
    );
    print(
        "fleet_scope_accounts_mean",
        scope_sizes.iter().sum::<usize>() / technicians,
        "accounts",
    );

    let server = net::start(&db);
    let pid = server.pid();
    let base = net::base_url(server.addr);

    // Every tablet connected and caught up (its first download), four at a time.
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(4));
    let mut connecting = Vec::new();
    for technician in company.technicians.iter() {
        let (gate, token, addr) = (Arc::clone(&gate), technician.token.clone(), server.addr);
        connecting.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            net::connect(addr, &token).await
        }));
    }
    let mut tablets = Vec::new();
    for task in connecting {
        tablets.push(task.await.unwrap());
    }
    print(
        "fleet_connect_seconds",
        format!("{:.1}", started.elapsed().as_secs_f64()),
        "s",
    );
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        watchers.push(signed_in(&base).await);
    }

    // The load.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let period = Duration::from_secs(1);
    let start = tokio::time::Instant::now() + Duration::from_millis(500);
    let rss_before = server.rss_kib();
    let commits_before = net::commit_histogram(server.addr).await;
    let cpu_before = cpu_seconds(pid);
    let mut tasks = Vec::new();
    for (index, (client, plan)) in tablets.into_iter().zip(plans).enumerate() {
        let phase = period * index as u32 / technicians as u32;
        tasks.push(tokio::spawn(tablet(
            index,
            client,
            plan,
            start + phase,
            period,
            Arc::clone(&shared),
            stopping.clone(),
        )));
    }
    let office_task = tokio::spawn(dispatcher(
        signed_in(&base).await,
        base.clone(),
        office,
        start,
        Duration::from_millis(1000 / ASSIGNMENTS_PER_SECOND),
        Arc::clone(&shared),
    ));
    let mut watching = Vec::new();
    for http in watchers {
        watching.push(tokio::spawn(watcher(
            http,
            base.clone(),
            Arc::clone(&shared),
            stopping.clone(),
        )));
    }
    // The load, then time for the last acknowledgements and deliveries.
    tokio::time::sleep_until(start + Duration::from_secs(seconds)).await;
    let cpu = cpu_seconds(pid) - cpu_before;
    let commits_after = net::commit_histogram(server.addr).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.send(true).unwrap();
    let mut all = TabletReport::default();
    for task in tasks {
        let report = task.await.unwrap();
        all.acks.extend(report.acks);
        all.deliveries.extend(report.deliveries);
        all.out_of_scope += report.out_of_scope;
        all.refused += report.refused;
        all.unacknowledged += report.unacknowledged;
    }
    let assignments = office_task.await.unwrap();
    let (mut to_watchers, mut refreshes) = (Vec::new(), Vec::new());
    for task in watching {
        let report = task.await.unwrap();
        to_watchers.extend(report.deliveries);
        refreshes.extend(report.refreshes);
    }
    print(
        "fleet_load_changes",
        all.acks.len() + all.unacknowledged,
        "changes",
    );
    print("fleet_load_assignments", assignments.len(), "changes");
    print(
        "fleet_load_rate",
        format!(
            "{:.0}",
            (all.acks.len() + all.unacknowledged) as f64 / seconds as f64
        ),
        "changes/s",
    );
    print("fleet_refused_or_deferred", all.refused, "changes");
    print("fleet_unacknowledged", all.unacknowledged, "changes");
    summary("fleet_ack", all.acks);
    summary("fleet_assignment_request", assignments);
    summary("fleet_delivery_to_tablets", all.deliveries);
    summary("fleet_delivery_to_dispatchers", to_watchers);
    print(
        "fleet_out_of_scope_deliveries",
        all.out_of_scope,
        "documents",
    );
    summary("fleet_board_refresh_under_load", refreshes);
    print(
        "fleet_server_cpu",
        format!("{:.0}", cpu / seconds as f64 * 100.0),
        "% of one core",
    );
    net::print_slow_commits("fleet_load", &commits_before, &commits_after);
    print("fleet_server_rss_before_load", rss_before / 1024, "MiB");
    print("fleet_server_peak_rss", server.peak_rss_kib() / 1024, "MiB");
    let size = |suffix: &str| {
        std::fs::metadata(format!("{}{suffix}", db.display())).map_or(0, |m| m.len()) >> 20
    };
    print("fleet_database_size", size(""), "MiB");
    print("fleet_write_ahead_log_size", size("-wal"), "MiB");

    // The office pages on that company, once the server is quiet (it may still be working
    // through what the load left queued).
    let started = Instant::now();
    loop {
        let before = cpu_seconds(pid);
        tokio::time::sleep(Duration::from_secs(1)).await;
        if cpu_seconds(pid) - before < 0.05 || started.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    print(
        "fleet_quiet_after",
        format!("{:.0}", started.elapsed().as_secs_f64()),
        "s",
    );
    let http = signed_in(&base).await;
    let (account, job, word) = &company.sample;
    let day = chrono::Utc::now().date_naive();
    let pages = [
        ("board_page", format!("/?day={day}")),
        ("board_api", format!("/api/board?day={day}")),
        ("search_api", format!("/api/accounts?q={word}")),
        ("search_page", format!("/customers?q={word}")),
        ("customer_page", format!("/customers/{account}")),
        ("job_page", format!("/jobs/{job}")),
    ];
    for (name, path) in pages {
        let (times, bytes) = net::time_page(&http, &base, &path, PAGE_REQUESTS).await;
        summary(&format!("fleet_{name}"), times);
        print(&format!("fleet_{name}_bytes"), bytes, "bytes");
    }

    // A live board's redraw of the cards of 50 customers whose records changed (what app.js
    // asks for between two refreshes on a board that is not swamped).
    let changed: Vec<String> = (company.account_of.values())
        .collect::<HashSet<_>>()
        .into_iter()
        .take(50)
        .map(|a| a.to_string())
        .collect();
    let path = format!("{base}/?day={day}&accounts={}", changed.join(","));
    let mut times = Vec::with_capacity(PAGE_REQUESTS);
    let mut bytes = 0;
    for _ in 0..PAGE_REQUESTS {
        let started = Instant::now();
        let response = http
            .get(&path)
            .header("X-Fieldsync-Seen", "1")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        bytes = response.bytes().await.unwrap().len();
        times.push(started.elapsed());
    }
    summary("fleet_board_cards_of_50_customers", times);
    print("fleet_board_cards_of_50_customers_bytes", bytes, "bytes");

    // A technician who has never synced: the first download of a scope of 100 accounts.
    let scope: HashSet<AccountId> = company.newcomer.jobs.iter().map(|j| j.1).collect();
    let started = Instant::now();
    let newcomer = net::connect(server.addr, &company.newcomer.token).await;
    print(
        "fleet_first_download",
        format!("{:.0}", started.elapsed().as_secs_f64() * 1000.0),
        "ms",
    );
    print("fleet_first_download_accounts", scope.len(), "accounts");
    newcomer.close().await;
}
