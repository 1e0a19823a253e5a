//! The company every test tells its story in, and the helpers to store and tamper with its
//! documents (with the crate's `fixtures` feature, and in the store's own tests).
//!
//! Monday 23 November 2026 at a small heating and plumbing company: Tess Morgan (technician)
//! is on site at Harbor Bakery for the annual boiler service, with five more visits to come;
//! Theo Baptiste (technician) has the bakery's display fridge this afternoon and serviced
//! Lindqvist Dental's AC twice, unpaid (the account is on credit hold); Dana (office)
//! dispatches; on the server, the office also has Northgate Library, whom nobody visits this
//! week ([`Company::add_quiet_customer`]). [`Company::seed`] stores the company as the
//! office's changes; the records come from [`fieldsync_protocol::fixtures`], re-exported here,
//! so a test needs one import.
//!
//! A test that needs less (a store unit test of one rule) takes one customer of the story
//! ([`Company::harbor_alone`]) or builds records with the same builders.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, Change, ChangeHash, ObjType, ReadDoc, ScalarValue, Value};
use chrono::{Duration, NaiveDate};
pub use fieldsync_protocol::fixtures::*;
use fieldsync_protocol::{
    AccountId, Author, ContentHash, DocId, Invoice, InvoiceId, Job, JobId, JobSite, JobStatus,
    NoteKind, Payment, PaymentMethod, Photo, PhotoId, PhotoTag, Record, Role, SiteId, Timestamp,
    UserId, Writer,
};

use crate::{Store, StoreTx};

/// The company's people.
#[derive(Clone, Debug)]
pub struct People {
    /// The technician whose tablet most tests use.
    pub tess: Author,
    /// Her colleague.
    pub theo: Author,
    /// The office.
    pub dana: Author,
}

impl People {
    /// Tess Morgan, Theo Baptiste and Dana (office), as new users.
    pub fn new() -> People {
        People {
            tess: person("Tess Morgan"),
            theo: person("Theo Baptiste"),
            dana: person("Dana (office)"),
        }
    }

    /// The same people with `tess` as the technician (a user the server knows).
    pub fn with_tess(tess: Author) -> People {
        People {
            tess,
            ..People::new()
        }
    }

    /// Dana writing as the office, under a new actor.
    pub fn office(&self) -> Writer {
        writer_for(Role::Office, &self.dana)
    }
}

impl Default for People {
    fn default() -> People {
        People::new()
    }
}

/// What the company holds that tests look for.
#[derive(Clone, Debug)]
pub struct Company {
    /// The technician using the tablet.
    pub tess: Author,
    /// Her colleague.
    pub theo: Author,
    /// The office.
    pub dana: Author,
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

/// One office author writing in one transaction, at one time.
struct Seeder<'a> {
    tx: StoreTx<'a>,
    office: Writer,
    now: Timestamp,
}

impl Seeder<'_> {
    /// `office` writing in one transaction on `store`, at `now`.
    fn new<'s>(store: &'s mut Store, office: &Author, now: Timestamp) -> Seeder<'s> {
        Seeder {
            tx: store.transaction().unwrap(),
            office: writer_for(Role::Office, office),
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

/// A customer of the story: `name`, account `number`, reachable at `email`.
fn customer(name: &str, number: &str, email: &str, business: bool) -> fieldsync_protocol::Account {
    fieldsync_protocol::Account {
        party: if business {
            fieldsync_protocol::Party::Business
        } else {
            fieldsync_protocol::Party::Person
        },
        number: number.into(),
        email: Some(email.into()),
        ..account(name)
    }
}

/// A contact of the story, with a phone.
fn reachable(name: &str, role: &str, email: &str, phone: &str) -> fieldsync_protocol::Contact {
    fieldsync_protocol::Contact {
        phone: Some(phone.into()),
        ..contact(name, role, email)
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

fn scheduled(spec: &JobSpec<'_>) -> Job {
    Job {
        requested_services: spec.services.iter().map(|s| s.to_string()).collect(),
        estimate: Some(money(spec.estimate)),
        status: spec.status,
        technicians: BTreeMap::from([(spec.technician, spec.start)]),
        scheduled_start: Some(spec.start),
        scheduled_end: Some(Timestamp(spec.start.0 + Duration::minutes(90))),
        created_at: Timestamp(spec.start.0 - Duration::days(7)),
        ..job(spec.account, spec.site, spec.title)
    }
}

/// Invoice `number` of `job` dated `date`, made at 17:00 that day.
fn bill(job: JobId, number: &str, date: NaiveDate, lines: &[(&str, &str, &str)]) -> Invoice {
    Invoice {
        date: fieldsync_protocol::Day(date),
        created_at: at(date, 17, 0),
        ..invoice(job, number, lines)
    }
}

/// A payment received `when`, recorded by `by`.
fn received(
    account: AccountId,
    (job, invoice): (Option<JobId>, Option<InvoiceId>),
    amount: &str,
    method: PaymentMethod,
    reference: &str,
    when: Timestamp,
    by: &Author,
) -> Payment {
    Payment {
        job,
        invoice,
        method,
        reference: reference.into(),
        received_at: when,
        ..payment(account, amount, by)
    }
}

/// A photo of `width`×`height` in colours around `hue`, as JPEG bytes (and its thumbnail).
pub fn photo_bytes(seed: u32, width: u32, height: u32) -> Vec<u8> {
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
    let (full_hash, thumb_hash) = (ContentHash::of(&full), ContentHash::of(&thumb));
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

/// The bytes of the Harbor Bakery site's floor plan.
pub const FLOOR_PLAN: &str = "%PDF-1.4 Harbor Bakery floor plan";

/// The company's custom fields.
pub fn custom_fields() -> Vec<fieldsync_protocol::custom_fields::FieldDef> {
    use fieldsync_protocol::custom_fields::{FieldDef, FieldKind};
    let field = FieldDef::new;
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

impl Company {
    /// Stores the company in `store` as the office's changes (already on the server, so a
    /// tablet's outbox starts empty).
    pub fn seed(store: &mut Store, people: &People) -> Company {
        let (tess, theo) = (people.tess.clone(), people.theo.clone());
        let seeder = Seeder::new(store, &people.dana, at(today(), 6, 0));
        let day = today();
        // The company's custom fields, as the server said them when the tablet last connected.
        seeder.tx.set_custom_fields(&custom_fields()).unwrap();

        // Harbor Bakery: the job Tess is on, two earlier visits, an open invoice.
        let mut harbor = customer(
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
            let mut ana = reachable(
                "Ana Okafor",
                "Owner",
                "ana.okafor@harborbakery.example",
                "+1 541 555 2041",
            );
            ana.sites.push(site.id);
            let ben = reachable(
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
                text: "Dough proofing room: keep the door shut, never open it during a bake."
                    .into(),
                author: people.dana.user,
                author_name: people.dana.name.clone(),
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
                    ContentHash::of(b"not on the tablet"),
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
                    added_by: people.dana.user,
                    added_by_name: people.dana.name.clone(),
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
            let mut earlier = scheduled(&JobSpec {
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
            let lines: &[(&str, &str, &str)] = if days_ago > 100 {
                &[
                    ("Boiler repair", "1", "220.00"),
                    ("Ignition electrode", "2", "37.00"),
                ]
            } else {
                &[
                    ("Water heater flush", "1", "180.00"),
                    ("Anode rod", "1", "32.50"),
                ]
            };
            let bill = bill(earlier.id, number, when, lines);
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
            seeder.create(Record::new_payment(received(
                harbor_id,
                (Some(earlier.id), Some(bill.id)),
                paid,
                PaymentMethod::Check,
                &format!("#{}", 1000 + days_ago),
                at(when, 11, 0),
                &tess,
            )));
        }
        let boiler = scheduled(&JobSpec {
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
        let other = scheduled(&JobSpec {
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
            let mut a = customer(name, number, email, business);
            a.billing_address = address(&format!("{} Oak Ave", 200 + i * 37), "97478");
            if name == "Lindqvist Dental" {
                a.credit_hold = true;
                a.comments = "Two invoices over 60 days; collect before new work.".into();
            }
            let id = a.id;
            let mut record = Record::new_account(a);
            if let Record::Account(doc) = &mut record {
                let c = reachable(
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
            let j = scheduled(&JobSpec {
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
                    let mut earlier = scheduled(&JobSpec {
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
                    let bill = bill(
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
                seeder.create(Record::new_payment(received(
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
            theo,
            dana: people.dana.clone(),
            harbor: harbor_id,
            boiler: boiler_id,
            dental,
            dental_job,
            other_tech_job,
        }
    }

    /// What the office does the evening before, in `store` (the server's): a new customer
    /// (Basalt Works, with a site) and a job of theirs today at 15:00, assigned to Tess.
    /// Returns the customer and the job.
    pub fn assign_new_customer(&self, store: &mut Store) -> (AccountId, JobId) {
        let tess = self.tess.user;
        self.store_customer(
            store,
            at(today() - Duration::days(1), 18, 0),
            customer("Basalt Works", "C-2040", "yard@basalt.example", true),
            (
                "Quarry yard",
                "12 Quarry Rd",
                "97701",
                "Sign in at the weighbridge.",
            ),
            |account, site| {
                scheduled(&JobSpec {
                    account,
                    site,
                    title: "Conveyor motor service",
                    services: &["Conveyor motor service"],
                    start: at(today(), 15, 0),
                    status: JobStatus::Scheduled,
                    technician: tess,
                    estimate: "480.00",
                })
            },
        )
    }

    /// What the office also has on its books, in `store` (the server's): a customer nobody
    /// visits this week, Northgate Library, with its site and a job next week that nobody is
    /// assigned to yet, so no technician's tablet holds any of it. Returns the customer and
    /// the job.
    pub fn add_quiet_customer(&self, store: &mut Store) -> (AccountId, JobId) {
        let when = at(today() - Duration::days(30), 10, 0);
        self.store_customer(
            store,
            when,
            customer(
                "Northgate Library",
                "C-0870",
                "facilities@northgatelibrary.example",
                true,
            ),
            (
                "Reading rooms",
                "3 Northgate Row",
                "97703",
                "Plant room key at the front desk.",
            ),
            |account, site| Job {
                requested_services: vec!["Radiator valve replacement".into()],
                scheduled_start: Some(at(today() + Duration::days(7), 8, 0)),
                scheduled_end: Some(at(today() + Duration::days(7), 12, 0)),
                created_at: when,
                ..job(account, site, "Radiator valves, east wing")
            },
        )
    }

    /// Dana stores, at `when`, `customer`, a site of theirs (name, street, postal code and
    /// access instructions) and the job `job` makes for that site, in one transaction of
    /// `store`. Returns the customer and the job.
    fn store_customer(
        &self,
        store: &mut Store,
        when: Timestamp,
        customer: fieldsync_protocol::Account,
        (name, street, postal_code, access): (&str, &str, &str, &str),
        job: impl FnOnce(AccountId, SiteId) -> Job,
    ) -> (AccountId, JobId) {
        let seeder = Seeder::new(store, &self.dana, when);
        let id = customer.id;
        let site = JobSite {
            id: SiteId::new(),
            account: id,
            name: name.into(),
            address: address(street, postal_code),
            access_instructions: access.into(),
            archived_at: None,
        };
        let job = job(id, site.id);
        seeder.create(Record::new_account(customer));
        seeder.create(Record::new_site(site));
        seeder.create(Record::new_job(job.clone()));
        let Seeder { tx, .. } = seeder;
        tx.commit().unwrap();
        (id, job.id)
    }

    /// Dana sends `technician` to the boiler service too, at `when`, in `store`.
    pub fn send_to_boiler(&self, store: &mut Store, technician: UserId, when: Timestamp) {
        let tx = store.transaction().unwrap();
        let mut doc = tx.load(self.boiler.into()).unwrap().unwrap();
        let change = writer_for(Role::Office, &self.dana)
            .edit(&mut doc, when, |record| {
                if let Record::Job(j) = record {
                    j.record.technicians.insert(technician, when);
                }
                Ok(())
            })
            .unwrap()
            .expect("a new technician on the job");
        tx.record_local(self.boiler.into(), &mut doc, &change, false)
            .unwrap();
        tx.commit().unwrap();
    }
}

/// One customer of the story alone in a server's store, for the store's unit tests of one
/// rule: Harbor Bakery, its site, today's boiler service (nobody assigned yet) and a cash
/// payment of 25.00, each document kept as the office made it.
pub struct HarborAlone {
    /// The store.
    pub store: Store,
    /// The office that made them.
    pub office: Writer,
    /// Harbor Bakery.
    pub account: AccountId,
    /// The payment's document.
    pub payment: (DocId, AutoCommit),
    /// The job's document.
    pub job: (DocId, AutoCommit),
}

impl Company {
    /// [`HarborAlone`], in a new in-memory store.
    pub fn harbor_alone() -> HarborAlone {
        let office = People::new().office();
        let mut store = Store::open_in_memory().unwrap();
        let bakery = account("Harbor Bakery");
        let site = site(bakery.id, "Main Street bakery");
        create(&mut store, &office, &Record::new_account(bakery.clone()));
        create(&mut store, &office, &Record::new_site(site.clone()));
        let payment = create(
            &mut store,
            &office,
            &Record::new_payment(payment(bakery.id, "25.00", &office.author)),
        );
        let job = create(
            &mut store,
            &office,
            &Record::new_job(job(bakery.id, site.id, "Annual boiler service")),
        );
        HarborAlone {
            store,
            office,
            account: bakery.id,
            payment,
            job,
        }
    }
}

/// Creates a document of `record` by `writer` at [`now`] and stores it as already on the
/// server (not in the outbox).
pub fn create(store: &mut Store, writer: &Writer, record: &Record) -> (DocId, AutoCommit) {
    let (mut document, change) = writer.create(record, now()).unwrap();
    let doc = record.doc_id();
    let tx = store.transaction().unwrap();
    tx.record_local(doc, &mut document, &change, false).unwrap();
    tx.commit().unwrap();
    (doc, document)
}

/// Edits a document through `writer` at [`now`] and returns the change (not stored).
pub fn edit(document: &mut AutoCommit, writer: &Writer, f: impl FnOnce(&mut Record)) -> Change {
    writer
        .edit(document, now(), |r| {
            f(r);
            Ok(())
        })
        .unwrap()
        .unwrap()
}

/// Sets a scalar at a path of map keys, bypassing every check, and commits it: what a buggy
/// or hostile device can send.
pub fn tamper(document: &mut AutoCommit, path: &[&str], value: impl Into<ScalarValue>) -> Change {
    let (last, parents) = path.split_last().unwrap();
    let mut obj = automerge::ROOT;
    for key in parents {
        obj = match document.get(&obj, *key).unwrap() {
            Some((Value::Object(ObjType::Map), id)) => id,
            other => panic!("{key} is not a map: {other:?}"),
        };
    }
    document.put(&obj, *last, value).unwrap();
    document.commit();
    document.get_last_local_change().unwrap()
}

/// The heads of a stored document (empty when it is not stored).
pub fn heads(store: &Store, doc: DocId) -> Vec<ChangeHash> {
    store
        .load(doc)
        .unwrap()
        .map(|mut d| d.get_heads())
        .unwrap_or_default()
}
