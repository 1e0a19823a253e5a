//! Valid records for tests and benchmarks: the one place a test builds an account, a job or a
//! payment, so that a new required field is added here once and every test still reads as its
//! story ("Tess records a payment of 40.00 at Harbor Bakery") rather than as field lists.
//!
//! Every builder returns a record that passes [`crate::validate::check_record`]; a test changes
//! the one field its story is about (`Job { status: JobStatus::OnSite, ..job(..) }`). Ids are
//! new on every call. The company these records make up, stored in a replica, is
//! `fieldsync_store::fixtures::Company`.
//!
//! Built with the crate's `fixtures` feature (and in its own tests).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, TimeZone as _, Utc};

use crate::{
    Account, AccountId, Address, Author, Contact, ContactId, Day, Invoice, InvoiceId, InvoiceLine,
    Job, JobId, JobSite, JobStatus, Money, Note, NoteId, NoteKind, Payment, PaymentId,
    PaymentMethod, Role, SiteId, Timestamp, UserId, Writer,
};

/// The day the company's story happens on: Monday 23 November 2026.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("a real day")
}

/// `hh:mm` on `day`, UTC (the fixtures' time zone).
pub fn at(day: NaiveDate, hour: u32, minute: u32) -> Timestamp {
    let time = day.and_hms_opt(hour, minute, 0).expect("a real time");
    Timestamp(Utc.from_utc_datetime(&time))
}

/// 09:00 on [`today`]: when records are made unless a test says otherwise.
pub fn now() -> Timestamp {
    at(today(), 9, 0)
}

/// `minutes` after [`now`] (negative: before).
pub fn minutes(minutes: i64) -> Timestamp {
    Timestamp(now().0 + Duration::minutes(minutes))
}

/// A new user called `name`.
pub fn person(name: &str) -> Author {
    Author {
        user: UserId::new(),
        name: name.into(),
    }
}

/// `author` writing as `role`, under a new actor.
pub fn writer_for(role: Role, author: &Author) -> Writer {
    Writer::new(role, author.user, author.name.clone())
}

/// A new user called `name` writing as `role`.
pub fn writer(role: Role, name: &str) -> Writer {
    writer_for(role, &person(name))
}

/// An amount of money, as typed (`"112.50"`).
pub fn money(text: &str) -> Money {
    text.parse().expect("an amount")
}

/// An address in Springfield, Oregon.
pub fn address(line1: &str, postal_code: &str) -> Address {
    Address {
        line1: line1.into(),
        line2: None,
        city: "Springfield".into(),
        region: "OR".into(),
        postal_code: postal_code.into(),
        country: "US".into(),
    }
}

/// An active business customer called `name`, on 30-day terms, with an email made from its
/// name and no contacts yet.
pub fn account(name: &str) -> Account {
    let mailbox: String = name
        .to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    Account {
        number: "C-1000".into(),
        phone: Some("+1 541 555 0140".into()),
        email: Some(format!("office@{mailbox}.example")),
        billing_address: address("112 Main St", "97477"),
        ..Account::new(
            AccountId::new(),
            name,
            Timestamp(now().0 - Duration::days(400)),
        )
    }
}

/// A contact called `name` with `role` at the customer, reachable at `email`.
pub fn contact(name: &str, role: &str, email: &str) -> Contact {
    Contact {
        id: ContactId::new(),
        name: name.into(),
        role: role.into(),
        email: Some(email.into()),
        phone: None,
        sites: Vec::new(),
        archived_at: None,
    }
}

/// `account`'s site called `name`, at 112 Main St.
pub fn site(account: AccountId, name: &str) -> JobSite {
    JobSite {
        id: SiteId::new(),
        account,
        name: name.into(),
        address: address("112 Main St", "97477"),
        access_instructions: "Ask at the front desk.".into(),
        archived_at: None,
    }
}

/// A job called `title` at `site` of `account`: scheduled for [`now`], 90 minutes, no
/// technician yet, estimated at 180.00.
pub fn job(account: AccountId, site: SiteId, title: &str) -> Job {
    Job {
        id: JobId::new(),
        account,
        site,
        title: title.into(),
        requested_services: vec![title.into()],
        pickup_address: None,
        delivery_address: None,
        inventory: Vec::new(),
        estimate: Some(money("180.00")),
        final_amount: None,
        status: JobStatus::Scheduled,
        technicians: BTreeMap::new(),
        scheduled_start: Some(now()),
        scheduled_end: Some(minutes(90)),
        created_at: Timestamp(now().0 - Duration::days(7)),
        contact: None,
    }
}

/// Invoice `number` of `job`, dated [`today`], tax-free, with `lines` of (description,
/// quantity, unit price).
pub fn invoice(job: JobId, number: &str, lines: &[(&str, &str, &str)]) -> Invoice {
    Invoice {
        id: InvoiceId::new(),
        job,
        number: number.into(),
        date: Day(today()),
        lines: lines
            .iter()
            .map(|(description, quantity, price)| InvoiceLine {
                description: description.to_string(),
                quantity: quantity.parse().expect("a quantity"),
                unit_price: money(price),
            })
            .collect(),
        tax_rate: "0".parse().expect("a rate"),
        voided: None,
        signature: None,
        created_by: UserId::new(),
        created_at: now(),
    }
}

/// A cash payment of `amount` on `account`, recorded by `by` at [`now`], for no invoice.
pub fn payment(account: AccountId, amount: &str, by: &Author) -> Payment {
    Payment {
        id: PaymentId::new(),
        account,
        job: None,
        invoice: None,
        amount: money(amount),
        method: PaymentMethod::Cash,
        reference: String::new(),
        received_at: now(),
        recorded_by: by.user,
        recorded_by_name: by.name.clone(),
        credit_applied: Vec::new(),
    }
}

/// A note of `kind` saying `text`, written by `by` at `when`.
pub fn note(kind: NoteKind, text: &str, by: &Author, when: Timestamp) -> Note {
    Note {
        id: NoteId::new(),
        kind,
        text: text.into(),
        author: by.user,
        author_name: by.name.clone(),
        created_at: when,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;

    #[test]
    fn every_fixture_record_passes_the_schema_and_the_offices_role() {
        let office = writer(Role::Office, "Dana");
        let account = account("Harbor Bakery");
        let site = site(account.id, "Main Street bakery");
        let mut job = job(account.id, site.id, "Annual boiler service");
        let bill = invoice(job.id, "INV-0-00001", &[("Service", "1", "240.00")]);
        let mut account_record = Record::new_account(account.clone());
        if let Record::Account(doc) = &mut account_record {
            let ana = contact("Ana Okafor", "Owner", "ana@harbor.example");
            doc.contacts.insert(ana.id, ana);
        }
        job.final_amount = job.estimate;
        let mut job_record = Record::new_job(job);
        if let Record::Job(doc) = &mut job_record {
            let n = note(NoteKind::Private, "Slow payer", &office.author, now());
            doc.notes.insert(n.id, n);
            doc.invoices.insert(bill.id, bill);
        }
        for record in [
            account_record,
            Record::new_site(site),
            job_record,
            Record::new_payment(payment(account.id, "40.00", &office.author)),
        ] {
            office.create(&record, now()).unwrap();
        }
    }
}
