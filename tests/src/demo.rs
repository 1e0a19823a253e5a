//! Generated company data and random edits, for the simulation tests and the benchmarks. Every
//! record is made through [`Writer`], so it passes the same checks as real edits.

use automerge::ActorId;
use fieldsync_protocol::{
    Account, AccountId, AccountType, Address, Contact, ContactId, Day, DocId, Invoice, InvoiceId,
    InvoiceLine, InvoiceNumber, Job, JobId, JobSite, JobStatus, Note, NoteId, NoteKind, Party,
    Payment, PaymentId, PaymentMethod, Record, Role, SiteId, Timestamp, UserId, Voided, Writer,
};
use fieldsync_store::{Origin, Scope, Store, fixtures};
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded random number generator; the same seed gives the same run on every machine.
#[derive(Debug)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A number in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.0.random_range(0..n) }
    }

    /// A random id (seeded: the same run makes the same ids).
    pub fn uuid(&mut self) -> uuid::Uuid {
        uuid::Uuid::from_u128(self.0.random::<u128>())
    }

    /// A random automerge actor (seeded).
    pub fn actor(&mut self) -> ActorId {
        ActorId::from(self.uuid().as_bytes().as_slice())
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Ana", "Ben", "Chloé", "Dev", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jon",
];
const LAST: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "García",
    "Nguyen",
    "Schmidt",
    "Patel",
    "Moreau",
    "Kowalski",
];
const BUSINESS: &[&str] = &[
    "Bakery", "Dental", "Hardware", "Bistro", "School", "Laundry", "Clinic", "Books",
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Harbor Rd",
    "Mill Lane",
    "Station Sq",
    "Elm Ct",
];
const SERVICES: &[&str] = &[
    "Boiler service",
    "AC repair",
    "Leak fix",
    "Panel upgrade",
    "Sprinkler inspection",
    "Move 2-bed flat",
];

/// What [`seed_company`] made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seeded {
    /// Documents created.
    pub documents: usize,
    /// Payment documents created.
    pub payments: usize,
}

fn office(rng: &mut Rng) -> Writer {
    let actor = rng.actor();
    Writer::new(Role::Office, UserId(rng.uuid()), "Dana Dispatch").with_actor(actor)
}

fn address(rng: &mut Rng) -> Address {
    let line1 = format!("{} {}", 1 + rng.below(400), rng.pick(STREETS));
    let postal_code = format!("97{:03}", rng.below(1000));
    fixtures::address(&line1, &postal_code)
}

fn at(base: Timestamp, minutes: u64) -> Timestamp {
    Timestamp(base.0 + chrono::Duration::minutes(minutes as i64))
}

/// Creates `accounts` accounts, each with two contacts, one site, `jobs_per_account` jobs and a
/// payment, as the store's own (office) changes.
pub fn seed_company(
    store: &mut Store,
    rng: &mut Rng,
    accounts: usize,
    jobs_per_account: usize,
) -> Seeded {
    let writer = office(rng);
    let now = Timestamp::from_millis(1_790_000_000_000).unwrap();
    let mut seeded = Seeded::default();
    let tx = store.transaction().unwrap();
    let mut create = |record: Record| {
        let (mut doc, change) = writer.create(&record, now).unwrap();
        tx.record_local(record.doc_id(), &mut doc, &change, false)
            .unwrap();
        seeded.documents += 1;
    };
    for n in 0..accounts {
        let business = rng.below(2) == 0;
        let (first, last) = (rng.pick(FIRST).to_string(), rng.pick(LAST).to_string());
        let name = if business {
            format!("{last} {} #{n}", rng.pick(BUSINESS))
        } else {
            format!("{first} {last} #{n}")
        };
        let id = AccountId(rng.uuid());
        let account = Account {
            id,
            party: if business {
                Party::Business
            } else {
                Party::Person
            },
            account_type: if rng.below(5) == 0 {
                AccountType::Prospect
            } else {
                AccountType::Customer
            },
            number: format!("A-{:05}", n + 1),
            phone: Some(format!("+1 541 555 {:04}", rng.below(10_000))),
            email: Some(format!(
                "{}.{}{}@example.com",
                first.to_lowercase(),
                last.to_lowercase(),
                n
            )),
            business_type: business.then(|| rng.pick(BUSINESS).to_string()),
            credit_hold: rng.below(10) == 0,
            billing_address: address(rng),
            created_at: now,
            ..fixtures::account(&name)
        };
        let mut record = Record::new_account(account);
        if let Record::Account(doc) = &mut record {
            for _ in 0..2 {
                let id = ContactId(rng.uuid());
                let name = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
                let email = format!("contact{}@example.org", rng.below(100_000));
                let contact = Contact {
                    id,
                    ..fixtures::contact(&name, "Facilities", &email)
                };
                doc.contacts.insert(contact.id, contact);
            }
        }
        create(record);
        let site = JobSite {
            id: SiteId(rng.uuid()),
            address: address(rng),
            access_instructions: format!("Gate code {}", rng.below(10_000)),
            ..fixtures::site(id, "Main site")
        };
        let site_id = site.id;
        create(Record::new_site(site));
        for j in 0..jobs_per_account {
            let start = at(now, 60 * (j as u64 % 10) + rng.below(600));
            let job_id = JobId(rng.uuid());
            let title = rng.pick(SERVICES).to_string();
            let job = Job {
                id: job_id,
                requested_services: vec![rng.pick(SERVICES).to_string()],
                estimate: Some(format!("{}.00", 100 + rng.below(900)).parse().unwrap()),
                scheduled_start: Some(start),
                scheduled_end: Some(at(start, 90)),
                created_at: now,
                ..fixtures::job(id, site_id, &title)
            };
            create(Record::new_job(job));
        }
        create(Record::new_payment(payment(
            PaymentId(rng.uuid()),
            id,
            None,
            "50.00",
            &writer,
            now,
        )));
        seeded.payments += 1;
    }
    tx.commit().unwrap();
    seeded
}

fn payment(
    id: PaymentId,
    account: AccountId,
    job: Option<(JobId, Option<InvoiceId>)>,
    amount: &str,
    writer: &Writer,
    now: Timestamp,
) -> Payment {
    Payment {
        id,
        job: job.map(|j| j.0),
        invoice: job.and_then(|j| j.1),
        method: PaymentMethod::Card,
        reference: "txn".into(),
        received_at: now,
        ..fixtures::payment(account, amount, &writer.author)
    }
}

fn note(kind: NoteKind, writer: &Writer, now: Timestamp, rng: &mut Rng) -> Note {
    let id = NoteId(rng.uuid());
    let text = format!("Checked unit {}; all good.", rng.below(100));
    Note {
        id,
        ..fixtures::note(kind, &text, &writer.author, now)
    }
}

/// One random edit of the kind `writer`'s role makes, chosen by `pick` (0..100), saved in
/// `store` (in the outbox unless `origin` is the store's own user). Returns the document, the
/// change's hash and bytes, and whether it recorded a payment; `None` when there was nothing to
/// edit.
pub fn random_edit(
    store: &mut Store,
    writer: &Writer,
    origin: Origin,
    rng: &mut Rng,
    now: Timestamp,
    pick: u64,
) -> Option<(DocId, [u8; 32], Vec<u8>, bool)> {
    let accounts = store.accounts().unwrap();
    if accounts.is_empty() {
        return None;
    }
    let account = rng.pick(&accounts).id;
    let jobs = store.jobs_for_account(account).unwrap();
    let job = (!jobs.is_empty()).then(|| rng.pick(&jobs).id);
    let tx = store.transaction().unwrap();
    let outbox = origin != Origin::LOCAL;
    let technician = writer.role == Role::Technician;
    let edit_job = |f: &mut dyn FnMut(&mut fieldsync_protocol::JobDoc)| {
        let id = DocId::from(job?);
        let mut doc = tx.load(id).unwrap()?;
        let change = writer
            .edit(&mut doc, now, |r| {
                if let Record::Job(j) = r {
                    f(j);
                }
                Ok(())
            })
            .unwrap()?;
        Some((id, doc, change))
    };
    let mut is_payment = false;
    let (id, mut doc, mut change) = match pick {
        0..30 if technician => {
            edit_job(&mut |j| j.record.status = *next_field_status(j.record.status))?
        }
        0..30 => edit_job(&mut |j| {
            let shift = chrono::Duration::minutes(30);
            j.record.scheduled_start = j.record.scheduled_start.map(|t| Timestamp(t.0 + shift));
            j.record.scheduled_end = j.record.scheduled_end.map(|t| Timestamp(t.0 + shift));
        })?,
        30..55 => {
            let n = note(
                if technician {
                    NoteKind::ServicePerformed
                } else {
                    NoteKind::Private
                },
                writer,
                now,
                rng,
            );
            edit_job(&mut |j| {
                j.notes.insert(n.id, n.clone());
            })?
        }
        55..75 => {
            let invoices: Vec<InvoiceId> = job
                .and_then(|j| tx.load(DocId::from(j)).unwrap())
                .and_then(|d| match Record::read(&d) {
                    Ok(Record::Job(j)) => Some(j.invoices.keys().copied().collect()),
                    _ => None,
                })
                .unwrap_or_default();
            let invoice = (!invoices.is_empty()).then(|| *rng.pick(&invoices));
            let amount = format!("{}.{:02}", 1 + rng.below(300), rng.below(100));
            let record = Record::new_payment(payment(
                PaymentId(rng.uuid()),
                account,
                job.map(|j| (j, invoice)),
                &amount,
                writer,
                now,
            ));
            is_payment = true;
            let (doc, change) = writer.create(&record, now).unwrap();
            (record.doc_id(), doc, change)
        }
        75..88 if !technician => edit_job(&mut |j| {
            if let Some(invoice) = j.invoices.values_mut().find(|i| i.voided.is_none()) {
                invoice.voided = Some(Voided {
                    at: now,
                    by: writer.author.user,
                    reason: "duplicate".into(),
                });
            }
        })?,
        _ => {
            let seq = tx.next_counter("invoice").unwrap();
            let number = InvoiceNumber {
                device: origin.0.max(0) as u32,
                seq: seq as u32,
            }
            .to_string();
            let price = format!("{}.{:02}", 10 + rng.below(500), rng.below(100));
            let invoice_id = InvoiceId(rng.uuid());
            edit_job(&mut |j| {
                let invoice = Invoice {
                    id: invoice_id,
                    job: j.record.id,
                    number: number.clone(),
                    date: Day(now.0.date_naive()),
                    lines: vec![InvoiceLine {
                        description: "Labour".into(),
                        quantity: "1.5".parse().unwrap(),
                        unit_price: price.parse().unwrap(),
                    }],
                    tax_rate: "8.25".parse().unwrap(),
                    voided: None,
                    signature: None,
                    created_by: writer.author.user,
                    created_at: now,
                };
                j.invoices.insert(invoice.id, invoice);
            })?
        }
    };
    tx.record_local(id, &mut doc, &change, outbox).unwrap();
    tx.commit().unwrap();
    Some((id, change.hash().0, change.bytes().to_vec(), is_payment))
}

/// The office (`writer`, on the server's own store) assigns a random job to a random subset
/// of `technicians` (possibly none, possibly the same as before), as the dispatch board does.
/// Returns whether the job changed.
pub fn reassign(
    store: &mut Store,
    writer: &Writer,
    rng: &mut Rng,
    now: Timestamp,
    technicians: &[UserId],
) -> bool {
    let accounts = store.accounts().unwrap();
    if accounts.is_empty() {
        return false;
    }
    let account = rng.pick(&accounts).id;
    let jobs = store.jobs_for_account(account).unwrap();
    if jobs.is_empty() {
        return false;
    }
    let id = DocId::from(rng.pick(&jobs).id);
    let chosen: Vec<UserId> = technicians
        .iter()
        .filter(|_| rng.below(2) == 0)
        .copied()
        .collect();
    let tx = store.transaction().unwrap();
    let mut doc = tx.load(id).unwrap().unwrap();
    let change = writer
        .edit(&mut doc, now, |r| {
            if let Record::Job(j) = r {
                j.record.technicians = chosen.iter().map(|user| (*user, now)).collect();
            }
            Ok(())
        })
        .unwrap();
    let Some(change) = change else {
        return false;
    };
    tx.record_local(id, &mut doc, &change, false).unwrap();
    tx.commit().unwrap();
    true
}

fn next_field_status(current: JobStatus) -> &'static JobStatus {
    let next = JobStatus::FIELD
        .iter()
        .position(|s| *s == current)
        .map_or(0, |i| (i + 1) % JobStatus::FIELD.len());
    &JobStatus::FIELD[next]
}

/// Every document id in the store (for benchmarks).
pub fn all_docs(store: &Store) -> Vec<DocId> {
    store.doc_ids(&Scope::All).unwrap()
}
