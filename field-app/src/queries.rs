//! Read-side view models for the tablet's screens, with no UI types in them: today's jobs, the
//! job packet, the customer page, search results and the outbox listing. Each is read from the
//! local replica alone, so every screen works with the network off.
//!
//! The UI turns these into its own structs; the command line prints them.

use fieldsync_protocol::views::{self, InvoiceStanding};
use fieldsync_protocol::{
    Account, AccountId, Contact, DocId, DocKind, Invoice, Job, JobId, JobSite, Ledger, Note,
    NoteKind, Payment, Photo, Record, Timestamp, UserId,
};
use fieldsync_store::{AccountSummary, OutboxStatus, Store};

use crate::AppError;

/// One job on the technician's day list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayJob {
    /// The job.
    pub job: Job,
    /// The customer's name.
    pub account_name: String,
    /// Whether the customer is on credit hold.
    pub credit_hold: bool,
    /// The site's name and address (empty when the site is not on the tablet).
    pub site_name: String,
    /// The site's street address.
    pub site_address: String,
    /// Everything needed to work the job without a network is on the tablet: the job, its
    /// account and site documents, and the thumbnails of its photos.
    pub ready_offline: bool,
}

/// The jobs assigned to `technician` whose scheduled window starts in `[from, to)` (a day),
/// in schedule order.
pub fn day_jobs(
    store: &Store,
    technician: UserId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<DayJob>, AppError> {
    let mut day = Vec::new();
    for job in store.jobs_for_technician(technician)? {
        let Some(start) = job.scheduled_start else {
            continue;
        };
        if start < from || start >= to {
            continue;
        }
        let account = account_doc(store, job.account)?;
        let site = site_doc(store, &job)?;
        let ready_offline =
            account.is_some() && site.is_some() && photos_ready(store, &job, site.as_ref())?;
        day.push(DayJob {
            account_name: account.as_ref().map_or_else(
                || "(customer not on this tablet)".into(),
                |a| a.name.clone(),
            ),
            credit_hold: account.as_ref().is_some_and(|a| a.credit_hold),
            site_name: site
                .as_ref()
                .map(|s| s.record.name.clone())
                .unwrap_or_default(),
            site_address: site
                .as_ref()
                .map(|s| s.record.address.to_string())
                .unwrap_or_default(),
            ready_offline,
            job,
        });
    }
    Ok(day)
}

/// An earlier job at the same site, with what was done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visit {
    /// The earlier job.
    pub job: Job,
    /// Its service-performed notes, oldest first.
    pub performed: Vec<Note>,
}

/// Everything a technician reads on site: the job packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPacket {
    /// The job.
    pub job: Job,
    /// The customer.
    pub account: Account,
    /// The site (`None` when its document is not on the tablet).
    pub site: Option<JobSite>,
    /// The customer's current contacts: the job's contact first, then those linked to this
    /// site.
    pub contacts: Vec<Contact>,
    /// Alerts on the customer and the site, to show before anything else.
    pub alerts: Vec<fieldsync_protocol::Alert>,
    /// The job's notes, oldest first.
    pub notes: Vec<Note>,
    /// The site's own notes (access, hazards), oldest first.
    pub site_notes: Vec<Note>,
    /// The job's photos, by time taken.
    pub photos: Vec<Photo>,
    /// Earlier jobs at this site, newest first.
    pub earlier_visits: Vec<Visit>,
    /// The customer's balance, credit and invoices.
    pub ledger: Ledger,
    /// The job's invoices, by date, with their standing.
    pub invoices: Vec<InvoiceRow>,
    /// Files kept on the customer and its sites (the job's site's first), with whether each
    /// opens offline.
    pub files: Vec<crate::files::FileRow>,
}

impl JobPacket {
    /// The invoice a payment for this job goes to unless the technician chooses otherwise:
    /// the job's oldest invoice still owed something.
    pub fn open_invoice(&self) -> Option<&Invoice> {
        self.ledger
            .open_invoice_of(self.invoices.iter().map(|row| &row.invoice), self.job.id)
    }
}

/// The packet of `job`.
pub fn job_packet(store: &Store, job: JobId) -> Result<JobPacket, AppError> {
    let Some(Record::Job(doc)) = store.record(job.into())? else {
        return Err(AppError::NotFound(format!("job {job}")));
    };
    let job = doc.record;
    let account = account_doc(store, job.account)?
        .ok_or_else(|| AppError::NotFound(format!("account {}", job.account)))?;
    let site = site_doc(store, &job)?;
    let contacts = views::contacts_for_job(&job, store.contacts_for_account(job.account)?);
    let mut alerts = store.alerts(job.account.into())?;
    alerts.extend(store.alerts(job.site.into())?);
    let start = job.scheduled_start;
    let mut earlier_visits = Vec::new();
    for other in store.jobs_for_account(job.account)? {
        let earlier = match (other.scheduled_start, start) {
            (Some(then), Some(now)) => then < now,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if other.site == job.site && other.id != job.id && earlier {
            let performed = store
                .notes_for_doc(other.id.into())?
                .into_iter()
                .filter(|n| n.kind == NoteKind::ServicePerformed)
                .collect();
            earlier_visits.push(Visit {
                job: other,
                performed,
            });
        }
    }
    earlier_visits.reverse();
    let ledger = store.ledger(job.account)?;
    let invoices = invoice_rows(
        store
            .invoices_for_account(job.account)?
            .into_iter()
            .filter(|i| i.job == job.id),
        &ledger,
    );
    // The job's own site's files first.
    let site_name = site.as_ref().map(|s| s.record.name.clone());
    let mut files = crate::files::file_rows(store, job.account)?;
    files.sort_by_key(|f| f.site_name.is_none() || f.site_name != site_name);
    Ok(JobPacket {
        files,
        notes: store.notes_for_doc(job.id.into())?,
        site_notes: store.notes_for_doc(job.site.into())?,
        photos: store.photos_for_doc(job.id.into())?,
        invoices,
        ledger,
        site: site.map(|s| s.record),
        contacts,
        alerts,
        earlier_visits,
        account,
        job,
    })
}

/// An invoice with its standing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceRow {
    /// The invoice.
    pub invoice: Invoice,
    /// Its total, what was paid against it and its status.
    pub standing: Option<InvoiceStanding>,
}

fn invoice_rows(invoices: impl IntoIterator<Item = Invoice>, ledger: &Ledger) -> Vec<InvoiceRow> {
    invoices
        .into_iter()
        .map(|invoice| InvoiceRow {
            standing: ledger.invoices.get(&invoice.id).cloned(),
            invoice,
        })
        .collect()
}

/// The customer page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerPage {
    /// The account.
    pub account: Account,
    /// Alerts on the account and its sites, to show first.
    pub alerts: Vec<fieldsync_protocol::Alert>,
    /// The newest of its contact log, newest first.
    pub contact_log: Vec<fieldsync_protocol::ContactEntry>,
    /// Its current contacts (not archived), by name.
    pub contacts: Vec<Contact>,
    /// Its current job sites (not archived), by name.
    pub sites: Vec<JobSite>,
    /// Its jobs, by scheduled start.
    pub jobs: Vec<Job>,
    /// Its invoices, by date, with their standing.
    pub invoices: Vec<InvoiceRow>,
    /// Its payments, by time received.
    pub payments: Vec<Payment>,
    /// Balance and unapplied credit.
    pub ledger: Ledger,
    /// Its custom fields: the company's, in order, then values of fields no longer defined.
    pub fields: Vec<fieldsync_protocol::custom_fields::FieldValue>,
    /// Files kept on the customer and its sites, newest first, with whether each opens
    /// offline.
    pub files: Vec<crate::files::FileRow>,
}

/// Contact log entries a customer page shows.
pub const CONTACT_LOG_SHOWN: usize = 20;

/// The page of `account`.
pub fn customer_page(store: &Store, account: AccountId) -> Result<CustomerPage, AppError> {
    let record = account_doc(store, account)?
        .ok_or_else(|| AppError::NotFound(format!("account {account}")))?;
    let ledger = store.ledger(account)?;
    let invoices = invoice_rows(store.invoices_for_account(account)?, &ledger);
    let sites: Vec<JobSite> = store
        .sites_for_account(account)?
        .into_iter()
        .filter(|s| s.archived_at.is_none())
        .collect();
    let mut alerts = store.alerts(account.into())?;
    for site in &sites {
        alerts.extend(store.alerts(site.id.into())?);
    }
    let mut contacts = store.contacts_for_account(account)?;
    contacts.retain(|c| c.archived_at.is_none());
    let fields =
        fieldsync_protocol::custom_fields::shown(&store.custom_fields()?, &record.custom_fields);
    Ok(CustomerPage {
        fields,
        files: crate::files::file_rows(store, account)?,
        account: record,
        alerts,
        contact_log: store.contact_log(account, CONTACT_LOG_SHOWN)?,
        contacts,
        sites,
        jobs: store.jobs_for_account(account)?,
        invoices,
        payments: store.payments_for_account(account)?,
        ledger,
    })
}

/// What a customer owes past its invoices' due dates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overdue {
    /// How many invoices are overdue.
    pub invoices: usize,
    /// What they still owe together.
    pub owed: fieldsync_protocol::Money,
    /// Days past due of the oldest.
    pub oldest_days: i64,
}

/// The customer's invoices still owed something after their due date (the invoice date plus
/// the account's terms), as of `today`.
pub fn overdue(
    store: &Store,
    account: &Account,
    ledger: &Ledger,
    today: chrono::NaiveDate,
) -> Result<Overdue, AppError> {
    let mut overdue = Overdue::default();
    for invoice in store.invoices_for_account(account.id)? {
        let owed = ledger.owed_on(invoice.id);
        let due = fieldsync_protocol::due_date(invoice.date.0, account.terms_net_days);
        let days = (today - due).num_days();
        if owed > fieldsync_protocol::Money::ZERO && days > 0 {
            overdue.invoices += 1;
            overdue.owed = overdue.owed + owed;
            overdue.oldest_days = overdue.oldest_days.max(days);
        }
    }
    Ok(overdue)
}

/// One invoice with everything its sheet (screen or PDF) shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceView {
    /// The invoice.
    pub invoice: Invoice,
    /// Its job.
    pub job: Job,
    /// The customer.
    pub account: Account,
    /// The job's site (`None` when its document is not on the tablet).
    pub site: Option<JobSite>,
    /// Total, paid, status and the payments applied to it.
    pub standing: InvoiceStanding,
    /// Those payments, each with the part of it applied to this invoice, oldest first.
    pub payments: Vec<(Payment, fieldsync_protocol::Money)>,
    /// When it is due under the customer's terms.
    pub due: chrono::NaiveDate,
}

/// The invoice numbered `number` (`INV-3-00012`) or with id `number`.
pub fn invoice_view(store: &Store, number: &str) -> Result<InvoiceView, AppError> {
    let number = number.trim();
    let mut found = store.invoices_numbered(number)?;
    if found.is_empty()
        && let Ok(id) = number.parse::<fieldsync_protocol::InvoiceId>()
    {
        found = store.invoice_with_id(id)?;
    }
    let invoice = found
        .pop()
        .ok_or_else(|| AppError::NotFound(format!("invoice {number}")))?;
    let Some(Record::Job(doc)) = store.record(invoice.job.into())? else {
        return Err(AppError::NotFound(format!("job {}", invoice.job)));
    };
    let job = doc.record;
    let account = account_doc(store, job.account)?
        .ok_or_else(|| AppError::NotFound(format!("account {}", job.account)))?;
    let site = site_doc(store, &job)?.map(|s| s.record);
    let ledger = store.ledger(job.account)?;
    let standing =
        ledger.invoices.get(&invoice.id).cloned().ok_or_else(|| {
            AppError::NotFound(format!("the standing of invoice {}", invoice.number))
        })?;
    let mut payments = Vec::new();
    for (id, amount) in &standing.payments {
        if let Some(Record::Payment(p)) = store.record((*id).into())? {
            payments.push((p.record, *amount));
        }
    }
    let due = fieldsync_protocol::due_date(invoice.date.0, account.terms_net_days);
    Ok(InvoiceView {
        invoice,
        job,
        account,
        site,
        standing,
        payments,
        due,
    })
}

/// An account found by search, with the contacts that help recognise it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchHit {
    /// The account.
    pub summary: AccountSummary,
    /// Its contacts as "name <email>", by name.
    pub contacts: Vec<String>,
}

/// Accounts matching any part of their name, type, phones, addresses, contacts, from the local
/// replica (works offline).
pub fn search(store: &Store, query: &str, limit: usize) -> Result<Vec<SearchHit>, AppError> {
    let mut hits = Vec::new();
    for summary in store.search_accounts(query, limit)? {
        let contacts = store
            .contacts_for_account(summary.id)?
            .into_iter()
            .map(|c| match c.email {
                Some(email) => format!("{} <{email}>", c.name),
                None => c.name,
            })
            .collect();
        hits.push(SearchHit { summary, contacts });
    }
    Ok(hits)
}

/// One change in the outbox, described for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxLine {
    /// The document changed.
    pub doc: DocId,
    /// Its kind.
    pub kind: DocKind,
    /// What it is ("Annual boiler service · Harbor Bakery", "Payment 120.50 · Harbor Bakery").
    pub what: String,
    /// `None` while waiting to be sent; the server's reason when it refused the change.
    pub refused: Option<String>,
    /// When the change was made.
    pub made_at: Option<Timestamp>,
}

/// The outbox: unsent changes and those the server refused, oldest first.
pub fn outbox(store: &Store) -> Result<Vec<OutboxLine>, AppError> {
    let mut lines = Vec::new();
    for entry in store.outbox_entries()? {
        let what = match store.record(entry.doc)? {
            Some(record) => describe(store, &record)?,
            None => format!("{} {}", entry.kind, entry.doc),
        };
        lines.push(OutboxLine {
            doc: entry.doc,
            kind: entry.kind,
            what,
            refused: match entry.status {
                OutboxStatus::Pending => None,
                OutboxStatus::Refused(reason) => Some(reason),
            },
            made_at: Timestamp::from_millis(entry.created_at_ms),
        });
    }
    Ok(lines)
}

fn describe(store: &Store, record: &Record) -> Result<String, AppError> {
    let account_name = |id: AccountId| -> Result<String, AppError> {
        Ok(store.account(id)?.map(|a| a.name).unwrap_or_default())
    };
    Ok(match record {
        Record::Account(d) => format!("Customer {}", d.record.name),
        Record::Site(d) => format!("Site {} · {}", d.record.name, account_name(d.account)?),
        Record::Job(d) => format!("{} · {}", d.record.title, account_name(d.account)?),
        Record::Payment(d) => format!(
            "Payment {} ({}) · {}",
            d.record.amount,
            d.record.method,
            account_name(d.account)?
        ),
    })
}

fn account_doc(store: &Store, account: AccountId) -> Result<Option<Account>, AppError> {
    Ok(match store.record(account.into())? {
        Some(Record::Account(doc)) => Some(doc.record),
        _ => None,
    })
}

fn site_doc(store: &Store, job: &Job) -> Result<Option<fieldsync_protocol::SiteDoc>, AppError> {
    Ok(match store.record(job.site.into())? {
        Some(Record::Site(doc)) => Some(doc),
        _ => None,
    })
}

/// Whether the thumbnails of the job's and its site's photos are all on the tablet.
fn photos_ready(
    store: &Store,
    job: &Job,
    site: Option<&fieldsync_protocol::SiteDoc>,
) -> Result<bool, AppError> {
    let mut photos = store.photos_for_doc(job.id.into())?;
    photos.extend(site.into_iter().flat_map(|s| s.photos.values().cloned()));
    for photo in photos {
        if !store
            .blob_state(&photo.thumb_hash)?
            .is_some_and(|b| b.complete)
        {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate, TimeZone as _, Utc};
    use fieldsync_protocol::{Author, NoteKind};

    use super::*;
    use crate::Tablet;

    /// The server's demo company on a tablet used by its technician "tess", on a Monday.
    fn demo_tablet(dir: &tempfile::TempDir) -> (Tablet, NaiveDate) {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let path = dir.path().join("tablet.sqlite3");
        let mut store = Store::open(&path).unwrap();
        fieldsync_server::demo::load(&mut store, monday).unwrap();
        let (tess, _) = store.user_by_name("tess").unwrap().unwrap();
        drop(store);
        let author = Author {
            user: tess.id,
            name: "Tess".into(),
        };
        (Tablet::open(&path, author).unwrap(), monday)
    }

    fn day(date: NaiveDate) -> (Timestamp, Timestamp) {
        let start = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap());
        (Timestamp(start), Timestamp(start + Duration::days(1)))
    }

    #[test]
    fn a_day_lists_only_the_technicians_jobs_of_that_day_in_schedule_order() {
        let dir = tempfile::tempdir().unwrap();
        let (tablet, monday) = demo_tablet(&dir);
        let me = tablet.author().user;
        let (from, to) = day(monday);
        let jobs = day_jobs(tablet.store(), me, from, to).unwrap();
        assert!(!jobs.is_empty());
        let starts: Vec<_> = jobs
            .iter()
            .map(|d| d.job.scheduled_start.unwrap())
            .collect();
        assert!(starts.is_sorted(), "schedule order");
        assert!(starts.iter().all(|s| *s >= from && *s < to));
        assert!(jobs.iter().all(|d| d.job.technicians.contains_key(&me)));
        assert!(
            jobs.iter()
                .all(|d| d.ready_offline && !d.account_name.is_empty())
        );
        let (from, to) = day(monday - Duration::days(1));
        assert!(day_jobs(tablet.store(), me, from, to).unwrap().is_empty());
    }

    #[test]
    fn the_packet_holds_the_site_contacts_and_earlier_visits_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let (tablet, monday) = demo_tablet(&dir);
        let (from, to) = day(monday + Duration::days(4));
        // Friday's jobs are some other technician's; any job of the week will do.
        let all = tablet.store().jobs_scheduled_between(from, to).unwrap();
        let job = all
            .iter()
            .find(|j| {
                tablet
                    .store()
                    .jobs_for_account(j.account)
                    .unwrap()
                    .iter()
                    .any(|o| o.site == j.site && o.scheduled_start < j.scheduled_start)
            })
            .expect("a job with an earlier visit at its site");
        let packet = job_packet(tablet.store(), job.id).unwrap();
        assert_eq!(packet.account.id, job.account);
        assert_eq!(packet.site.as_ref().map(|s| s.id), Some(job.site));
        assert!(!packet.contacts.is_empty());
        assert!(!packet.earlier_visits.is_empty());
        let visits: Vec<_> = packet
            .earlier_visits
            .iter()
            .map(|v| v.job.scheduled_start)
            .collect();
        assert!(visits.is_sorted_by(|a, b| a >= b), "newest first");
        for visit in &packet.earlier_visits {
            assert_eq!(visit.job.site, job.site);
            assert!(visit.job.scheduled_start < job.scheduled_start);
            assert!(
                visit
                    .performed
                    .iter()
                    .all(|n| n.kind == NoteKind::ServicePerformed)
            );
        }
        assert!(matches!(
            job_packet(tablet.store(), JobId::new()),
            Err(AppError::NotFound(_))
        ));
    }

    #[test]
    fn search_customer_page_and_outbox_read_the_local_replica() {
        let dir = tempfile::tempdir().unwrap();
        let (mut tablet, monday) = demo_tablet(&dir);
        let hits = search(tablet.store(), "okafor", 10).unwrap();
        assert!(
            hits.iter()
                .any(|h| h.contacts.iter().any(|c| c.contains("okafor")))
        );
        let harbor = search(tablet.store(), "harbor bakery", 1).unwrap()[0]
            .summary
            .id;
        let page = customer_page(tablet.store(), harbor).unwrap();
        assert_eq!(page.account.name, "Harbor Bakery");
        assert_eq!(page.ledger, tablet.store().ledger(harbor).unwrap());
        assert!(page.invoices.iter().all(|i| i.standing.is_some()));

        assert!(outbox(tablet.store()).unwrap().is_empty());
        let job = page.jobs[0].clone();
        let now = Timestamp(Utc.from_utc_datetime(&monday.and_hms_opt(9, 0, 0).unwrap()));
        tablet
            .add_job_note(now, job.id, NoteKind::Site, "Side gate is locked")
            .unwrap();
        let lines = outbox(tablet.store()).unwrap();
        assert_eq!(lines.len(), 1);
        // A site note goes on the site, for every later visit there.
        let site = tablet.store().job(job.id).unwrap().unwrap().site;
        let site_name = page
            .sites
            .iter()
            .find(|s| s.id == site)
            .unwrap()
            .name
            .clone();
        assert_eq!(lines[0].what, format!("Site {site_name} · Harbor Bakery"));
        assert_eq!(
            (lines[0].kind, lines[0].refused.clone()),
            (DocKind::Site, None)
        );
    }
}
