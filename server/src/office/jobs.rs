//! Jobs: the day's dispatch board, lists by day, technician or status, the job page's data,
//! create, assign, change status, and notes on jobs, sites and accounts.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveTime};
use fieldsync_protocol::validate;
use fieldsync_protocol::{
    AccountId, Address, Alert, Contact, ContactId, DocId, Invoice, Job, JobId, JobSite, JobStatus,
    Ledger, Money, Note, NoteId, NoteKind, Payment, PaymentMethod, Photo, Record, Role, SiteId,
    Timestamp, UserId,
};
use fieldsync_store::{AccountSummary, ListedJob, Logged, Store, StoreError};
use serde::{Deserialize, Serialize};

use super::accounts::{InvoiceRow, invoice_rows};
use super::{
    Clerk, OfficeError, OfficeResult, Paging, create, edit, edit_named, log_page, now, optional_id,
    parse_field, parse_id, required,
};
use crate::AppState;
use crate::zone::Zone;

/// A user as shown next to a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Their id.
    pub id: UserId,
    /// Their name.
    pub name: String,
}

/// A job in a list, with the names a reader needs.
#[derive(Clone, Debug, Serialize)]
pub struct JobRow {
    /// The job.
    pub job: Job,
    /// The customer's name.
    pub account_name: String,
    /// Whether the customer is on credit hold.
    pub credit_hold: bool,
    /// The site's name.
    pub site_name: String,
    /// Assigned technicians, by name.
    pub technicians: Vec<Person>,
}

/// One technician's column of the board.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    /// The technician.
    pub technician: Person,
    /// Their jobs of the day, by start.
    pub jobs: Vec<JobRow>,
}

/// The dispatch board of one day.
#[derive(Clone, Debug, Serialize)]
pub struct Board {
    /// The day (the company's).
    pub day: NaiveDate,
    /// Every technician, with their jobs of the day.
    pub columns: Vec<Column>,
    /// The day's jobs nobody is assigned to.
    pub unassigned: Vec<JobRow>,
}

/// A job as a live board redraws it: its card's row, and the columns it goes in (those of its
/// technicians who have one; none: the unassigned column).
#[derive(Clone, Debug, Serialize)]
pub struct Placed {
    /// The job, with names.
    pub row: JobRow,
    /// The technicians whose columns show it.
    pub columns: Vec<UserId>,
}

/// Which jobs to list.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct JobFilter {
    /// Jobs scheduled on this day (the company's, `YYYY-MM-DD`); today when missing.
    pub day: Option<String>,
    /// Only jobs assigned to this technician (a user id).
    pub technician: Option<String>,
    /// Only jobs with this status.
    pub status: Option<String>,
}

/// Parses `YYYY-MM-DD`; the company's today (in `zone`) when empty.
pub fn parse_day(day: Option<&str>, zone: Zone) -> OfficeResult<NaiveDate> {
    match day.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(zone.today()),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            OfficeError::Invalid(format!("day {text:?} is not a date like 2026-11-25"))
        }),
    }
}

/// Every technician, by name.
pub async fn technicians(state: &AppState) -> OfficeResult<Vec<Person>> {
    let users = state.db().read(|store| Ok(store.users()?)).await?;
    let mut people: Vec<Person> = users
        .into_iter()
        .filter(|u| u.role == Role::Technician)
        .map(|u| Person {
            id: u.id,
            name: u.name,
        })
        .collect();
    people.sort_by_key(|p| p.name.to_lowercase());
    Ok(people)
}

/// The technician named `name` (ignoring case), or a refusal saying there is none.
pub async fn technician_named(state: &AppState, name: &str) -> OfficeResult<UserId> {
    technicians(state)
        .await?
        .into_iter()
        .find(|t| t.name.eq_ignore_ascii_case(name.trim()))
        .map(|t| t.id)
        .ok_or_else(|| OfficeError::Invalid(format!("no technician is named {:?}", name.trim())))
}

/// Shown for a job whose customer is gone.
const UNKNOWN_ACCOUNT: &str = "(unknown account)";

/// Every user's name, by id.
fn technician_names(store: &Store) -> Result<HashMap<UserId, String>, StoreError> {
    Ok(store.users()?.into_iter().map(|u| (u.id, u.name)).collect())
}

/// A job's technicians, by name (their id when unknown).
fn people(names: &HashMap<UserId, String>, job: &Job) -> Vec<Person> {
    job.technicians
        .keys()
        .map(|id| Person {
            id: *id,
            name: names.get(id).cloned().unwrap_or_else(|| id.to_string()),
        })
        .collect()
}

/// Rows for `jobs`, with account, site and technician names looked up once each.
fn rows(store: &Store, jobs: Vec<Job>) -> Result<Vec<JobRow>, StoreError> {
    let names = technician_names(store)?;
    let mut accounts: HashMap<AccountId, Option<AccountSummary>> = HashMap::new();
    let mut sites: HashMap<SiteId, String> = HashMap::new();
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        if let std::collections::hash_map::Entry::Vacant(entry) = accounts.entry(job.account) {
            entry.insert(store.account(job.account)?);
            for site in store.sites_for_account(job.account)? {
                sites.insert(site.id, site.name);
            }
        }
        let account = accounts.get(&job.account).cloned().flatten();
        out.push(JobRow {
            account_name: account
                .as_ref()
                .map_or_else(|| UNKNOWN_ACCOUNT.into(), |a| a.name.clone()),
            credit_hold: account.is_some_and(|a| a.credit_hold),
            site_name: sites.get(&job.site).cloned().unwrap_or_default(),
            technicians: people(&names, &job),
            job,
        });
    }
    Ok(out)
}

/// Jobs of a day (today by default), optionally only one technician's or one status.
pub async fn list(state: &AppState, filter: &JobFilter) -> OfficeResult<Vec<JobRow>> {
    list_in(state, filter, state.zone().await?).await
}

/// [`list`], the company's days being those of `zone`.
async fn list_in(state: &AppState, filter: &JobFilter, zone: Zone) -> OfficeResult<Vec<JobRow>> {
    let day = parse_day(filter.day.as_deref(), zone)?;
    let technician =
        match filter
            .technician
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => None,
            Some(text) => Some(text.parse::<UserId>().map_err(|_| {
                OfficeError::Invalid(format!("technician {text:?} is not a user id"))
            })?),
        };
    let status = match filter
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(text) => Some(parse_field::<JobStatus>("status", text)?),
    };
    let (from, to) = zone.day_bounds(day);
    let rows = state
        .db()
        .read(move |store| {
            let names = technician_names(store)?;
            Ok(store
                .jobs_listed_between(from, to)?
                .into_iter()
                .filter(|l| technician.is_none_or(|t| l.job.technicians.contains_key(&t)))
                .filter(|l| status.is_none_or(|s| l.job.status == s))
                .map(|listed| row_of(&names, listed))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(rows)
}

/// A listed job as lists show it.
fn row_of(names: &HashMap<UserId, String>, listed: ListedJob) -> JobRow {
    JobRow {
        account_name: listed
            .account_name
            .unwrap_or_else(|| UNKNOWN_ACCOUNT.into()),
        credit_hold: listed.credit_hold,
        site_name: listed.site_name.unwrap_or_default(),
        technicians: people(names, &listed.job),
        job: listed.job,
    }
}

/// Most customers whose cards a live board asks for at once; past it, it redraws whole.
pub const MAX_LIVE_ACCOUNTS: usize = 200;

/// The cards of the jobs of `accounts` on the board of `day` (a day of `zone`): what a live
/// board redraws when those customers' records changed (a job of theirs edited, moved to or
/// from the day, or the customer's name or credit hold changed), without the rest of the day.
pub async fn board_cards(
    state: &AppState,
    day: NaiveDate,
    zone: Zone,
    accounts: Vec<AccountId>,
) -> OfficeResult<Vec<Placed>> {
    if accounts.len() > MAX_LIVE_ACCOUNTS {
        return Err(OfficeError::Invalid(format!(
            "at most {MAX_LIVE_ACCOUNTS} customers' cards at once, not {}",
            accounts.len()
        )));
    }
    let (from, to) = zone.day_bounds(day);
    let rows = state
        .db()
        .read(move |store| {
            let users = store.users()?;
            let technicians: HashSet<UserId> = (users.iter())
                .filter(|u| u.role == Role::Technician)
                .map(|u| u.id)
                .collect();
            let names = users.into_iter().map(|u| (u.id, u.name)).collect();
            Ok(store
                .jobs_listed_between_for(from, to, &accounts)?
                .into_iter()
                .map(|listed| {
                    let row = row_of(&names, listed);
                    let columns = (row.job.technicians.keys())
                        .filter(|t| technicians.contains(t))
                        .copied()
                        .collect();
                    Placed { row, columns }
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(rows)
}

/// The dispatch board of `day`, a day of the company's `zone`.
pub async fn board(state: &AppState, day: NaiveDate, zone: Zone) -> OfficeResult<Board> {
    let filter = JobFilter {
        day: Some(day.to_string()),
        ..JobFilter::default()
    };
    let jobs = list_in(state, &filter, zone).await?;
    let mut columns: Vec<Column> = technicians(state)
        .await?
        .into_iter()
        .map(|technician| Column {
            technician,
            jobs: Vec::new(),
        })
        .collect();
    let column_of: HashMap<UserId, usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.technician.id, i))
        .collect();
    let mut unassigned = Vec::new();
    for row in jobs {
        let mut on: Vec<usize> = (row.job.technicians.keys())
            .filter_map(|t| column_of.get(t).copied())
            .collect();
        let Some(last) = on.pop() else {
            // No technician, or none that is still a technician: waiting for one.
            unassigned.push(row);
            continue;
        };
        for i in on {
            columns[i].jobs.push(row.clone());
        }
        columns[last].jobs.push(row);
    }
    Ok(Board {
        day,
        columns,
        unassigned,
    })
}

/// Everything on a job page.
#[derive(Clone, Debug, Serialize)]
pub struct JobDetail {
    /// The job, with names.
    pub row: JobRow,
    /// The customer.
    pub account: AccountSummary,
    /// The site.
    pub site: Option<JobSite>,
    /// The customer's contacts still current: the job's contact first, then those linked to
    /// the job's site, then the others.
    pub contacts: Vec<Contact>,
    /// Alerts on the customer and on the site, to show before anything else.
    pub alerts: Vec<Alert>,
    /// A page of the job's notes (the newest, or older ones when asked), oldest first.
    pub notes: Vec<Note>,
    /// Which notes and how many: see [`Shown`].
    pub notes_shown: Shown,
    /// The newest of the site's notes, oldest first.
    pub site_notes: Vec<Note>,
    /// How many notes the site has.
    pub site_notes_total: usize,
    /// A page of the job's photos, by time taken.
    pub photos: Vec<Photo>,
    /// Which photos and how many: see [`Shown`].
    pub photos_shown: Shown,
    /// The job's invoices with their standing.
    pub invoices: Vec<InvoiceRow>,
    /// Payments for this job.
    pub payments: Vec<Payment>,
    /// The customer's balance.
    pub balance: Money,
    /// How the customer usually pays (preselected on the payment form).
    pub payment_method: Option<PaymentMethod>,
    /// Who changed what on the job, newest first: a page of it.
    pub change_log: Vec<Logged>,
    /// The id to ask for the next (older) page of the change log with, when there is one.
    pub change_log_more: Option<i64>,
}

/// Notes shown on a page at once.
pub const NOTES_PAGE: usize = 50;
/// Photos shown on a page at once.
pub const PHOTOS_PAGE: usize = 24;

/// Which part of a long list a page shows.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Shown {
    /// How many of the newest were skipped.
    pub from: usize,
    /// How many the list has in all.
    pub total: usize,
    /// Where the next (older) page starts, when there is one.
    pub more: Option<usize>,
    /// Where the previous (newer) page starts, when this is not the newest.
    pub newer: Option<usize>,
}

impl Shown {
    /// `shown` items from `from` of `total`, `page` at a time.
    pub fn new(from: usize, shown: usize, total: usize, page: usize) -> Shown {
        Shown {
            from,
            total,
            more: (from + shown < total).then_some(from + shown),
            newer: (from > 0).then(|| from.saturating_sub(page)),
        }
    }
}

/// Everything on the page of job `id`.
pub async fn detail(state: &AppState, id: JobId, paging: Paging) -> OfficeResult<JobDetail> {
    let today = state.zone().await?.today();
    let notes_from = paging.notes_from.unwrap_or(0);
    let photos_from = paging.photos_from.unwrap_or(0);
    let found = state
        .db()
        .read(move |store| {
            let Some(job) = store.job(id)? else {
                return Ok(None);
            };
            let account_id = job.account;
            let Some(account) = store.account(account_id)? else {
                return Ok(None);
            };
            let site = store
                .sites_for_account(account_id)?
                .into_iter()
                .find(|s| s.id == job.site);
            let notes = store.notes_page(id.into(), notes_from, NOTES_PAGE)?;
            let photos = store.photos_page(id.into(), photos_from, PHOTOS_PAGE)?;
            let site_notes = store.notes_page(job.site.into(), 0, NOTES_PAGE)?;
            let contacts = store.contacts_for_account(account_id)?;
            let mut alerts = store.alerts(account_id.into())?;
            alerts.extend(store.alerts(job.site.into())?);
            let invoices = store.invoices_for_account(account_id)?;
            let payments = store.payments_for_account(account_id)?;
            // The account's terms, for the invoices' due dates.
            let (net_days, payment_method) = match store.record(account_id.into())? {
                Some(fieldsync_protocol::Record::Account(a)) => {
                    (Some(a.record.terms_net_days), a.record.payment_method)
                }
                _ => (None, None),
            };
            let change_log = log_page(store, id.into(), paging)?;
            let row = rows(store, vec![job])?.remove(0);
            Ok(Some(Found {
                row,
                account,
                site,
                notes,
                photos,
                site_notes,
                contacts,
                alerts,
                invoices,
                payments,
                net_days,
                payment_method,
                change_log,
            }))
        })
        .await?;
    let Some(found) = found else {
        return Err(OfficeError::NotFound("job".into()));
    };
    let ledger = Ledger::compute(&found.invoices, &found.payments);
    let (notes, notes_total) = found.notes;
    let (photos, photos_total) = found.photos;
    let mine: Vec<_> = found.invoices.into_iter().filter(|i| i.job == id).collect();
    let contacts = fieldsync_protocol::views::contacts_for_job(&found.row.job, found.contacts);
    Ok(JobDetail {
        row: found.row,
        account: found.account,
        site: found.site,
        contacts,
        alerts: found.alerts,
        notes_shown: Shown::new(notes_from, notes.len(), notes_total, NOTES_PAGE),
        notes: oldest_first(notes),
        site_notes_total: found.site_notes.1,
        site_notes: oldest_first(found.site_notes.0),
        photos_shown: Shown::new(photos_from, photos.len(), photos_total, PHOTOS_PAGE),
        photos: oldest_first(photos),
        invoices: invoice_rows(mine, &ledger, found.net_days, today),
        payments: found
            .payments
            .into_iter()
            .filter(|p| p.job == Some(id))
            .collect(),
        balance: ledger.balance,
        payment_method: found.payment_method,
        change_log: found.change_log.0,
        change_log_more: found.change_log.1,
    })
}

/// A page read newest first from the store, shown oldest first.
fn oldest_first<T>(mut list: Vec<T>) -> Vec<T> {
    list.reverse();
    list
}

/// What the job page reads from the store.
struct Found {
    row: JobRow,
    account: AccountSummary,
    site: Option<JobSite>,
    notes: (Vec<Note>, usize),
    photos: (Vec<Photo>, usize),
    site_notes: (Vec<Note>, usize),
    contacts: Vec<Contact>,
    alerts: Vec<Alert>,
    invoices: Vec<Invoice>,
    payments: Vec<Payment>,
    net_days: Option<u32>,
    payment_method: Option<PaymentMethod>,
    change_log: (Vec<Logged>, Option<i64>),
}

/// A new job as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct JobInput {
    /// The customer (an account id).
    pub account: String,
    /// The site (a site id of that account).
    pub site: String,
    /// Short title.
    pub title: String,
    /// Requested services, one per line.
    pub requested_services: String,
    /// Day, `YYYY-MM-DD` (empty: unscheduled, a lead).
    pub day: String,
    /// Start time, `HH:MM` in the company's time zone.
    pub start: String,
    /// End time, `HH:MM` in the company's time zone.
    pub end: String,
    /// Technician to assign (a user id, or empty).
    pub technician: String,
    /// Estimate, a decimal amount (or empty).
    pub estimate: String,
}

fn parse_time(field: &str, text: &str) -> OfficeResult<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map_err(|_| OfficeError::Invalid(format!("{field} {text:?} is not a time like 09:30")))
}

/// Creates a job; returns its id.
pub async fn create_job(state: &AppState, clerk: &Clerk, input: &JobInput) -> OfficeResult<JobId> {
    clerk.check_office()?;
    let account_id: AccountId = parse_id("customer", &input.account)?;
    let site_id: SiteId = parse_id("site", &input.site)?;
    let account = super::accounts::account(state, account_id).await?;
    if account.merged_into.is_some() {
        return Err(OfficeError::Conflict(format!(
            "{} was merged into another account; create the job there",
            account.name
        )));
    }
    let sites = state
        .db()
        .read(move |store| Ok(store.sites_for_account(account_id)?))
        .await?;
    if sites
        .iter()
        .any(|s| s.id == site_id && s.archived_at.is_some())
    {
        return Err(OfficeError::Conflict(
            "the site is archived; restore it first or pick another".into(),
        ));
    }
    if !sites.iter().any(|s| s.id == site_id) {
        return Err(OfficeError::Invalid(format!(
            "the site is not one of {}'s sites",
            account.name
        )));
    }
    let title = required("title", &input.title)?;
    let (scheduled_start, scheduled_end) =
        schedule(&input.day, &input.start, &input.end, state.zone().await?)?;
    let mut technicians = BTreeMap::new();
    if !input.technician.trim().is_empty() {
        let user: UserId = parse_id("technician", &input.technician)?;
        check_technicians(state, &[user]).await?;
        technicians.insert(user, now());
    }
    let estimate = parse_amount("estimate", &input.estimate)?;
    let job = Job {
        id: JobId::new(),
        account: account_id,
        site: site_id,
        title,
        requested_services: input
            .requested_services
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        pickup_address: None,
        delivery_address: None,
        inventory: Vec::new(),
        estimate,
        final_amount: None,
        status: if scheduled_start.is_some() {
            JobStatus::Scheduled
        } else {
            JobStatus::Lead
        },
        technicians,
        scheduled_start,
        scheduled_end,
        created_at: now(),
        contact: None,
    };
    let id = job.id;
    create(state, clerk, &Record::new_job(job)).await?;
    Ok(id)
}

/// A job's details as typed on its edit form (every field, as it should be after the edit).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct JobEdit {
    /// Short title.
    pub title: String,
    /// Requested services, one per line.
    pub requested_services: String,
    /// Day, `YYYY-MM-DD` (empty: unscheduled).
    pub day: String,
    /// Start time, `HH:MM` in the company's time zone.
    pub start: String,
    /// End time, `HH:MM` in the company's time zone.
    pub end: String,
    /// Estimate, a decimal amount (or empty).
    pub estimate: String,
    /// Final amount, a decimal amount (or empty).
    pub final_amount: String,
    /// Materials used, one per line: `2 x Gasket`, `1.5 Copper pipe (m)` or just `Gasket`.
    pub materials: String,
    /// Pickup address (moves): street, town, region and postal code, each on a line or
    /// separated by commas; empty for none.
    pub pickup_address: String,
    /// Delivery address (moves), as the pickup address.
    pub delivery_address: String,
    /// The job's contact (a contact id of the customer, or empty).
    pub contact: String,
}

impl JobEdit {
    /// The form filled with `job` as it is, its times in the company's `zone`.
    pub fn from_job(job: &Job, zone: Zone) -> JobEdit {
        let time = |t: Option<Timestamp>| t.map(|t| zone.format(t.0, "%H:%M"));
        JobEdit {
            title: job.title.clone(),
            requested_services: job.requested_services.join("\n"),
            day: job
                .scheduled_start
                .map(|t| zone.day_of(t.0).to_string())
                .unwrap_or_default(),
            start: time(job.scheduled_start).unwrap_or_default(),
            end: time(job.scheduled_end).unwrap_or_default(),
            estimate: job.estimate.map(|m| m.to_string()).unwrap_or_default(),
            final_amount: job.final_amount.map(|m| m.to_string()).unwrap_or_default(),
            materials: validate::format_materials(&job.inventory),
            pickup_address: job
                .pickup_address
                .as_ref()
                .map(address_text)
                .unwrap_or_default(),
            delivery_address: job
                .delivery_address
                .as_ref()
                .map(address_text)
                .unwrap_or_default(),
            contact: job.contact.map(|c| c.to_string()).unwrap_or_default(),
        }
    }
}

/// An address as the edit form shows it, read back by [`parse_address`].
pub fn address_text(a: &Address) -> String {
    format!("{}, {}, {} {}", a.line1, a.city, a.region, a.postal_code)
        .trim_end_matches([' ', ','])
        .to_string()
}

/// Reads an address typed on one line with commas (`12 Oak St, Eugene, OR 97401`) or on
/// several lines; `None` when empty.
pub fn parse_address(field: &str, text: &str) -> OfficeResult<Option<Address>> {
    let parts: Vec<&str> = text
        .split(['\n', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        [] => Ok(None),
        [_] => Err(OfficeError::Invalid(format!(
            "{field} needs a street and a town, such as \"12 Oak St, Eugene, OR 97401\""
        ))),
        [line1, city, rest @ ..] => {
            let tail = rest.join(" ");
            let (region, postal_code) = match tail.rsplit_once(' ') {
                Some((region, postal)) if postal.chars().any(|c| c.is_ascii_digit()) => {
                    (region.trim().to_string(), postal.to_string())
                }
                _ if tail.chars().any(|c| c.is_ascii_digit()) => (String::new(), tail),
                _ => (tail, String::new()),
            };
            Ok(Some(Address {
                line1: line1.to_string(),
                line2: None,
                city: city.to_string(),
                region,
                postal_code,
                country: "US".into(),
            }))
        }
    }
}

fn parse_amount(field: &str, text: &str) -> OfficeResult<Option<Money>> {
    match text.trim() {
        "" => Ok(None),
        text => text.parse::<Money>().map(Some).map_err(|_| {
            OfficeError::Invalid(format!("{field} {text:?} is not an amount such as 120.50"))
        }),
    }
}

/// Edits job `id`: every field of `input`. Only what differs from the stored job is written,
/// so an office edit and a technician's edit of other fields made meanwhile both stand.
pub async fn edit_job(
    state: &AppState,
    clerk: &Clerk,
    id: JobId,
    input: &JobEdit,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let title = required("title", &input.title)?;
    let (scheduled_start, scheduled_end) =
        schedule(&input.day, &input.start, &input.end, state.zone().await?)?;
    let estimate = parse_amount("estimate", &input.estimate)?;
    let final_amount = parse_amount("final amount", &input.final_amount)?;
    let inventory = validate::parse_materials(&input.materials)?;
    let pickup_address = parse_address("the pickup address", &input.pickup_address)?;
    let delivery_address = parse_address("the delivery address", &input.delivery_address)?;
    let contact: Option<ContactId> = optional_id("contact", &input.contact)?;
    let services: Vec<String> = input
        .requested_services
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let job = state
        .db()
        .read(move |store| Ok(store.job(id)?))
        .await?
        .ok_or_else(|| OfficeError::NotFound("job".into()))?;
    if let Some(contact) = contact {
        let account = job.account;
        let contacts = state
            .db()
            .read(move |store| Ok(store.contacts_for_account(account)?))
            .await?;
        if !contacts
            .iter()
            .any(|c| c.id == contact && c.archived_at.is_none())
        {
            return Err(OfficeError::Invalid(
                "the contact is not one of the customer's current contacts".into(),
            ));
        }
    }
    edit(state, clerk, id.into(), "job", move |record| {
        if let Record::Job(d) = record {
            let job = &mut d.record;
            job.title = title;
            job.requested_services = services;
            job.scheduled_start = scheduled_start;
            job.scheduled_end = scheduled_end;
            job.estimate = estimate;
            job.final_amount = final_amount;
            job.inventory = inventory;
            job.pickup_address = pickup_address;
            job.delivery_address = delivery_address;
            job.contact = contact;
            if job.status == JobStatus::Lead && scheduled_start.is_some() {
                job.status = JobStatus::Scheduled;
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// A scheduled window from a day and two times in the company's `zone`; none when the day is
/// empty.
fn schedule(
    day: &str,
    start: &str,
    end: &str,
    zone: Zone,
) -> OfficeResult<(Option<Timestamp>, Option<Timestamp>)> {
    if day.trim().is_empty() {
        return Ok((None, None));
    }
    let day = parse_day(Some(day), zone)?;
    let start = zone
        .at(day, parse_time("start", start)?)
        .map_err(OfficeError::Invalid)?;
    let end = zone
        .at(day, parse_time("end", end)?)
        .map_err(OfficeError::Invalid)?;
    if end <= start {
        return Err(OfficeError::Invalid(
            "the end must be after the start".into(),
        ));
    }
    Ok((Some(start), Some(end)))
}

/// Refuses ids that are not technicians.
async fn check_technicians(state: &AppState, users: &[UserId]) -> OfficeResult<()> {
    let known = technicians(state).await?;
    for user in users {
        if !known.iter().any(|p| p.id == *user) {
            return Err(OfficeError::Invalid(format!(
                "user {user} is not a technician"
            )));
        }
    }
    Ok(())
}

/// Assigns job `id` to exactly `technicians` (an empty list unassigns it). The tablets'
/// scopes follow live.
pub async fn assign(
    state: &AppState,
    clerk: &Clerk,
    id: JobId,
    technicians: &[UserId],
) -> OfficeResult<()> {
    clerk.check_office()?;
    check_technicians(state, technicians).await?;
    let at = now();
    let wanted = technicians.to_vec();
    let people: HashMap<UserId, String> = self::technicians(state)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let names = move |user: UserId| people.get(&user).cloned();
    edit_named(state, clerk, id.into(), "job", &names, move |record| {
        if let Record::Job(d) = record {
            d.record.technicians.retain(|user, _| wanted.contains(user));
            for user in wanted {
                d.record.technicians.entry(user).or_insert(at);
            }
            if d.record.status == JobStatus::Lead && d.record.scheduled_start.is_some() {
                d.record.status = JobStatus::Scheduled;
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Sets job `id`'s status.
pub async fn set_status(
    state: &AppState,
    clerk: &Clerk,
    id: JobId,
    status: &str,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let status: JobStatus = parse_field("status", status)?;
    edit(state, clerk, id.into(), "job", move |record| {
        if let Record::Job(d) = record {
            d.record.status.check_move(status)?;
            d.record.status = status;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// A note as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteInput {
    /// `site`, `service_request`, `service_performed`, `private` or `system`.
    pub kind: String,
    /// The text.
    pub text: String,
}

/// Adds a note to the account, site or job document `doc`, stamped with the clerk and now.
pub async fn add_note(
    state: &AppState,
    clerk: &Clerk,
    doc: DocId,
    input: &NoteInput,
) -> OfficeResult<NoteId> {
    clerk.check_office()?;
    let kind = parse_field::<NoteKind>("note type", &input.kind)?;
    if kind == NoteKind::System {
        return Err(OfficeError::Invalid(
            "system notes are written by the system, not typed".into(),
        ));
    }
    let note = Note {
        id: NoteId::new(),
        kind,
        text: required("note text", &input.text)?,
        author: clerk.user,
        author_name: clerk.name.clone(),
        created_at: now(),
    };
    let id = note.id;
    edit(state, clerk, doc, "record", move |record| {
        match record {
            Record::Account(d) => d.notes.insert(note.id, note),
            Record::Site(d) => d.notes.insert(note.id, note),
            Record::Job(d) => d.notes.insert(note.id, note),
            Record::Payment(_) => {
                return Err(fieldsync_protocol::ValidationError::Malformed(
                    "payments have no notes".into(),
                ));
            }
        };
        Ok(())
    })
    .await?;
    Ok(id)
}
