//! Structured fuzzing of the sync boundary (issue 12): proptest generates pushes of
//! valid-looking automerge changes from three devices (two technicians sharing a job, and the
//! office) against the real store, as the server's group commit stores them: notes and
//! payments in their own names and in others', with their own automerge actors and with
//! colleagues', status changes, random scalars written at random places of real record
//! documents, changes made on stale copies, repeats, garbage bytes, any timestamp and any size.
//! After every push it checks what must always hold:
//!
//! * nothing panics, and the store answers every batch (no error for hostile input);
//! * nothing a technician's device pushed is stored outside its scope;
//! * no note or payment a technician's device had stored is in someone else's name;
//! * every valid change (a note or payment in the device's own name, with its own actor, on
//!   the current document of its own job or account) is stored, and each change is stored
//!   once however often it is pushed.
//!
//! `FIELDSYNC_SIM_SEEDS` sets the number of cases (64 by default; CI runs 400).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ReadDoc, ScalarValue, Value};
use fieldsync_protocol::engine::StoreOutcome;
use fieldsync_protocol::wire::DocData;
use fieldsync_protocol::{
    AccountId, DocId, JobStatus, Note, NoteId, NoteKind, Payment, PaymentId, PaymentMethod, Record,
    Timestamp, UserId,
};
use fieldsync_store::Prechecked;
use fieldsync_store::Store;
use fieldsync_store::host::{DeviceContext, store_checked};
use fieldsync_tests::crew;
use proptest::prelude::*;

/// Whose name, or whose automerge actor, a generated change uses.
#[derive(Clone, Copy, Debug)]
enum Who {
    Own,
    Colleague,
    Stranger,
}

/// A target or account that means the technicians' shared job, or its account.
const SHARED: usize = usize::MAX;

/// One generated push.
#[derive(Clone, Debug)]
enum Op {
    /// A note on a document (its text `len` characters long).
    Note {
        device: usize,
        target: usize,
        author: Who,
        actor: Who,
        len: usize,
        stale: bool,
        time: i64,
    },
    /// A job's status set (any status, on any document).
    Status {
        device: usize,
        target: usize,
        status: usize,
        actor: Who,
        time: i64,
    },
    /// A new payment on an account.
    Payment {
        device: usize,
        account: usize,
        cents: i64,
        recorded_by: Who,
        actor: Who,
    },
    /// A random scalar put under a random key of a random map of a real document.
    Tamper {
        device: usize,
        target: usize,
        pick: usize,
        key: String,
        value: Scalar,
        actor: Who,
        stale: bool,
    },
    /// Bytes that are not a change.
    Garbage { device: usize, bytes: Vec<u8> },
    /// An earlier generated change, pushed again by any device.
    Repeat { device: usize, which: usize },
}

#[derive(Clone, Debug)]
enum Scalar {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        6 => Just(Who::Own),
        2 => Just(Who::Colleague),
        1 => Just(Who::Stranger)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let device = 0usize..3;
    // Half the time the technicians' shared job (or its account), else any document.
    let target = prop_oneof![Just(SHARED), 0usize..64];
    let account = prop_oneof![Just(SHARED), 0usize..8];
    let cents = prop_oneof![
        3 => 1i64..10_000_000,
        1 => -5_000i64..=0,
        1 => 100_000_000_000i64..1_000_000_000_000_000,
    ];
    let time = prop_oneof![
        Just(0i64),
        any::<i64>(),
        1_700_000_000_000i64..1_900_000_000_000
    ];
    let len = prop_oneof![8 => 0usize..200, 1 => 19_990usize..20_010, 1 => 30_000usize..40_000];
    let scalar = prop_oneof![
        any::<i64>().prop_map(Scalar::Int),
        ".{0,40}".prop_map(Scalar::Text),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Scalar::Bytes),
    ];
    prop_oneof![
        6 => (device.clone(), target.clone(), who(), who(), len, any::<bool>(), time.clone())
            .prop_map(|(device, target, author, actor, len, stale, time)| Op::Note {
                device, target, author, actor, len, stale, time
            }),
        2 => (device.clone(), target.clone(), 0usize..8, who(), time)
            .prop_map(|(device, target, status, actor, time)| Op::Status {
                device, target, status, actor, time
            }),
        3 => (device.clone(), account, cents, who(), who())
            .prop_map(|(device, account, cents, recorded_by, actor)| Op::Payment {
                device, account, cents, recorded_by, actor
            }),
        2 => (device.clone(), target.clone(), any::<usize>(), "[a-z_]{1,12}", scalar, who(), any::<bool>())
            .prop_map(|(device, target, pick, key, value, actor, stale)| Op::Tamper {
                device, target, pick, key, value, actor, stale
            }),
        1 => (device.clone(), prop::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(device, bytes)| Op::Garbage { device, bytes }),
        1 => (device, any::<usize>()).prop_map(|(device, which)| Op::Repeat { device, which }),
    ]
}

/// A device of the company: Tess and Theo (technicians on the shared job), Dana (office).
struct Device {
    number: i64,
    user: UserId,
    role: fieldsync_protocol::Role,
    actor: ActorId,
}

/// The company at the start of every case, seeded once.
struct Company {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    crew: crew::Crew,
}

fn company() -> &'static Company {
    static COMPANY: std::sync::OnceLock<Company> = std::sync::OnceLock::new();
    COMPANY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("company.sqlite3");
        let now = Timestamp::from_millis(1_790_000_000_000).unwrap();
        let crew = crew::seed(&path, now);
        Company {
            _dir: dir,
            path,
            crew,
        }
    })
}

/// One case: the company copied, the three devices, and what was generated.
struct Case {
    store: Store,
    _dir: tempfile::TempDir,
    devices: Vec<Device>,
    /// Every document: id and account.
    docs: Vec<(DocId, AccountId)>,
    accounts: Vec<AccountId>,
    /// The account of the shared job, in both technicians' scopes.
    shared: AccountId,
    /// Each device's scope: the accounts of its technician's jobs (`None`: the office's, all).
    scopes: Vec<Option<BTreeSet<AccountId>>>,
    /// Copies of documents as they were earlier (for changes made on stale copies).
    stale: HashMap<DocId, AutoCommit>,
    /// Every change generated (for repeats), with the device that made it and whether it was
    /// stored: a device can push again its own changes and any stored one (every device may
    /// have received it), never another device's change that was refused (it went nowhere).
    made: Vec<(DocData, usize, bool)>,
    /// Changes that are valid and must be stored.
    valid: Vec<DocData>,
    /// Actors some change of theirs was stored with: known to the other devices.
    known_actors: HashSet<usize>,
    /// The note or payment each generated change adds (by change bytes).
    adds: HashMap<Vec<u8>, String>,
    /// Notes and payments a technician's device had stored: the user they must name.
    pushed_by: HashMap<String, UserId>,
}

impl Case {
    fn new() -> Case {
        let company = company();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("case.sqlite3");
        copy_database(&company.path, &path);
        let store = Store::open(&path).unwrap();
        let registered = store.devices().unwrap();
        let devices: Vec<Device> = [&company.crew.tess, &company.crew.theo, &company.crew.dana]
            .iter()
            .map(|person| {
                let device = registered
                    .iter()
                    .find(|d| d.user.id == person.user)
                    .unwrap();
                Device {
                    number: device.number,
                    user: person.user,
                    role: device.user.role,
                    actor: ActorId::random(),
                }
            })
            .collect();
        let docs: Vec<(DocId, AccountId)> = {
            let mut stmt = store
                .conn()
                .prepare("SELECT id, account FROM documents ORDER BY id")
                .unwrap();
            stmt.query_map([], |row| {
                let id: Vec<u8> = row.get(0)?;
                let account: Vec<u8> = row.get(1)?;
                Ok((
                    DocId::from_slice(&id).unwrap(),
                    AccountId::from_slice(&account).unwrap(),
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        let accounts = store.accounts().unwrap().iter().map(|a| a.id).collect();
        let scopes = devices
            .iter()
            .map(|d| {
                (d.role == fieldsync_protocol::Role::Technician)
                    .then(|| store.technician_accounts(d.user).unwrap())
            })
            .collect();
        let stale = docs
            .iter()
            .map(|(doc, _)| (*doc, store.load(*doc).unwrap().unwrap()))
            .collect();
        Case {
            store,
            _dir: dir,
            devices,
            docs,
            accounts,
            shared: company.crew.account,
            scopes,
            stale,
            made: Vec::new(),
            valid: Vec::new(),
            known_actors: HashSet::new(),
            adds: HashMap::new(),
            pushed_by: HashMap::new(),
        }
    }

    /// Whether `account` is in `device`'s scope.
    fn in_scope(&self, device: usize, account: AccountId) -> bool {
        self.scopes[device]
            .as_ref()
            .is_none_or(|scope| scope.contains(&account))
    }

    fn colleague(device: usize) -> usize {
        match device {
            0 => 1,
            _ => 0,
        }
    }

    /// The actor `who` means for `device`: a colleague's only once known (a change of theirs
    /// was stored, so every device could have seen it).
    fn actor(&self, device: usize, who: Who) -> ActorId {
        let colleague = Self::colleague(device);
        match who {
            Who::Own => self.devices[device].actor.clone(),
            Who::Colleague if self.known_actors.contains(&colleague) => {
                self.devices[colleague].actor.clone()
            }
            _ => ActorId::random(),
        }
    }

    fn user(&self, device: usize, who: Who) -> UserId {
        match who {
            Who::Own => self.devices[device].user,
            Who::Colleague => self.devices[Self::colleague(device)].user,
            Who::Stranger => UserId::new(),
        }
    }

    fn doc(&self, target: usize, stale: bool) -> (DocId, AccountId, AutoCommit) {
        let (doc, account) = match target {
            SHARED => (DocId::from(company().crew.job), self.shared),
            n => self.docs[n % self.docs.len()],
        };
        let document = match stale {
            true => self.stale[&doc].clone(),
            false => self.store.load(doc).unwrap().unwrap(),
        };
        (doc, account, document)
    }

    /// A change making `edit` to the record in `document`, as `actor` at `time`.
    fn change(
        document: &mut AutoCommit,
        actor: &ActorId,
        time: i64,
        edit: impl FnOnce(&mut Record),
    ) -> Option<Vec<u8>> {
        let mut record = Record::read(document).ok()?;
        edit(&mut record);
        document.set_actor(actor.clone());
        record.write(document).ok()?;
        document.commit_with(CommitOptions::default().with_time(time));
        Some(document.get_last_local_change()?.raw_bytes().to_vec())
    }

    /// The changes `op` makes (none when it makes no change), and whether it is valid.
    fn make(&mut self, op: &Op) -> (usize, Option<DocData>, bool) {
        let technician = |d: usize| d < 2;
        match op {
            &Op::Note {
                device,
                target,
                author,
                actor,
                len,
                stale,
                time,
            } => {
                let (doc, account, mut document) = self.doc(target, stale);
                let note = Note {
                    id: NoteId::new(),
                    kind: NoteKind::ServicePerformed,
                    text: "x".repeat(len),
                    author: self.user(device, author),
                    author_name: "someone".into(),
                    created_at: Timestamp::from_millis(1_790_000_000_000).unwrap(),
                };
                let id = note.id.to_string();
                let is_job = matches!(Record::read(&document), Ok(Record::Job(_)));
                let valid = technician(device)
                    && is_job
                    && self.in_scope(device, account)
                    && matches!((author, actor, stale), (Who::Own, Who::Own, false))
                    && (1..=fieldsync_protocol::validate::MAX_NOTE_CHARS).contains(&len)
                    && fieldsync_protocol::validate::check_change_time(time).is_ok();
                let actor = self.actor(device, actor);
                let data = Self::change(&mut document, &actor, time, |record| {
                    if let Record::Job(j) = record {
                        j.notes.insert(note.id, note);
                    }
                });
                if let Some(data) = &data {
                    self.adds.insert(data.clone(), id);
                }
                (device, data.map(|data| doc_data(doc, data)), valid)
            }
            &Op::Status {
                device,
                target,
                status,
                actor,
                time,
            } => {
                let (doc, _, mut document) = self.doc(target, false);
                let statuses = [
                    JobStatus::Lead,
                    JobStatus::Scheduled,
                    JobStatus::EnRoute,
                    JobStatus::OnSite,
                    JobStatus::OnHold,
                    JobStatus::Completed,
                    JobStatus::Invoiced,
                    JobStatus::Cancelled,
                ];
                let actor = self.actor(device, actor);
                let data = Self::change(&mut document, &actor, time, |record| {
                    if let Record::Job(j) = record {
                        j.record.status = statuses[status % statuses.len()];
                    }
                });
                (device, data.map(|data| doc_data(doc, data)), false)
            }
            &Op::Payment {
                device,
                account,
                cents,
                recorded_by,
                actor,
            } => {
                let account = match account {
                    SHARED => self.shared,
                    n => self.accounts[n % self.accounts.len()],
                };
                let payment = Payment {
                    id: PaymentId::new(),
                    account,
                    job: None,
                    invoice: None,
                    amount: fieldsync_protocol::Money(rust_decimal::Decimal::new(cents, 2)),
                    method: PaymentMethod::Cash,
                    reference: String::new(),
                    received_at: Timestamp::from_millis(1_790_000_000_000).unwrap(),
                    recorded_by: self.user(device, recorded_by),
                    recorded_by_name: "someone".into(),
                    credit_applied: Vec::new(),
                };
                let id = payment.id.to_string();
                let valid = technician(device)
                    && self.in_scope(device, account)
                    && (1..=100_000_000_000).contains(&cents)
                    && matches!((recorded_by, actor), (Who::Own, Who::Own));
                let record = Record::new_payment(payment);
                let mut document = AutoCommit::new();
                document.set_actor(self.actor(device, actor));
                let data = record.write(&mut document).ok().and_then(|_| {
                    document.commit();
                    Some(document.get_last_local_change()?.raw_bytes().to_vec())
                });
                if let Some(data) = &data {
                    self.adds.insert(data.clone(), id);
                }
                (
                    device,
                    data.map(|data| doc_data(record.doc_id(), data)),
                    valid,
                )
            }
            Op::Tamper {
                device,
                target,
                pick,
                key,
                value,
                actor,
                stale,
            } => {
                let (doc, _, mut document) = self.doc(*target, *stale);
                let maps = maps(&document);
                let obj = maps[pick % maps.len()].clone();
                document.set_actor(self.actor(*device, *actor));
                let value = match value {
                    Scalar::Int(n) => ScalarValue::Int(*n),
                    Scalar::Text(t) => ScalarValue::Str(t.as_str().into()),
                    Scalar::Bytes(b) => ScalarValue::Bytes(b.clone()),
                };
                document.put(&obj, key.as_str(), value).unwrap();
                document.commit();
                let data = document
                    .get_last_local_change()
                    .map(|c| doc_data(doc, c.raw_bytes().to_vec()));
                (*device, data, false)
            }
            Op::Garbage { device, bytes } => {
                let doc = self.docs[bytes.len() % self.docs.len()].0;
                (*device, Some(doc_data(doc, bytes.clone())), false)
            }
            Op::Repeat { device, which } => {
                let known: Vec<&DocData> = self
                    .made
                    .iter()
                    .filter(|(_, maker, stored)| maker == device || *stored)
                    .map(|(change, _, _)| change)
                    .collect();
                match known.len() {
                    0 => (*device, None, false),
                    n => (*device, Some(known[which % n].clone()), false),
                }
            }
        }
    }

    /// Pushes `change` from `device` as the server's group commit stores it; checks the
    /// invariants that concern this push.
    fn push(&mut self, device: usize, change: DocData, valid: bool) {
        let d = &self.devices[device];
        let context = DeviceContext::of_device(&self.store, d.number, d.user, d.role).unwrap();
        let account = self.account_of(&change);
        // A change stored before (by whoever) is acknowledged as stored; nothing is written.
        let hash = automerge::Change::try_from(&change.data[..]).map(|c| c.hash());
        let had = hash.as_ref().is_ok_and(|hash| self.stored_rows(hash) > 0);
        let tx = self.store.transaction().unwrap();
        let prechecked = Prechecked::new(vec![change.clone()], context.pusher());
        let outcomes = tx
            .alone(|tx| store_checked(tx, &context, prechecked))
            .unwrap()
            .unwrap_or_else(|why| panic!("the store failed on a push: {why}"));
        tx.commit().unwrap();
        let outcome = &outcomes[0];
        if *outcome == StoreOutcome::Stored {
            if d.role == fieldsync_protocol::Role::Technician && !had {
                assert!(
                    account.is_some_and(|a| self.in_scope(device, a)),
                    "a technician's change was stored outside its scope: {account:?}"
                );
                // What it adds must be in this device's user's name (checked at the end).
                if let Some(id) = self.adds.get(&change.data) {
                    self.pushed_by.insert(id.clone(), d.user);
                }
            }
            if let Ok(parsed) = automerge::Change::try_from(&change.data[..])
                && *parsed.actor_id() == d.actor
            {
                self.known_actors.insert(device);
            }
        }
        if valid {
            assert_eq!(
                *outcome,
                StoreOutcome::Stored,
                "a valid change was not stored"
            );
            self.valid.push(change.clone());
        }
        let stored = *outcome == StoreOutcome::Stored;
        self.made.push((change, device, stored));
    }

    /// The account of the document `change` is for, as stored now or as its content says.
    fn account_of(&self, change: &DocData) -> Option<AccountId> {
        if let Some((_, account)) = self.docs.iter().find(|(doc, _)| *doc == change.doc) {
            return Some(*account);
        }
        let mut document = AutoCommit::new();
        document.load_incremental(&change.data).ok()?;
        Record::read(&document).ok().map(|r| r.account())
    }

    /// What must hold at the end: no forged name stored, every valid change stored once.
    fn check_end(&mut self) {
        let mut named = Vec::new();
        for (doc, _) in &self.docs {
            if let Some(document) = self.store.load(*doc).unwrap()
                && let Ok(Record::Job(job)) = Record::read(&document)
            {
                named.extend(job.notes.values().map(|n| (n.id.to_string(), n.author)));
            }
        }
        let payments: Vec<(String, UserId)> = {
            let mut stmt = self
                .store
                .conn()
                .prepare("SELECT id FROM documents WHERE kind = 'payment'")
                .unwrap();
            let ids: Vec<Vec<u8>> = stmt
                .query_map([], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            ids.iter()
                .filter_map(|id| {
                    let document = self.store.load(DocId::from_slice(id).unwrap()).unwrap()?;
                    match Record::read(&document) {
                        Ok(Record::Payment(p)) => {
                            Some((p.record.id.to_string(), p.record.recorded_by))
                        }
                        _ => None,
                    }
                })
                .collect()
        };
        for (id, named) in named.into_iter().chain(payments) {
            if let Some(pusher) = self.pushed_by.get(&id) {
                assert_eq!(named, *pusher, "{id} was stored in someone else's name");
            }
        }
        for change in &self.valid {
            let hash = automerge::Change::try_from(&change.data[..])
                .unwrap()
                .hash();
            let rows = self.stored_rows(&hash);
            assert_eq!(rows, 1, "valid change {hash} stored {rows} times");
        }
    }

    /// How many change rows hold the change with this hash.
    fn stored_rows(&self, hash: &automerge::ChangeHash) -> i64 {
        self.store
            .conn()
            .query_row(
                "SELECT count(*) FROM changes WHERE hash = ?1",
                [&hash.0[..]],
                |row| row.get(0),
            )
            .unwrap()
    }
}

fn doc_data(doc: DocId, data: Vec<u8>) -> DocData {
    DocData {
        doc,
        data,
        attested: None,
    }
}

/// Every map object of a document, the root first (at most a few hundred).
fn maps(document: &AutoCommit) -> Vec<automerge::ObjId> {
    let mut found = vec![automerge::ROOT];
    let mut at = 0;
    while at < found.len() && found.len() < 500 {
        let obj = found[at].clone();
        at += 1;
        for key in document.keys(&obj).collect::<Vec<_>>() {
            if let Ok(Some((Value::Object(ObjType::Map), id))) = document.get(&obj, key.as_str()) {
                found.push(id);
            }
        }
    }
    found
}

/// A copy of the seeded database (SQLite's backup, so the copy is whole).
fn copy_database(from: &Path, to: &Path) {
    Store::open(from).unwrap().backup_to(to).unwrap();
}

fn cases() -> u32 {
    std::env::var("FIELDSYNC_SIM_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pushes_from_hostile_and_honest_devices_keep_the_boundarys_promises(
        ops in prop::collection::vec(op(), 1..24),
    ) {
        let mut case = Case::new();
        for op in &ops {
            let (device, change, valid) = case.make(op);
            if let Some(change) = change {
                case.push(device, change, valid);
            }
        }
        case.check_end();
    }
}
