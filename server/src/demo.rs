//! A realistic demo company: 50 accounts (businesses and people, customers and prospects) with
//! job sites and contacts, 200 jobs over the current week for five technicians, notes of every
//! type, invoices and payments; an office and an admin login and one paired tablet per
//! technician. Everything is written through the same documents as real work.

use std::collections::BTreeMap;

use chrono::{Datelike as _, Duration, NaiveDate, TimeZone as _, Utc};
use fieldsync_protocol::{
    Account, AccountId, AccountStatus, AccountType, Address, Contact, ContactId, Day, Invoice,
    InvoiceId, InvoiceLine, InvoiceNumber, Job, JobId, JobSite, JobStatus, Note, NoteId, NoteKind,
    Party, Payment, PaymentId, PaymentMethod, Record, Role, SiteId, Timestamp, UserId, Voided,
    Writer,
};
use fieldsync_store::{Store, StoreTx};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::auth::{hash_password, new_device_token};

/// The logins and tablets made by [`load`], to print once.
#[derive(Debug, Default)]
pub struct DemoSummary {
    /// Accounts created.
    pub accounts: usize,
    /// Jobs created.
    pub jobs: usize,
    /// (name, role, password) of the office logins.
    pub logins: Vec<(String, Role, String)>,
    /// (technician, device number, token) of the paired tablets.
    pub tablets: Vec<(String, i64, String)>,
}

impl std::fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "demo company loaded: {} accounts, {} jobs this week",
            self.accounts, self.jobs
        )?;
        for (name, role, password) in &self.logins {
            writeln!(f, "  office login  {name:<6} ({role}) password {password}")?;
        }
        for (name, number, token) in &self.tablets {
            writeln!(f, "  tablet #{number:<3} {name:<6} token {token}")?;
        }
        write!(f, "(tokens are shown once; they are stored hashed)")
    }
}

const TECHNICIANS: &[&str] = &["tess", "theo", "tara", "tomas", "tia"];
const BUSINESSES: &[(&str, &str)] = &[
    ("Harbor Bakery", "bakery"),
    ("Lindqvist Dental", "dental clinic"),
    ("Oak Ave Hardware", "retail"),
    ("Moreau Bistro", "restaurant"),
    ("Riverside Elementary", "school"),
    ("Sunrise Laundromat", "laundry"),
    ("Patel Family Clinic", "clinic"),
    ("Second Chapter Books", "retail"),
    ("Northside Fitness", "gym"),
    ("Kowalski Auto Body", "garage"),
    ("Garcia Tacos", "restaurant"),
    ("Blue Fern Florist", "retail"),
    ("Summit Physio", "clinic"),
    ("Millbrook Library", "public"),
    ("Cedar Court Apartments", "property management"),
    ("Okafor Legal", "office"),
    ("Nguyen Pharmacy", "pharmacy"),
    ("Schmidt Brewing", "brewery"),
    ("Pine Hill Church", "church"),
    ("Station Square Hotel", "hotel"),
    ("Elm Street Vet", "veterinary"),
    ("Lakeview Dental Lab", "laboratory"),
    ("Quick Print Shop", "print"),
    ("Valley Cold Storage", "warehouse"),
    ("Redwood Preschool", "school"),
    ("Harborview Marina", "marina"),
    ("Golden Wok", "restaurant"),
    ("Bright Smiles Orthodontics", "dental clinic"),
    ("Iron Gym", "gym"),
    ("Crescent Deli", "restaurant"),
];
const PEOPLE: &[&str] = &[
    "Ana Okafor",
    "Ben Lindqvist",
    "Chloé Moreau",
    "Dev Patel",
    "Elif Yilmaz",
    "Femi Adeyemi",
    "Grace Kim",
    "Hugo García",
    "Inès Laurent",
    "Jon Schmidt",
    "Kenji Sato",
    "Lena Novak",
    "Mateo Rossi",
    "Nora Haddad",
    "Omar Farouk",
    "Priya Nair",
    "Quinn Walsh",
    "Rosa Jiménez",
    "Sam O'Neill",
    "Tomasz Kowalski",
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Harbor Rd",
    "Mill Lane",
    "Station Sq",
    "Elm Ct",
    "Cedar Blvd",
    "Lake Dr",
];
const SERVICES: &[(&str, &str)] = &[
    ("Annual boiler service", "Boiler service"),
    ("AC not cooling", "AC repair"),
    ("Leak under sink", "Leak repair"),
    ("Panel upgrade to 200 A", "Electrical panel"),
    ("Sprinkler inspection", "Fire inspection"),
    ("Water heater replacement", "Water heater"),
    ("Move 2-bedroom flat", "Move"),
    ("Furnace tune-up", "Furnace service"),
    ("Outlet not working", "Electrical repair"),
    ("Extinguisher check", "Fire inspection"),
];

fn address(rng: &mut StdRng) -> Address {
    Address {
        line1: format!(
            "{} {}",
            10 + rng.random_range(0..890),
            STREETS[rng.random_range(0..STREETS.len())]
        ),
        line2: None,
        city: ["Springfield", "Eugene", "Salem", "Corvallis"][rng.random_range(0..4)].into(),
        region: "OR".into(),
        postal_code: format!("97{:03}", rng.random_range(0..1000)),
        country: "US".into(),
    }
}

/// `hh:mm` on `day` in the demo company's zone (work hours: never a time the clocks skip).
fn at(day: NaiveDate, hour: u32, minute: u32) -> Timestamp {
    let time = chrono::NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default();
    zone()
        .at(day, time)
        .unwrap_or_else(|_| Timestamp(Utc.from_utc_datetime(&day.and_time(time))))
}

/// The demo company's time zone: it is in Springfield, Illinois.
pub const TIME_ZONE: &str = "America/Chicago";

fn zone() -> crate::zone::Zone {
    crate::zone::Zone::named(TIME_ZONE).unwrap_or_default()
}

/// Today for the demo company (in its time zone): the day to load it for.
pub fn today() -> NaiveDate {
    zone().today()
}

struct Ctx<'a, 'b> {
    tx: &'a StoreTx<'b>,
    office: Writer,
    now: Timestamp,
    /// The demo's week: its Monday, and the day it is loaded for.
    monday: NaiveDate,
    today: NaiveDate,
    /// The technicians jobs are assigned to.
    technicians: &'a [Writer],
    /// The demo's photos, each picture stored once.
    album: std::cell::RefCell<photos::Album>,
}

impl Ctx<'_, '_> {
    fn create(&self, record: Record) -> anyhow_free::Result {
        let (mut doc, change) = self.office.create(&record, self.now)?;
        self.tx
            .record_local(record.doc_id(), &mut doc, &change, false)?;
        Ok(())
    }

    fn note(&self, kind: NoteKind, text: &str, author: &Writer, at: Timestamp) -> Note {
        Note {
            id: NoteId::new(),
            kind,
            text: text.into(),
            author: author.author.user,
            author_name: author.author.name.clone(),
            created_at: at,
        }
    }
}

mod photos;

/// Errors of the demo loader, without pulling anyhow into the library.
mod anyhow_free {
    /// Anything the loader can fail with.
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
    /// A step of the loader.
    pub type Result<T = ()> = std::result::Result<T, Error>;
}
pub use anyhow_free::Error as DemoError;

/// The demo company's custom fields: what its technicians need to know on site.
fn demo_custom_fields() -> Vec<fieldsync_protocol::custom_fields::FieldDef> {
    use fieldsync_protocol::custom_fields::{FieldDef, FieldKind};
    let field = FieldDef::new;
    vec![
        field("Gate code", FieldKind::Text, &[]),
        field(
            "Main equipment",
            FieldKind::Choice,
            &["Boiler", "Furnace", "Heat pump", "Split AC"],
        ),
        field("Dog on site", FieldKind::YesNo, &[]),
        field("Warranty until", FieldKind::Date, &[]),
        field("Units serviced", FieldKind::Number, &[]),
    ]
}

/// Loads the demo company into `store` (which should be empty), for the week of `today`.
pub fn load(store: &mut Store, today: NaiveDate) -> Result<DemoSummary, DemoError> {
    let mut rng = StdRng::seed_from_u64(2026);
    let mut summary = DemoSummary::default();
    let tx = store.transaction()?;
    tx.set_company(&fieldsync_protocol::Company {
        name: "Northwind Heating & Plumbing".into(),
        address_lines: vec!["410 Foundry Street".into(), "Springfield, IL 62701".into()],
        phone: "(217) 555-0140".into(),
        time_zone: TIME_ZONE.into(),
    })?;
    tx.set_custom_fields(&demo_custom_fields())?;
    let mut technicians = Vec::new();
    for name in TECHNICIANS {
        let user = tx.add_user(name, Role::Technician, None)?;
        let (token, hash) = new_device_token();
        let device = tx.add_device(user.id, &format!("{name}'s tablet"), hash)?;
        summary
            .tablets
            .push((name.to_string(), device.number, token));
        technicians.push(Writer::new(Role::Technician, user.id, capitalise(name)));
    }
    let mut office_user = UserId::new();
    for (name, role, password) in [
        ("dana", Role::Office, "dana-office-demo"),
        ("admin", Role::Admin, "admin-demo-pass"),
    ] {
        let hash = hash_password(password).map_err(|e| e.to_string())?;
        let user = tx.add_user(name, role, Some(&hash))?;
        if role == Role::Office {
            office_user = user.id;
        }
        summary.logins.push((name.into(), role, password.into()));
    }
    let office = Writer::new(Role::Office, office_user, "dana");
    let now = Timestamp(Utc::now());
    let ctx = Ctx {
        tx: &tx,
        album: std::cell::RefCell::new(photos::Album::new()),
        office,
        now,
        monday: today - Duration::days(today.weekday().num_days_from_monday() as i64),
        today,
        technicians: &technicians,
    };
    let mut jobs_left = 200usize;
    for n in 0..50usize {
        let accounts_left = 50 - n;
        let jobs = jobs_left.div_ceil(accounts_left).min(jobs_left);
        jobs_left -= jobs;
        account(&ctx, &mut rng, n, jobs)?;
        summary.jobs += jobs;
        summary.accounts += 1;
    }
    drop(ctx);
    tx.commit()?;
    Ok(summary)
}

fn capitalise(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Account `n` of the demo with its contacts, sites and `jobs` jobs, and a deposit now and
/// then.
fn account(ctx: &Ctx<'_, '_>, rng: &mut StdRng, n: usize, jobs: usize) -> anyhow_free::Result {
    let business = n < BUSINESSES.len();
    let account = account_record(ctx, rng, n, business);
    let (id, name) = (account.id, account.name.clone());
    let mut record = Record::new_account(account);
    if let Record::Account(doc) = &mut record {
        for contact in contacts(n, business, &name) {
            doc.contacts.insert(contact.id, contact);
        }
        let note = ctx.note(NoteKind::System, "Account created", &ctx.office, ctx.now);
        doc.notes.insert(note.id, note);
    }
    ctx.create(record)?;
    let sites = sites(ctx, rng, id, n, business)?;
    for j in 0..jobs {
        job(ctx, rng, id, sites[j % sites.len()], n * 4 + j)?;
    }
    if n % 7 == 3 {
        deposit(ctx, id, n)?;
    }
    Ok(())
}

/// The account itself: a business (the first [`BUSINESSES`]) or a person, with terms, a
/// credit hold or a prospect now and then.
fn account_record(ctx: &Ctx<'_, '_>, rng: &mut StdRng, n: usize, business: bool) -> Account {
    let (name, business_type) = if business {
        (
            BUSINESSES[n].0.to_string(),
            Some(BUSINESSES[n].1.to_string()),
        )
    } else {
        (PEOPLE[n - BUSINESSES.len()].to_string(), None)
    };
    let email_name = name
        .to_lowercase()
        .replace([' ', '\''], ".")
        .replace(['é', 'è'], "e")
        .replace('ñ', "n")
        .replace('í', "i");
    let mut account = Account {
        id: AccountId::new(),
        name,
        party: if business {
            Party::Business
        } else {
            Party::Person
        },
        account_type: if n % 9 == 4 {
            AccountType::Prospect
        } else {
            AccountType::Customer
        },
        status: if n % 23 == 22 {
            AccountStatus::Inactive
        } else {
            AccountStatus::Active
        },
        number: format!("C-{:04}", 1001 + n),
        phone: Some(format!("+1 541 555 {:04}", 1000 + n * 37 % 9000)),
        email: Some(format!("{email_name}@example.com")),
        website: business.then(|| format!("https://{}.example.com", email_name.replace('.', ""))),
        business_type,
        terms_net_days: if business { 30 } else { 15 },
        credit_hold: n % 11 == 7,
        payment_method: [None, Some(PaymentMethod::Check), Some(PaymentMethod::Card)][n % 3],
        billing_address: address(rng),
        shipping_address: None,
        rep: None,
        comments: if n % 11 == 7 {
            "Two invoices over 60 days; collect before new work.".into()
        } else {
            String::new()
        },
        custom_fields: BTreeMap::new(),
        merged_into: None,
        deleted_at: None,
        created_at: ctx.now,
    };
    if business && n.is_multiple_of(3) {
        account
            .custom_fields
            .insert("Gate code".into(), format!("{}#", 1000 + n * 7));
        account.shipping_address = Some(address(rng));
    }
    account
}

/// The contacts of account `n` (named `name`): a person's own account has them as its
/// contact; a business has two or three of its staff.
fn contacts(n: usize, business: bool, name: &str) -> Vec<Contact> {
    let count = if business { 2 + n % 2 } else { 1 };
    (0..count)
        .map(|c| {
            let person = if business {
                PEOPLE[(n * 3 + c) % PEOPLE.len()]
            } else {
                name
            };
            Contact {
                id: ContactId::new(),
                name: person.to_string(),
                role: ["Owner", "Facilities manager", "Office manager"][c % 3].into(),
                email: Some(format!(
                    "{}@example.org",
                    person.to_lowercase().replace([' ', '\''], ".")
                )),
                phone: Some(format!("+1 541 555 {:04}", 2000 + (n * 3 + c) * 41 % 7000)),
                sites: Vec::new(),
                archived_at: None,
            }
        })
        .collect()
}

/// The job sites of account `n` (`id`): a main site, and a warehouse for some businesses,
/// each with access instructions and a site note.
fn sites(
    ctx: &Ctx<'_, '_>,
    rng: &mut StdRng,
    id: AccountId,
    n: usize,
    business: bool,
) -> anyhow_free::Result<Vec<SiteId>> {
    (0..1 + usize::from(business && n.is_multiple_of(4)))
        .map(|s| {
            let site = JobSite {
                id: SiteId::new(),
                account: id,
                name: if s == 0 {
                    "Main site".into()
                } else {
                    "Warehouse".into()
                },
                address: address(rng),
                access_instructions: [
                    "Ring at the side door",
                    "Key box by the loading dock, code 4471",
                    "Ask for the manager at reception",
                    "Dog in the yard — call ahead",
                ][(n + s) % 4]
                    .into(),
                archived_at: None,
            };
            let site_id = site.id;
            let mut record = Record::new_site(site);
            if let Record::Site(doc) = &mut record {
                let note = ctx.note(
                    NoteKind::Site,
                    "Shut-off valve is behind the water heater.",
                    &ctx.office,
                    ctx.now,
                );
                doc.notes.insert(note.id, note);
            }
            ctx.create(record).map(|_| site_id)
        })
        .collect()
}

/// A deposit of account `n` (`id`) not tied to any invoice: the account's credit.
fn deposit(ctx: &Ctx<'_, '_>, id: AccountId, n: usize) -> anyhow_free::Result {
    let payment = Payment {
        id: PaymentId::new(),
        account: id,
        job: None,
        invoice: None,
        amount: "150.00".parse()?,
        method: PaymentMethod::BankTransfer,
        reference: format!("DEP-{}", 500 + n),
        received_at: ctx.now,
        recorded_by: ctx.office.author.user,
        recorded_by_name: ctx.office.author.name.clone(),
        credit_applied: Vec::new(),
    };
    ctx.create(Record::new_payment(payment))
}

/// When and by whom the demo's `k`th job is done, and how far it has got.
struct Visit<'a> {
    k: usize,
    day: NaiveDate,
    start: Timestamp,
    title: &'static str,
    service: &'static str,
    /// `None`: waiting for dispatch.
    tech: Option<&'a Writer>,
    status: JobStatus,
}

impl<'a> Visit<'a> {
    /// Jobs go round the weekdays; on each day, round the technicians, then on to the next
    /// hour, so every technician has a full day and one job in ten waits for dispatch.
    fn of(ctx: &Ctx<'a, '_>, k: usize) -> Visit<'a> {
        let technicians = ctx.technicians;
        let day = ctx.monday + Duration::days((k % 5) as i64);
        let slot = k / 5;
        let round = slot / technicians.len().max(1);
        let (title, service) = SERVICES[(k + slot + round) % SERVICES.len()];
        Visit {
            k,
            day,
            start: at(day, 8 + (round % 9) as u32, [0, 30][slot % 2]),
            title,
            service,
            tech: (slot % 10 != 9).then(|| &technicians[slot % technicians.len()]),
            status: Visit::status(day, ctx.today, slot, round),
        }
    }

    /// Past jobs are done (some invoiced, some cancelled); today's morning's work is done,
    /// one job on site, one on the way, the rest to come; later ones are scheduled.
    fn status(day: NaiveDate, today: NaiveDate, slot: usize, round: usize) -> JobStatus {
        match day.cmp(&today) {
            std::cmp::Ordering::Less => [
                JobStatus::Completed,
                JobStatus::Invoiced,
                JobStatus::Invoiced,
                JobStatus::Cancelled,
            ][slot % 4],
            std::cmp::Ordering::Equal => match round {
                0..=2 => JobStatus::Completed,
                3 => JobStatus::OnSite,
                4 => JobStatus::EnRoute,
                _ => JobStatus::Scheduled,
            },
            std::cmp::Ordering::Greater if slot.is_multiple_of(13) => JobStatus::OnHold,
            std::cmp::Ordering::Greater => JobStatus::Scheduled,
        }
    }

    fn done(&self) -> bool {
        matches!(self.status, JobStatus::Completed | JobStatus::Invoiced)
    }

    /// Minutes after the start.
    fn after(&self, minutes: i64) -> Timestamp {
        Timestamp(self.start.0 + Duration::minutes(minutes))
    }
}

/// The demo's `k`th job, at `site` of `account`, with its notes, and for work done its photos,
/// invoice and payment.
fn job(
    ctx: &Ctx<'_, '_>,
    rng: &mut StdRng,
    account: AccountId,
    site: SiteId,
    k: usize,
) -> anyhow_free::Result {
    let visit = Visit::of(ctx, k);
    let estimate: fieldsync_protocol::Money =
        format!("{}.00", 120 + rng.random_range(0..40) * 10).parse()?;
    let mut technicians = BTreeMap::new();
    if let Some(tech) = visit.tech {
        technicians.insert(tech.author.user, ctx.now);
    }
    let job = Job {
        id: JobId::new(),
        account,
        site,
        title: visit.title.into(),
        requested_services: vec![visit.service.into()],
        pickup_address: None,
        delivery_address: None,
        inventory: Vec::new(),
        estimate: Some(estimate),
        final_amount: visit.done().then_some(estimate),
        status: if visit.tech.is_none() && visit.status != JobStatus::Cancelled {
            JobStatus::Scheduled
        } else {
            visit.status
        },
        technicians,
        scheduled_start: Some(visit.start),
        scheduled_end: Some(visit.after(90)),
        created_at: ctx.now,
        contact: None,
    };
    let id = job.id;
    let mut record = Record::new_job(job);
    if let Record::Job(doc) = &mut record {
        let request = ctx.note(
            NoteKind::ServiceRequest,
            &format!("Customer reports: {}.", visit.title.to_lowercase()),
            &ctx.office,
            ctx.now,
        );
        doc.notes.insert(request.id, request);
        if k.is_multiple_of(6) {
            let private = ctx.note(
                NoteKind::Private,
                "Prefers morning visits; slow payer.",
                &ctx.office,
                ctx.now,
            );
            doc.notes.insert(private.id, private);
        }
        if let (true, Some(tech)) = (visit.done(), visit.tech) {
            work_done(ctx, doc, &visit, tech)?;
        }
        if visit.status == JobStatus::Invoiced {
            let invoice = invoice(ctx, &visit, id, estimate)?;
            let (invoice_id, total, void) = (invoice.id, invoice.total(), invoice.voided.is_some());
            doc.invoices.insert(invoice.id, invoice);
            if !void && k % 3 != 2 {
                payment(ctx, &visit, (account, id, invoice_id), total)?;
            }
        }
    }
    ctx.create(record)
}

/// The technician's note of the work, and before and after photos of it.
fn work_done(
    ctx: &Ctx<'_, '_>,
    doc: &mut fieldsync_protocol::JobDoc,
    visit: &Visit<'_>,
    tech: &Writer,
) -> anyhow_free::Result {
    let service = visit.service;
    let performed = ctx.note(
        NoteKind::ServicePerformed,
        &format!("{service}: done, tested, site left clean."),
        tech,
        visit.after(80),
    );
    doc.notes.insert(performed.id, performed);
    let which = SERVICES
        .iter()
        .position(|(_, s)| *s == service)
        .unwrap_or(0);
    let mut album = ctx.album.borrow_mut();
    for (after, minutes, caption) in [
        (false, 5, format!("{service}: as found")),
        (true, 75, format!("{service}: finished")),
    ] {
        let photo = album.photo(ctx.tx, which, after, &caption, tech, visit.after(minutes))?;
        doc.photos.insert(photo.id, photo);
    }
    Ok(())
}

/// The invoice of job `job`: the service at its estimate and parts, taxed; one in seventeen
/// void.
fn invoice(
    ctx: &Ctx<'_, '_>,
    visit: &Visit<'_>,
    job: JobId,
    estimate: fieldsync_protocol::Money,
) -> anyhow_free::Result<Invoice> {
    let seq = ctx.tx.next_counter("invoice")?;
    Ok(Invoice {
        id: InvoiceId::new(),
        job,
        number: InvoiceNumber {
            device: 0,
            seq: seq as u32,
        }
        .to_string(),
        date: Day(visit.day),
        lines: vec![
            InvoiceLine {
                description: visit.service.into(),
                quantity: "1".parse()?,
                unit_price: estimate,
            },
            InvoiceLine {
                description: "Parts".into(),
                quantity: "2".parse()?,
                unit_price: "18.50".parse()?,
            },
        ],
        tax_rate: "7.5".parse()?,
        voided: (visit.k % 17 == 5).then(|| Voided {
            at: ctx.now,
            by: ctx.office.author.user,
            reason: "Billed twice".into(),
        }),
        signature: None,
        created_by: ctx.office.author.user,
        created_at: ctx.now,
    })
}

/// A payment of the invoice (`total`) of a job (`account`, `job`, `invoice`): in full, or half
/// of it, recorded by the technician on site.
fn payment(
    ctx: &Ctx<'_, '_>,
    visit: &Visit<'_>,
    (account, job, invoice): (AccountId, JobId, InvoiceId),
    total: fieldsync_protocol::Money,
) -> anyhow_free::Result {
    let k = visit.k;
    let amount = if k.is_multiple_of(3) {
        total
    } else {
        fieldsync_protocol::Money((total.0 / rust_decimal::Decimal::TWO).round_dp(2))
    };
    let by = visit.tech.map_or(&ctx.office, |t| t);
    ctx.create(Record::new_payment(Payment {
        id: PaymentId::new(),
        account,
        job: Some(job),
        invoice: Some(invoice),
        amount,
        method: [
            PaymentMethod::Card,
            PaymentMethod::Check,
            PaymentMethod::Cash,
        ][k % 3],
        reference: format!("{}", 7000 + k),
        received_at: Timestamp(visit.start.0 + Duration::hours(2)),
        recorded_by: by.author.user,
        recorded_by_name: by.author.name.clone(),
        credit_applied: Vec::new(),
    }))
}
