//! Test fixtures: writers, valid records, and helpers to create and tamper with documents.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Change, ObjType, ReadDoc, ScalarValue, Value};
use fieldsync_protocol::{
    Account, AccountId, AccountStatus, AccountType, Address, Author, Contact, ContactId, Day,
    DocId, Invoice, InvoiceId, InvoiceLine, Job, JobId, JobSite, JobStatus, Party, Payment,
    PaymentId, PaymentMethod, Record, Role, SiteId, Timestamp, UserId, Writer,
};

use crate::Store;

pub(crate) fn writer(role: Role) -> Writer {
    Writer {
        actor: ActorId::random(),
        author: Author {
            user: UserId::new(),
            name: format!("{role} user"),
        },
        role,
    }
}

pub(crate) fn now() -> Timestamp {
    Timestamp::from_millis(1_763_900_000_000).unwrap()
}

fn address() -> Address {
    Address {
        line1: "1 Main St".into(),
        line2: None,
        city: "Springfield".into(),
        region: "IL".into(),
        postal_code: "62701".into(),
        country: "US".into(),
    }
}

pub(crate) fn account(name: &str) -> Record {
    Record::new_account(Account {
        id: AccountId::new(),
        name: name.into(),
        party: Party::Business,
        account_type: AccountType::Customer,
        status: AccountStatus::Active,
        number: "A-100".into(),
        phone: None,
        email: Some(format!(
            "office@{}.example",
            name.to_lowercase().replace(' ', "")
        )),
        website: None,
        business_type: Some("restaurant".into()),
        terms_net_days: 30,
        credit_hold: false,
        payment_method: None,
        billing_address: address(),
        shipping_address: None,
        rep: None,
        comments: String::new(),
        custom_fields: BTreeMap::new(),
        merged_into: None,
        deleted_at: None,
        created_at: now(),
    })
}

pub(crate) fn add_contact(record: &mut Record, name: &str, email: &str) {
    let Record::Account(doc) = record else {
        panic!("not an account")
    };
    let id = ContactId::new();
    let contact = Contact {
        id,
        name: name.into(),
        role: "manager".into(),
        email: Some(email.into()),
        phone: None,
        sites: vec![],
        archived_at: None,
    };
    doc.contacts.insert(id, contact);
}

pub(crate) fn site(account: AccountId) -> Record {
    Record::new_site(JobSite {
        id: SiteId::new(),
        account,
        name: "Main St store".into(),
        address: address(),
        access_instructions: "Key at the desk".into(),
        archived_at: None,
    })
}

pub(crate) fn job(account: AccountId, site: SiteId, technicians: &[UserId]) -> Record {
    Record::new_job(Job {
        id: JobId::new(),
        account,
        site,
        title: "Annual boiler service".into(),
        requested_services: vec!["service".into()],
        pickup_address: None,
        delivery_address: None,
        inventory: vec![],
        estimate: None,
        final_amount: None,
        status: JobStatus::Scheduled,
        technicians: technicians.iter().map(|t| (*t, now())).collect(),
        scheduled_start: Some(now()),
        scheduled_end: None,
        created_at: now(),
        contact: None,
    })
}

pub(crate) fn invoice(job: JobId, amount: &str) -> Invoice {
    Invoice {
        id: InvoiceId::new(),
        job,
        number: "INV-0-00001".into(),
        date: Day(chrono::NaiveDate::from_ymd_opt(2025, 11, 23).unwrap()),
        lines: vec![InvoiceLine {
            description: "Service".into(),
            quantity: "1".parse().unwrap(),
            unit_price: amount.parse().unwrap(),
        }],
        tax_rate: "0".parse().unwrap(),
        voided: None,
        signature: None,
        created_by: UserId::new(),
        created_at: now(),
    }
}

pub(crate) fn payment(account: AccountId, amount: &str) -> Record {
    Record::new_payment(Payment {
        id: PaymentId::new(),
        account,
        job: None,
        invoice: None,
        amount: amount.parse().unwrap(),
        method: PaymentMethod::Cash,
        reference: String::new(),
        received_at: now(),
        recorded_by: UserId::new(),
        recorded_by_name: "Ann".into(),
        credit_applied: Vec::new(),
    })
}

/// Creates a document as the store's own user and stores it (not in the outbox).
pub(crate) fn create(store: &mut Store, writer: &Writer, record: &Record) -> (DocId, AutoCommit) {
    let (mut document, change) = writer.create(record, now()).unwrap();
    let doc = record.doc_id();
    let tx = store.transaction().unwrap();
    tx.record_local(doc, &mut document, &change, false).unwrap();
    tx.commit().unwrap();
    (doc, document)
}

/// Edits a document through `writer` and returns the change (not stored).
pub(crate) fn edit(
    document: &mut AutoCommit,
    writer: &Writer,
    f: impl FnOnce(&mut Record),
) -> Change {
    writer
        .edit(document, now(), |r| {
            f(r);
            Ok(())
        })
        .unwrap()
        .unwrap()
}

/// Sets a scalar at a path of map keys, bypassing every check, and commits it.
pub(crate) fn tamper(
    document: &mut AutoCommit,
    path: &[&str],
    value: impl Into<ScalarValue>,
) -> Change {
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
pub(crate) fn heads(store: &Store, doc: DocId) -> Vec<automerge::ChangeHash> {
    store
        .load(doc)
        .unwrap()
        .map(|mut d| d.get_heads())
        .unwrap_or_default()
}

/// A server store holding one payment and one job of the same account, created by the office.
pub(crate) struct Server {
    pub store: Store,
    pub account: AccountId,
    pub payment: (DocId, AutoCommit),
    pub job: (DocId, AutoCommit),
}

pub(crate) fn server() -> Server {
    let office = writer(Role::Office);
    let mut store = Store::open_in_memory().unwrap();
    let acct = account("Acme");
    let account = acct.account();
    create(&mut store, &office, &acct);
    let site_record = site(account);
    let Record::Site(s) = &site_record else {
        unreachable!()
    };
    let site_id = s.record.id;
    create(&mut store, &office, &site_record);
    let payment = create(&mut store, &office, &payment(account, "25.00"));
    let job = create(&mut store, &office, &job(account, site_id, &[]));
    Server {
        store,
        account,
        payment,
        job,
    }
}
