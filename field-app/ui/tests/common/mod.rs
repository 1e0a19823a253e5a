//! A small, realistic company on a technician's tablet, and the app wired to it: shared by the
//! UI tests and the screenshots. Every record is made through the protocol's `Writer`, so it
//! passes the same checks as real edits.

#![allow(dead_code)] // each test binary uses a different part

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use fieldsync_app::Tablet;
use fieldsync_app_ui::{AppWindow, Controller, Options, wire};
use fieldsync_protocol::automerge::ActorId;
use fieldsync_protocol::{
    Account, AccountId, AccountStatus, AccountType, Address, Author, Contact, ContactId, Day,
    Invoice, InvoiceId, InvoiceLine, Job, JobId, JobSite, JobStatus, Money, Note, NoteId, NoteKind,
    Party, Payment, PaymentId, PaymentMethod, Photo, PhotoId, PhotoTag, Record, Role, SiteId,
    Timestamp, UserId, Writer,
};
use fieldsync_store::Store;
use slint::ComponentHandle as _;

/// The server the tablet is paired with.
pub const SERVER: &str = "http://192.168.1.20:8080";

/// The day the tests happen on (a Monday).
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// `hh:mm` on `day`, UTC (the tests' time zone).
pub fn at(day: NaiveDate, hour: u32, minute: u32) -> Timestamp {
    Timestamp(Utc.from_utc_datetime(&day.and_hms_opt(hour, minute, 0).unwrap()))
}

/// What the company holds that tests look for.
#[derive(Clone, Debug)]
pub struct Company {
    /// The technician using the tablet.
    pub tess: Author,
    /// Harbor Bakery: balance $112.50, an on-site job with photos and earlier visits.
    pub harbor: AccountId,
    /// Harbor Bakery's boiler service today (on site).
    pub boiler: JobId,
    /// Lindqvist Dental, on credit hold.
    pub dental: AccountId,
    /// Lindqvist Dental's job today.
    pub dental_job: JobId,
    /// A job today at Harbor Bakery assigned to another technician (not on Tess's list).
    pub other_tech_job: JobId,
}

struct Seeder<'a> {
    tx: fieldsync_store::StoreTx<'a>,
    office: Writer,
    now: Timestamp,
}

impl Seeder<'_> {
    /// Dana (office) writing in one transaction on `store`, at `now`.
    fn new(store: &mut Store, now: Timestamp) -> Seeder<'_> {
        Seeder {
            tx: store.transaction().unwrap(),
            office: Writer {
                actor: ActorId::random(),
                author: Author {
                    user: UserId::new(),
                    name: "Dana (office)".into(),
                },
                role: Role::Office,
            },
            now,
        }
    }

    fn create(&self, record: Record) {
        let (mut doc, change) = self.office.create(&record, self.now).unwrap();
        self.tx
            .record_local(record.doc_id(), &mut doc, &change, false)
            .unwrap();
    }
}

fn money(text: &str) -> Money {
    text.parse().unwrap()
}

fn address(line1: &str, postal_code: &str) -> Address {
    Address {
        line1: line1.into(),
        line2: None,
        city: "Springfield".into(),
        region: "OR".into(),
        postal_code: postal_code.into(),
        country: "US".into(),
    }
}

fn account(name: &str, number: &str, email: &str, business: bool) -> Account {
    Account {
        id: AccountId::new(),
        name: name.into(),
        party: if business {
            Party::Business
        } else {
            Party::Person
        },
        account_type: AccountType::Customer,
        status: AccountStatus::Active,
        number: number.into(),
        phone: Some("+1 541 555 0140".into()),
        email: Some(email.into()),
        website: None,
        business_type: None,
        terms_net_days: 30,
        credit_hold: false,
        payment_method: None,
        billing_address: address("112 Main St", "97477"),
        shipping_address: None,
        rep: None,
        comments: String::new(),
        custom_fields: BTreeMap::new(),
        merged_into: None,
        deleted_at: None,
        created_at: at(today() - Duration::days(400), 9, 0),
    }
}

fn contact(name: &str, role: &str, email: &str, phone: &str) -> Contact {
    Contact {
        id: ContactId::new(),
        name: name.into(),
        role: role.into(),
        email: Some(email.into()),
        phone: Some(phone.into()),
        sites: Vec::new(),
        archived_at: None,
    }
}

fn note(kind: NoteKind, text: &str, author: &Author, when: Timestamp) -> Note {
    Note {
        id: NoteId::new(),
        kind,
        text: text.into(),
        author: author.user,
        author_name: author.name.clone(),
        created_at: when,
    }
}

/// One of the other customers Tess visits today.
struct Visit {
    customer: &'static str,
    number: &'static str,
    email: &'static str,
    business: bool,
    title: &'static str,
    access: &'static str,
    start: (u32, u32),
    status: JobStatus,
    estimate: &'static str,
}

struct JobSpec<'a> {
    account: AccountId,
    site: SiteId,
    title: &'a str,
    services: &'a [&'a str],
    start: Timestamp,
    status: JobStatus,
    technician: UserId,
    estimate: &'a str,
}

fn job(spec: &JobSpec<'_>) -> Job {
    Job {
        id: JobId::new(),
        account: spec.account,
        site: spec.site,
        title: spec.title.into(),
        requested_services: spec.services.iter().map(|s| s.to_string()).collect(),
        pickup_address: None,
        delivery_address: None,
        inventory: Vec::new(),
        estimate: Some(money(spec.estimate)),
        final_amount: None,
        status: spec.status,
        technicians: BTreeMap::from([(spec.technician, spec.start)]),
        scheduled_start: Some(spec.start),
        scheduled_end: Some(Timestamp(spec.start.0 + Duration::minutes(90))),
        created_at: Timestamp(spec.start.0 - Duration::days(7)),
        contact: None,
    }
}

fn invoice(job: JobId, number: &str, date: NaiveDate, lines: &[(&str, &str, &str)]) -> Invoice {
    Invoice {
        id: InvoiceId::new(),
        job,
        number: number.into(),
        date: Day(date),
        lines: lines
            .iter()
            .map(|(description, quantity, price)| InvoiceLine {
                description: description.to_string(),
                quantity: quantity.parse().unwrap(),
                unit_price: money(price),
            })
            .collect(),
        tax_rate: "0".parse().unwrap(),
        voided: None,
        signature: None,
        created_by: UserId::new(),
        created_at: Timestamp(Utc.from_utc_datetime(&date.and_hms_opt(17, 0, 0).unwrap())),
    }
}

fn payment(
    account: AccountId,
    (job, invoice): (Option<JobId>, Option<InvoiceId>),
    amount: &str,
    method: PaymentMethod,
    reference: &str,
    when: Timestamp,
    by: &Author,
) -> Payment {
    Payment {
        id: PaymentId::new(),
        account,
        job,
        invoice,
        amount: money(amount),
        method,
        reference: reference.into(),
        received_at: when,
        recorded_by: by.user,
        recorded_by_name: by.name.clone(),
        credit_applied: Vec::new(),
    }
}

/// A photo of `width`×`height` in colours around `hue`, as JPEG bytes (and its thumbnail).
fn photo_bytes(seed: u32, width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let band = (y * 6 / height) as u8;
        let pipe = (x as i64 - (width / 2) as i64).unsigned_abs() < u64::from(width / 14);
        if pipe {
            image::Rgb([150 + band * 10, 110, 60])
        } else {
            let shade = 40 + ((x + y * 2 + seed * 37) % 60) as u8;
            image::Rgb([shade + 30 * (seed % 3) as u8, shade + 40, shade + 70])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A photo record; its blobs stored when `with_blobs`.
fn photo(
    seeder: &Seeder<'_>,
    seed: u32,
    caption: &str,
    tag: PhotoTag,
    by: &Author,
    when: Timestamp,
    with_blobs: bool,
) -> Photo {
    let (full, thumb) = (photo_bytes(seed, 1024, 768), photo_bytes(seed, 320, 240));
    let (full_hash, thumb_hash) = (
        fieldsync_protocol::ContentHash::of(&full),
        fieldsync_protocol::ContentHash::of(&thumb),
    );
    if with_blobs {
        seeder.tx.put_blob(&full).unwrap().unwrap();
        seeder.tx.put_blob(&thumb).unwrap().unwrap();
    }
    Photo {
        id: PhotoId::new(),
        caption: caption.into(),
        tag,
        taken_at: when,
        author: by.user,
        author_name: by.name.clone(),
        width: 1024,
        height: 768,
        full_hash,
        full_size: full.len() as u64,
        thumb_hash,
        thumb_size: thumb.len() as u64,
    }
}

/// Writes the company into the store at `path`, as the office's changes (already on the
/// server, so the tablet's outbox starts empty).
pub fn seed(path: &Path) -> Company {
    let tess = Author {
        user: UserId::new(),
        name: "Tess Morgan".into(),
    };
    seed_for(path, tess)
}

/// The bytes of the Harbor Bakery site's floor plan.
pub const FLOOR_PLAN: &str = "%PDF-1.4 Harbor Bakery floor plan";

/// The company's custom fields.
pub fn custom_fields() -> Vec<fieldsync_protocol::custom_fields::FieldDef> {
    use fieldsync_protocol::custom_fields::{FieldDef, FieldKind};
    let field = |name: &str, kind, choices: &[&str]| FieldDef {
        name: name.into(),
        kind,
        choices: choices.iter().map(|c| c.to_string()).collect(),
    };
    vec![
        field("Gate code", FieldKind::Text, &[]),
        field(
            "Oven type",
            FieldKind::Choice,
            &["Deck", "Rack", "Convection"],
        ),
        field("Dog on site", FieldKind::YesNo, &[]),
        field("Units serviced", FieldKind::Number, &[]),
    ]
}

/// [`seed`] with `tess` as the technician (a user the server knows).
pub fn seed_for(path: &Path, tess: Author) -> Company {
    let mut store = Store::open(path).unwrap();
    let theo = Author {
        user: UserId::new(),
        name: "Theo Baptiste".into(),
    };
    let seeder = Seeder::new(&mut store, at(today(), 6, 0));
    let day = today();
    // The company's custom fields, as the server said them when the tablet last connected.
    seeder.tx.set_custom_fields(&custom_fields()).unwrap();

    // Harbor Bakery: the job Tess is on, two earlier visits, an open invoice.
    let mut harbor = account(
        "Harbor Bakery",
        "C-1001",
        "orders@harborbakery.example",
        true,
    );
    harbor.business_type = Some("bakery".into());
    harbor
        .custom_fields
        .insert("Gate code".into(), "Back door, code 4410#".into());
    harbor
        .custom_fields
        .insert("Oven type".into(), "Deck".into());
    let harbor_id = harbor.id;
    let mut record = Record::new_account(harbor);
    let site = JobSite {
        id: SiteId::new(),
        account: harbor_id,
        name: "Main Street bakery".into(),
        address: address("112 Main St", "97477"),
        access_instructions:
            "Use the alley door; key box code 4471. Ovens off before any gas work.".into(),
        archived_at: None,
    };
    if let Record::Account(doc) = &mut record {
        let mut ana = contact(
            "Ana Okafor",
            "Owner",
            "ana.okafor@harborbakery.example",
            "+1 541 555 2041",
        );
        ana.sites.push(site.id);
        let ben = contact(
            "Ben Lindqvist",
            "Facilities manager",
            "ben@harborbakery.example",
            "+1 541 555 2077",
        );
        doc.contacts.insert(ana.id, ana);
        doc.contacts.insert(ben.id, ben);
    }
    seeder.create(record);
    let mut site_record = Record::new_site(site.clone());
    if let Record::Site(doc) = &mut site_record {
        let n = note(
            NoteKind::Site,
            "Gas shut-off is behind the flour store, left of the door.",
            &tess,
            at(day - Duration::days(60), 10, 0),
        );
        doc.notes.insert(n.id, n);
        let alert = fieldsync_protocol::Alert {
            id: fieldsync_protocol::NoteId::new(),
            text: "Dough proofing room: keep the door shut, never open it during a bake.".into(),
            author: UserId::new(),
            author_name: "Dana (office)".into(),
            created_at: at(day - Duration::days(30), 9, 0),
        };
        doc.alerts.insert(alert.id, alert);
        // A site plan on the tablet, and the boiler's manual not downloaded yet.
        let plan = FLOOR_PLAN.as_bytes();
        let plan_hash = seeder.tx.put_blob(plan).unwrap().unwrap();
        for (name, bytes_hash, size, days_ago) in [
            ("Floor plan.pdf", plan_hash, plan.len() as u64, 20),
            (
                "Boiler manual.pdf",
                fieldsync_protocol::ContentHash::of(b"not on the tablet"),
                2_400_000,
                90,
            ),
        ] {
            let file = fieldsync_protocol::FileEntry {
                id: fieldsync_protocol::NoteId::new(),
                name: name.into(),
                content_type: "application/pdf".into(),
                hash: bytes_hash,
                size,
                added_by: UserId::new(),
                added_by_name: "Dana (office)".into(),
                added_at: at(day - Duration::days(days_ago), 9, 0),
            };
            doc.files.insert(file.id, file);
        }
    }
    seeder.create(site_record);
    for (days_ago, title, performed, number, paid) in [
        (
            140,
            "Boiler repair",
            "Replaced ignition electrode and thermocouple; burner tested, CO 12 ppm.",
            "INV-0-00012",
            "294.00",
        ),
        (
            21,
            "Water heater flush",
            "Flushed tank, replaced anode rod; no leaks at the fittings.",
            "INV-0-00031",
            "100.00",
        ),
    ] {
        let when = day - Duration::days(days_ago);
        let mut earlier = job(&JobSpec {
            account: harbor_id,
            site: site.id,
            title,
            services: &[title],
            start: at(when, 9, 0),
            status: JobStatus::Invoiced,
            technician: tess.user,
            estimate: "250.00",
        });
        earlier.final_amount = earlier.estimate;
        let bill = if days_ago > 100 {
            invoice(
                earlier.id,
                number,
                when,
                &[
                    ("Boiler repair", "1", "220.00"),
                    ("Ignition electrode", "2", "37.00"),
                ],
            )
        } else {
            invoice(
                earlier.id,
                number,
                when,
                &[
                    ("Water heater flush", "1", "180.00"),
                    ("Anode rod", "1", "32.50"),
                ],
            )
        };
        let mut r = Record::new_job(earlier.clone());
        if let Record::Job(doc) = &mut r {
            let n = note(
                NoteKind::ServicePerformed,
                performed,
                &tess,
                at(when, 10, 20),
            );
            doc.notes.insert(n.id, n);
            doc.invoices.insert(bill.id, bill.clone());
        }
        seeder.create(r);
        seeder.create(Record::new_payment(payment(
            harbor_id,
            (Some(earlier.id), Some(bill.id)),
            paid,
            PaymentMethod::Check,
            &format!("#{}", 1000 + days_ago),
            at(when, 11, 0),
            &tess,
        )));
    }
    let boiler = job(&JobSpec {
        account: harbor_id,
        site: site.id,
        title: "Annual boiler service",
        services: &["Boiler service", "Flue inspection", "Carbon monoxide test"],
        start: at(day, 9, 30),
        status: JobStatus::OnSite,
        technician: tess.user,
        estimate: "240.00",
    });
    let boiler_id = boiler.id;
    let mut r = Record::new_job(boiler);
    if let Record::Job(doc) = &mut r {
        let n = note(
            NoteKind::ServiceRequest,
            "Boiler short-cycles in the morning; pilot went out twice last week.",
            &seeder.office.author,
            at(day - Duration::days(3), 15, 0),
        );
        doc.notes.insert(n.id, n);
        for (seed, caption, tag, minute) in [
            (1, "Boiler casing before service", PhotoTag::Before, 40),
            (2, "Burner assembly, soot on the left", PhotoTag::Before, 45),
            (3, "Cleaned burner, new gasket", PhotoTag::After, 58),
        ] {
            let p = photo(&seeder, seed, caption, tag, &tess, at(day, 9, minute), true);
            doc.photos.insert(p.id, p);
        }
    }
    seeder.create(r);
    let other = job(&JobSpec {
        account: harbor_id,
        site: site.id,
        title: "Display fridge check",
        services: &["Refrigeration"],
        start: at(day, 13, 0),
        status: JobStatus::Scheduled,
        technician: theo.user,
        estimate: "150.00",
    });
    let other_tech_job = other.id;
    seeder.create(Record::new_job(other));

    // The rest of Tess's day.
    let others = [
        Visit {
            customer: "Patel Family Clinic",
            number: "C-1007",
            email: "front.desk@patelclinic.example",
            business: true,
            title: "Furnace tune-up",
            access: "Ring at reception; ask for Dev.",
            start: (8, 0),
            status: JobStatus::Completed,
            estimate: "180.00",
        },
        Visit {
            customer: "Lindqvist Dental",
            number: "C-1002",
            email: "office@lindqvistdental.example",
            business: true,
            title: "AC not cooling",
            access: "Park at the back; service door code 2580.",
            start: (11, 0),
            status: JobStatus::Scheduled,
            estimate: "320.00",
        },
        Visit {
            customer: "Moreau Bistro",
            number: "C-1004",
            email: "chloe@moreaubistro.example",
            business: true,
            title: "Leak under sink",
            access: "Kitchen entrance on Oak Ave, before 11:30 only.",
            start: (12, 30),
            status: JobStatus::Scheduled,
            estimate: "150.00",
        },
        Visit {
            customer: "Riverside Elementary",
            number: "C-1005",
            email: "facilities@riverside.example",
            business: true,
            title: "Sprinkler inspection",
            access: "Sign in at the office; badge required.",
            start: (14, 0),
            status: JobStatus::Scheduled,
            estimate: "260.00",
        },
        Visit {
            customer: "Grace Kim",
            number: "C-1037",
            email: "grace.kim@example.org",
            business: false,
            title: "Water heater replacement",
            access: "Dog in the yard — call ahead.",
            start: (15, 30),
            status: JobStatus::Scheduled,
            estimate: "1450.00",
        },
    ];
    let mut dental = None;
    for (i, visit) in others.into_iter().enumerate() {
        let Visit {
            customer: name,
            number,
            email,
            business,
            title,
            access,
            start: (h, m),
            status,
            estimate,
        } = visit;
        let mut a = account(name, number, email, business);
        a.billing_address = address(&format!("{} Oak Ave", 200 + i * 37), "97478");
        if name == "Lindqvist Dental" {
            a.credit_hold = true;
            a.comments = "Two invoices over 60 days; collect before new work.".into();
        }
        let id = a.id;
        let mut record = Record::new_account(a);
        if let Record::Account(doc) = &mut record {
            let c = contact(
                if business {
                    ["Dev Patel", "Elif Yilmaz", "Chloé Moreau", "Omar Farouk"][i % 4]
                } else {
                    name
                },
                if business {
                    "Facilities manager"
                } else {
                    "Owner"
                },
                email,
                &format!("+1 541 555 {}", 3100 + i * 17),
            );
            doc.contacts.insert(c.id, c);
        }
        seeder.create(record);
        let mut s = JobSite {
            id: SiteId::new(),
            account: id,
            name: if business {
                "Main site".into()
            } else {
                "Home".into()
            },
            address: address(&format!("{} Harbor Rd", 40 + i * 113), "97477"),
            access_instructions: access.into(),
            archived_at: None,
        };
        s.address.city = ["Springfield", "Eugene", "Springfield", "Salem", "Eugene"][i].into();
        let site_id = s.id;
        let mut site_record = Record::new_site(s);
        if name == "Riverside Elementary"
            && let Record::Site(doc) = &mut site_record
        {
            // A site photo whose thumbnail has not reached the tablet: not ready offline.
            let p = photo(
                &seeder,
                9,
                "Riser room valve tags",
                PhotoTag::Other,
                &theo,
                at(day - Duration::days(30), 11, 0),
                false,
            );
            doc.photos.insert(p.id, p);
        }
        seeder.create(site_record);
        let j = job(&JobSpec {
            account: id,
            site: site_id,
            title,
            services: &[title],
            start: at(day, h, m),
            status,
            technician: tess.user,
            estimate,
        });
        let job_id = j.id;
        let r = Record::new_job(j);
        if name == "Lindqvist Dental" {
            dental = Some((id, job_id));
            for (k, days_ago) in [(1, 95), (2, 68)] {
                let when = day - Duration::days(days_ago);
                let mut earlier = job(&JobSpec {
                    account: id,
                    site: site_id,
                    title: "AC maintenance",
                    services: &["AC maintenance"],
                    start: at(when, 13, 0),
                    status: JobStatus::Invoiced,
                    technician: theo.user,
                    estimate: "410.00",
                });
                earlier.final_amount = earlier.estimate;
                let bill = invoice(
                    earlier.id,
                    &format!("INV-0-0000{k}"),
                    when,
                    &[("AC maintenance", "1", "410.00")],
                );
                let mut e = Record::new_job(earlier);
                if let Record::Job(doc) = &mut e {
                    let n = note(
                        NoteKind::ServicePerformed,
                        "Cleaned coils, topped up refrigerant (R-410A, 0.6 kg).",
                        &theo,
                        at(when, 14, 10),
                    );
                    doc.notes.insert(n.id, n);
                    doc.invoices.insert(bill.id, bill);
                }
                seeder.create(e);
            }
        }
        seeder.create(r);
        if name == "Moreau Bistro" {
            seeder.create(Record::new_payment(payment(
                id,
                (None, None),
                "150.00",
                PaymentMethod::BankTransfer,
                "DEP-503",
                at(day - Duration::days(5), 16, 0),
                &seeder.office.author,
            )));
        }
    }
    let Seeder { tx, .. } = seeder;
    tx.commit().unwrap();
    let (dental, dental_job) = dental.unwrap();
    Company {
        tess,
        harbor: harbor_id,
        boiler: boiler_id,
        dental,
        dental_job,
        other_tech_job,
    }
}

/// What the office does in the evening, on the server's database at `path`: a new customer
/// (Basalt Works, with a site) and a job of theirs today at 15:00, assigned to `tess`.
/// Returns the customer and the job.
#[allow(
    dead_code,
    reason = "used by some of the test files that share this module"
)]
pub fn assign_new_customer(path: &Path, tess: &Author) -> (AccountId, JobId) {
    let mut store = Store::open(path).unwrap();
    let seeder = Seeder::new(&mut store, at(today() - Duration::days(1), 18, 0));
    let customer = account("Basalt Works", "C-2040", "yard@basalt.example", true);
    let id = customer.id;
    seeder.create(Record::new_account(customer));
    let site = JobSite {
        id: SiteId::new(),
        account: id,
        name: "Quarry yard".into(),
        address: address("12 Quarry Rd", "97701"),
        access_instructions: "Sign in at the weighbridge.".into(),
        archived_at: None,
    };
    let new = job(&JobSpec {
        account: id,
        site: site.id,
        title: "Conveyor motor service",
        services: &["Conveyor motor service"],
        start: at(today(), 15, 0),
        status: JobStatus::Scheduled,
        technician: tess.user,
        estimate: "480.00",
    });
    seeder.create(Record::new_site(site));
    seeder.create(Record::new_job(new.clone()));
    let Seeder { tx, .. } = seeder;
    tx.commit().unwrap();
    (id, new.id)
}

/// The app on a seeded tablet: the window (1280×800, shown), its controller, the company, the
/// links the app asked to open, and the temp dir holding the replica.
pub struct App {
    pub ui: AppWindow,
    pub controller: Controller,
    pub company: Company,
    pub links: Rc<RefCell<Vec<String>>>,
    pub dir: tempfile::TempDir,
}

/// Builds the app as `fieldsync-app` does, without an event loop, at `now`.
pub fn app(now: DateTime<Utc>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tablet.sqlite3");
    let company = seed(&path);
    // Paired as `fieldsync pair` does (the sync service is not started: the tablet stays
    // offline and every change waits in the outbox).
    let token = format!("fsd_{}", "Q".repeat(43));
    let tablet = Tablet::pair(&path, SERVER, &token, company.tess.clone()).unwrap();
    let links = Rc::new(RefCell::new(Vec::new()));
    let opened = links.clone();
    let ui = AppWindow::new().unwrap();
    let controller = wire(
        &ui,
        Arc::new(Mutex::new(tablet)),
        Options {
            clock: Box::new(move || now),
            zone: chrono::FixedOffset::east_opt(0).unwrap(),
            open_link: Box::new(move |link| opened.borrow_mut().push(link.to_string())),
            sync: None,
        },
    );
    ui.window().set_size(slint::PhysicalSize::new(1280, 800));
    ui.show().unwrap();
    App {
        ui,
        controller,
        company,
        links,
        dir,
    }
}

/// A photo file as a camera would leave it: a 1600×1200 JPEG.
pub fn camera_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("IMG_0042.jpg");
    std::fs::write(&path, photo_bytes(7, 1600, 1200)).unwrap();
    path
}

/// 10:05 on the test day, while Tess is on site at Harbor Bakery.
pub fn morning() -> DateTime<Utc> {
    at(today(), 10, 5).0
}
