//! Reads of the projection tables: account lists, an account's jobs, payments, invoices and
//! ledger, a document's notes and photos, and technicians' assignments.

use std::collections::BTreeSet;

use fieldsync_protocol::{
    AccountId, AccountStatus, AccountType, Contact, DocId, Invoice, InvoiceId, Job, JobId, JobSite,
    Ledger, Note, Payment, Photo, UserId,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::{Result, codec};

/// An account as listed and found by search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    /// The account (and its document).
    pub id: AccountId,
    /// Its name.
    pub name: String,
    /// Prospect or customer.
    pub account_type: AccountType,
    /// Active or inactive.
    pub status: AccountStatus,
    /// Whether the account is on credit hold.
    pub credit_hold: bool,
}

/// Columns of `accounts` that make an [`AccountSummary`], for queries aliasing it `a`.
pub(crate) const SUMMARY_COLUMNS: &str = "a.id, a.name, a.account_type, a.status, a.credit_hold";

pub(crate) fn summary(row: &Row<'_>) -> rusqlite::Result<AccountSummary> {
    Ok(AccountSummary {
        id: codec::id(row, 0, AccountId::from_slice)?,
        name: row.get(1)?,
        account_type: codec::parsed(row, 2)?,
        status: codec::parsed(row, 3)?,
        credit_hold: row.get(4)?,
    })
}

/// The condition that leaves out accounts merged into another, for queries aliasing it `a`.
pub(crate) const NOT_MERGED: &str = "json_extract(a.json, '$.merged_into') IS NULL";

/// The accounts not merged into another, by name: every one, or the first `limit` (read
/// through the name index, however many there are).
pub(crate) fn accounts(conn: &Connection, limit: Option<usize>) -> Result<Vec<AccountSummary>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM accounts a WHERE {NOT_MERGED}
         ORDER BY a.name COLLATE NOCASE LIMIT ?1"
    );
    let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_map([limit], summary)?
        .collect::<rusqlite::Result<_>>()?)
}

/// One account's summary.
pub(crate) fn account(conn: &Connection, id: AccountId) -> Result<Option<AccountSummary>> {
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM accounts a WHERE a.id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.query_row([id.as_bytes()], summary).optional()?)
}

/// The account (not merged into another) with this name, compared without regard to case.
pub(crate) fn account_named(conn: &Connection, name: &str) -> Result<Option<AccountSummary>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM accounts a
         WHERE a.name = ?1 COLLATE NOCASE AND {NOT_MERGED} LIMIT 1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.query_row([name.trim()], summary).optional()?)
}

/// The accounts merged into `target`, by name.
pub(crate) fn merged_into(conn: &Connection, target: AccountId) -> Result<Vec<AccountSummary>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM accounts a
         WHERE json_extract(a.json, '$.merged_into') = ?1 ORDER BY a.name COLLATE NOCASE"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([target.to_string()], summary)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Jobs scheduled to start in `[from, to)` (milliseconds since the epoch), by start.
pub(crate) fn jobs_scheduled_between(conn: &Connection, from: i64, to: i64) -> Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(
        "SELECT json FROM jobs WHERE scheduled_start >= ?1 AND scheduled_start < ?2
         ORDER BY scheduled_start, created_at, id",
    )?;
    let rows = stmt.query_map([from, to], |row| codec::json(row, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A job as lists show it: with its customer's and site's names (`None` when the customer was
/// deleted or the site is unknown) and whether the customer is on credit hold.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedJob {
    /// The job.
    pub job: Job,
    /// Its customer's name.
    pub account_name: Option<String>,
    /// Whether its customer is on credit hold.
    pub credit_hold: bool,
    /// Its site's name.
    pub site_name: Option<String>,
}

/// [`jobs_scheduled_between`] with the names lists show, in one query (the dispatch board of a
/// busy day lists thousands).
pub(crate) fn jobs_listed_between(conn: &Connection, from: i64, to: i64) -> Result<Vec<ListedJob>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{LISTED_JOBS} WHERE j.scheduled_start >= ?1 AND j.scheduled_start < ?2
         ORDER BY j.scheduled_start, j.created_at, j.id"
    ))?;
    let rows = stmt.query_map([from, to], listed_job)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// [`jobs_listed_between`] for the jobs of `accounts` alone (what a live board redraws when
/// those customers' records changed), by start.
pub(crate) fn jobs_listed_between_for(
    conn: &Connection,
    from: i64,
    to: i64,
    accounts: &[AccountId],
) -> Result<Vec<ListedJob>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{LISTED_JOBS} WHERE j.account = ?3 AND j.scheduled_start >= ?1 AND j.scheduled_start < ?2"
    ))?;
    let mut listed = Vec::new();
    for account in accounts {
        let rows = stmt.query_map(params![from, to, account.as_bytes()], listed_job)?;
        for row in rows {
            listed.push(row?);
        }
    }
    listed.sort_by(|a, b| {
        let key = |l: &ListedJob| (l.job.scheduled_start, l.job.created_at, l.job.id);
        key(a).cmp(&key(b))
    });
    Ok(listed)
}

/// The columns of a listed job, read by [`listed_job`].
const LISTED_JOBS: &str = "SELECT j.json, a.name, coalesce(a.credit_hold, 0), s.name FROM jobs j
     LEFT JOIN accounts a ON a.id = j.account
     LEFT JOIN sites s ON s.id = j.site";

fn listed_job(row: &rusqlite::Row<'_>) -> rusqlite::Result<ListedJob> {
    Ok(ListedJob {
        job: codec::json(row, 0)?,
        account_name: row.get(1)?,
        credit_hold: row.get(2)?,
        site_name: row.get(3)?,
    })
}

/// The accounts whose photos (full image or thumbnail), invoice signatures or files have
/// content hash `hash`: who may download those bytes. A scan of the photo and invoice
/// projections, compared as the JSON they store, and the files' index.
pub(crate) fn photo_accounts(
    conn: &Connection,
    hash: &fieldsync_protocol::ContentHash,
) -> Result<BTreeSet<AccountId>> {
    let json = serde_json::to_string(hash)?;
    let mut stmt = conn.prepare_cached(
        "SELECT account FROM photos
         WHERE json_extract(json, '$.full_hash') = ?1 OR json_extract(json, '$.thumb_hash') = ?1
         UNION
         SELECT account FROM invoices WHERE json_extract(json, '$.signature.image') = ?1",
    )?;
    let rows = stmt.query_map([json], |row| codec::id(row, 0, AccountId::from_slice))?;
    let mut accounts: BTreeSet<AccountId> = rows.collect::<rusqlite::Result<_>>()?;
    let mut files = conn.prepare_cached("SELECT account FROM files WHERE hash = ?1")?;
    let rows = files.query_map([hash.to_string()], |row| {
        codec::id(row, 0, AccountId::from_slice)
    })?;
    for account in rows {
        accounts.insert(account?);
    }
    Ok(accounts)
}

/// The files kept on a document (an account or a site), newest first.
pub(crate) fn files(conn: &Connection, doc: DocId) -> Result<Vec<fieldsync_protocol::FileEntry>> {
    records(
        conn,
        "SELECT json FROM files WHERE doc = ?1 ORDER BY added_at DESC, id",
        doc.as_bytes(),
    )
}

/// Records of one kind, read back from their JSON column.
fn records<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    key: impl rusqlite::ToSql,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([key], |row| codec::json(row, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// An account's jobs, by scheduled start (unscheduled last), then creation.
pub(crate) fn jobs_for_account(conn: &Connection, account: AccountId) -> Result<Vec<Job>> {
    records(
        conn,
        "SELECT json FROM jobs WHERE account = ?1
         ORDER BY scheduled_start IS NULL, scheduled_start, created_at, id",
        account.as_bytes(),
    )
}

/// Jobs a technician is assigned to, by scheduled start (unscheduled last).
pub(crate) fn jobs_for_technician(conn: &Connection, user: UserId) -> Result<Vec<Job>> {
    records(
        conn,
        "SELECT j.json FROM job_technicians t JOIN jobs j ON j.id = t.job WHERE t.user = ?1
         ORDER BY j.scheduled_start IS NULL, j.scheduled_start, j.created_at, j.id",
        user.as_bytes(),
    )
}

/// The accounts of the jobs a technician is assigned to: the technician's scope.
pub(crate) fn technician_accounts(conn: &Connection, user: UserId) -> Result<BTreeSet<AccountId>> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT account FROM job_technicians WHERE user = ?1")?;
    let rows = stmt.query_map([user.as_bytes()], |row| {
        codec::id(row, 0, AccountId::from_slice)
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// An account's job sites, by name.
pub(crate) fn sites_for_account(conn: &Connection, account: AccountId) -> Result<Vec<JobSite>> {
    records(
        conn,
        "SELECT json FROM sites WHERE account = ?1 ORDER BY name, id",
        account.as_bytes(),
    )
}

/// The alerts on an account or a site document, oldest first.
pub(crate) fn alerts(conn: &Connection, doc: DocId) -> Result<Vec<fieldsync_protocol::Alert>> {
    records(
        conn,
        "SELECT json FROM alerts WHERE doc = ?1 ORDER BY created_at, id",
        doc.as_bytes(),
    )
}

/// A customer's contact log entries, newest first (at most `limit`).
pub(crate) fn contact_log(
    conn: &Connection,
    account: AccountId,
    limit: usize,
) -> Result<Vec<fieldsync_protocol::ContactEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT json FROM contact_log WHERE account = ?1 ORDER BY at DESC, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        rusqlite::params![account.as_bytes(), i64::try_from(limit).unwrap_or(i64::MAX)],
        |row| codec::json(row, 0),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One line of the contact report: the entry and its customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactReportLine {
    /// The customer.
    pub account: AccountId,
    /// The customer's name.
    pub account_name: String,
    /// The entry.
    pub entry: fieldsync_protocol::ContactEntry,
}

/// Contact log entries made in `[from, to)`, oldest first, of one customer and one user when
/// given: at most `limit` from the `offset`-th, and how many there are in all.
pub(crate) fn contact_report(
    conn: &Connection,
    from: fieldsync_protocol::Timestamp,
    to: fieldsync_protocol::Timestamp,
    account: Option<AccountId>,
    user: Option<fieldsync_protocol::UserId>,
    (offset, limit): (usize, usize),
) -> Result<(Vec<ContactReportLine>, usize)> {
    const WHERE: &str = "WHERE c.at >= ?1 AND c.at < ?2
           AND (?3 IS NULL OR c.account = ?3) AND (?4 IS NULL OR c.user = ?4)";
    let bounds = rusqlite::params![
        from.millis(),
        to.millis(),
        account.map(|a| *a.as_bytes()),
        user.map(|u| *u.as_bytes()),
    ];
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM contact_log c {WHERE}"))?
        .query_row(bounds, |row| row.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT c.account, a.name, c.json FROM contact_log c
         LEFT JOIN accounts a ON a.id = c.account
         {WHERE}
         ORDER BY c.at, c.id LIMIT ?5 OFFSET ?6"
    ))?;
    let big = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let (limit, offset) = (big(limit), big(offset));
    // The same bounds as the count, then the page.
    let paged: Vec<&dyn rusqlite::ToSql> = bounds
        .iter()
        .copied()
        .chain([&limit as &dyn rusqlite::ToSql, &offset])
        .collect();
    let rows = stmt.query_map(&paged[..], |row| {
        Ok(ContactReportLine {
            account: codec::id(row, 0, AccountId::from_slice)?,
            account_name: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
            entry: codec::json(row, 2)?,
        })
    })?;
    let lines: Vec<ContactReportLine> = rows.collect::<rusqlite::Result<_>>()?;
    Ok((lines, usize::try_from(total).unwrap_or(0)))
}

/// An account's contacts, by name.
pub(crate) fn contacts_for_account(conn: &Connection, account: AccountId) -> Result<Vec<Contact>> {
    records(
        conn,
        "SELECT json FROM contacts WHERE account = ?1 ORDER BY name, id",
        account.as_bytes(),
    )
}

/// An account's payments, by time received.
pub(crate) fn payments_for_account(conn: &Connection, account: AccountId) -> Result<Vec<Payment>> {
    records(
        conn,
        "SELECT json FROM payments WHERE account = ?1 ORDER BY received_at, id",
        account.as_bytes(),
    )
}

/// An account's invoices (void ones included), by date and number.
pub(crate) fn invoices_for_account(conn: &Connection, account: AccountId) -> Result<Vec<Invoice>> {
    records(
        conn,
        "SELECT json FROM invoices WHERE account = ?1 ORDER BY date, number, id",
        account.as_bytes(),
    )
}

/// Invoices whose number is `number` (one, unless two devices were given the same number).
pub(crate) fn invoices_numbered(conn: &Connection, number: &str) -> Result<Vec<Invoice>> {
    records(
        conn,
        "SELECT json FROM invoices WHERE number = ?1 ORDER BY date, id",
        number,
    )
}

/// The highest counter among the invoice numbers of device `device` (`INV-<device>-<n>`), 0
/// when it has none: read through the number index, however many invoices there are.
pub(crate) fn highest_invoice_seq(conn: &Connection, device: u32) -> Result<u32> {
    let prefix = format!("INV-{device}-");
    // Every number starting with the prefix sorts between it and the prefix with its last
    // character ('-') bumped to the next one ('.').
    let end = format!("INV-{device}.");
    let mut stmt =
        conn.prepare_cached("SELECT number FROM invoices WHERE number >= ?1 AND number < ?2")?;
    let mut rows = stmt.query([&prefix, &end])?;
    let mut highest = 0;
    while let Some(row) = rows.next()? {
        let number: String = row.get(0)?;
        if let Ok(n) = number.parse::<fieldsync_protocol::InvoiceNumber>()
            && n.device == device
        {
            highest = highest.max(n.seq);
        }
    }
    Ok(highest)
}

/// The invoice with id `id` (in one job; a list, as [`invoices_numbered`] returns).
pub(crate) fn invoice_with_id(conn: &Connection, id: InvoiceId) -> Result<Vec<Invoice>> {
    records(
        conn,
        "SELECT json FROM invoices WHERE id = ?1",
        id.as_bytes(),
    )
}

/// A document's notes, oldest first.
pub(crate) fn notes_for_doc(conn: &Connection, doc: DocId) -> Result<Vec<Note>> {
    records(
        conn,
        "SELECT json FROM notes WHERE doc = ?1 ORDER BY created_at, id",
        doc.as_bytes(),
    )
}

/// A page of a document's notes, newest first: at most `limit`, after skipping `skip`; and
/// how many notes the document has.
pub(crate) fn notes_page(
    conn: &Connection,
    doc: DocId,
    skip: usize,
    limit: usize,
) -> Result<(Vec<Note>, usize)> {
    page(
        conn,
        "SELECT json FROM notes WHERE doc = ?1
         ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
        "SELECT count(*) FROM notes WHERE doc = ?1",
        doc,
        (skip, limit),
    )
}

/// A page of a document's photos, newest first: at most `limit`, after skipping `skip`; and
/// how many photos the document has.
pub(crate) fn photos_page(
    conn: &Connection,
    doc: DocId,
    skip: usize,
    limit: usize,
) -> Result<(Vec<Photo>, usize)> {
    page(
        conn,
        "SELECT json FROM photos WHERE doc = ?1
         ORDER BY taken_at DESC, id DESC LIMIT ?2 OFFSET ?3",
        "SELECT count(*) FROM photos WHERE doc = ?1",
        doc,
        (skip, limit),
    )
}

fn page<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    count: &str,
    doc: DocId,
    (skip, limit): (usize, usize),
) -> Result<(Vec<T>, usize)> {
    let as_sql = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        rusqlite::params![doc.as_bytes(), as_sql(limit), as_sql(skip)],
        |row| codec::json(row, 0),
    )?;
    let items = rows.collect::<rusqlite::Result<_>>()?;
    let total: i64 = conn
        .prepare_cached(count)?
        .query_row([doc.as_bytes()], |row| row.get(0))?;
    Ok((items, usize::try_from(total).unwrap_or(0)))
}

/// A job's record, from its row.
pub(crate) fn job(conn: &Connection, id: JobId) -> Result<Option<Job>> {
    Ok(records(conn, "SELECT json FROM jobs WHERE id = ?1", id.as_bytes())?.pop())
}

/// A document's photos, by time taken.
pub(crate) fn photos_for_doc(conn: &Connection, doc: DocId) -> Result<Vec<Photo>> {
    records(
        conn,
        "SELECT json FROM photos WHERE doc = ?1 ORDER BY taken_at, id",
        doc.as_bytes(),
    )
}

/// An account's ledger, from its invoices and payments.
/// The accounts with an invoice that is not void, by name: those an aging report looks at.
pub(crate) fn billed_accounts(conn: &Connection) -> Result<Vec<fieldsync_protocol::Account>> {
    let mut stmt = conn.prepare_cached(
        "SELECT json FROM accounts
         WHERE id IN (SELECT account FROM invoices WHERE voided = 0)
         ORDER BY name COLLATE NOCASE, id",
    )?;
    let rows = stmt.query_map([], |row| codec::json(row, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn ledger(conn: &Connection, account: AccountId) -> Result<Ledger> {
    let invoices = invoices_for_account(conn, account)?;
    let payments = payments_for_account(conn, account)?;
    Ok(Ledger::compute(&invoices, &payments))
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::views::InvoiceStatus;
    use fieldsync_protocol::{Money, Record, Role, UserId};

    use crate::Store;
    use crate::fixtures::*;
    use fieldsync_protocol::Job;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    /// An account "Acme" with one site, created by `office`.
    fn acme_with_site(
        store: &mut Store,
        office: &fieldsync_protocol::Writer,
    ) -> (fieldsync_protocol::AccountId, fieldsync_protocol::SiteId) {
        let acme = Record::new_account(account("Acme"));
        let id = acme.account();
        create(store, office, &acme);
        let site_record = Record::new_site(site(id, "Main St store"));
        let Record::Site(s) = &site_record else {
            unreachable!()
        };
        let site_id = s.record.id;
        create(store, office, &site_record);
        (id, site_id)
    }

    #[test]
    fn ledger_and_lists_come_from_the_projections() {
        let office = writer(Role::Office, "Dana");
        let mut store = Store::open_in_memory().unwrap();
        let (id, site_id) = acme_with_site(&mut store, &office);
        let tech = UserId::new();
        let job_record = Record::new_job(Job {
            technicians: [tech].into_iter().map(|t| (t, now())).collect(),
            ..job(id, site_id, "Annual boiler service")
        });
        let Record::Job(j) = &job_record else {
            unreachable!()
        };
        let job_id = j.record.id;
        let (doc, mut document) = create(&mut store, &office, &job_record);

        let (paid, void) = (
            invoice(job_id, "INV-0-00001", &[("Service", "1", "100.00")]),
            invoice(job_id, "INV-0-00001", &[("Service", "1", "999.00")]),
        );
        let change = edit(&mut document, &office, |r| {
            let Record::Job(j) = r else { unreachable!() };
            j.invoices.insert(paid.id, paid.clone());
            let mut void = void.clone();
            void.voided = Some(fieldsync_protocol::Voided {
                at: crate::fixtures::now(),
                by: UserId::new(),
                reason: "duplicate".into(),
            });
            j.invoices.insert(void.id, void);
        });
        let tx = store.transaction().unwrap();
        tx.record_local(doc, &mut document, &change, false).unwrap();
        tx.commit().unwrap();
        let mut first = Record::new_payment(payment(id, "60.00", &person("Ann")));
        if let Record::Payment(p) = &mut first {
            p.record.invoice = Some(paid.id);
        }
        create(&mut store, &office, &first);
        create(
            &mut store,
            &office,
            &Record::new_payment(payment(id, "15.50", &person("Ann"))),
        );

        let ledger = store.ledger(id).unwrap();
        assert_eq!(ledger.balance, money("24.50"));
        assert_eq!(ledger.unapplied_credit, money("15.50"));
        assert_eq!(ledger.invoices[&paid.id].status, InvoiceStatus::PartlyPaid);
        assert_eq!(ledger.invoices[&void.id].status, InvoiceStatus::Void);

        assert_eq!(store.invoices_for_account(id).unwrap().len(), 2);
        assert_eq!(store.payments_for_account(id).unwrap().len(), 2);
        assert_eq!(store.jobs_for_account(id).unwrap()[0].id, job_id);
        assert_eq!(store.jobs_for_technician(tech).unwrap()[0].id, job_id);
        assert_eq!(
            store
                .technician_accounts(tech)
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            [id]
        );
        assert_eq!(store.sites_for_account(id).unwrap()[0].id, site_id);
        assert_eq!(store.account(id).unwrap().unwrap().name, "Acme");
        assert!(
            store
                .ledger(fieldsync_protocol::AccountId::new())
                .unwrap()
                .invoices
                .is_empty()
        );
    }

    #[test]
    fn merged_and_deleted_accounts_leave_lists_and_search_names_are_unique_per_list() {
        let office = writer(Role::Office, "Dana");
        let mut store = Store::open_in_memory().unwrap();
        let (acme, beta, gone) = (
            Record::new_account(account("Acme")),
            Record::new_account(account("Beta")),
            Record::new_account(account("Gone")),
        );
        let (acme_id, beta_id, gone_id) = (acme.account(), beta.account(), gone.account());
        create(&mut store, &office, &acme);
        let (beta_doc, mut beta_document) = create(&mut store, &office, &beta);
        let (gone_doc, mut gone_document) = create(&mut store, &office, &gone);

        assert_eq!(store.account_named("  acme ").unwrap().unwrap().id, acme_id);
        let merge = edit(&mut beta_document, &office, |r| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            a.record.merged_into = Some(acme_id);
        });
        let delete = edit(&mut gone_document, &office, |r| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            a.record.deleted_at = Some(crate::fixtures::now());
        });
        let tx = store.transaction().unwrap();
        tx.record_local(beta_doc, &mut beta_document, &merge, false)
            .unwrap();
        tx.record_local(gone_doc, &mut gone_document, &delete, false)
            .unwrap();
        tx.commit().unwrap();

        let names: Vec<String> = store
            .accounts()
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["Acme"]);
        assert!(store.search_accounts("Beta", 10).unwrap().is_empty());
        assert!(
            store.account_named("beta").unwrap().is_none(),
            "a merged name is free again"
        );
        assert!(store.account(gone_id).unwrap().is_none(), "deleted");
        let merged: Vec<_> = store
            .merged_into(acme_id)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(merged, [beta_id]);
        assert!(store.merged_into(beta_id).unwrap().is_empty());
    }

    #[test]
    fn jobs_are_listed_by_the_day_they_are_scheduled() {
        let office = writer(Role::Office, "Dana");
        let mut store = Store::open_in_memory().unwrap();
        let (id, site_id) = acme_with_site(&mut store, &office);
        let at = |hours: i64| {
            let mut record = Record::new_job(job(id, site_id, "Annual boiler service"));
            if let Record::Job(j) = &mut record {
                j.record.scheduled_start = Some(crate::fixtures::minutes(hours * 60));
                j.record.scheduled_end = Some(crate::fixtures::minutes(hours * 60 + 90));
            }
            record
        };
        for hours in [0, 1, 30] {
            create(&mut store, &office, &at(hours));
        }
        let from = crate::fixtures::now();
        let to = fieldsync_protocol::Timestamp(from.0 + chrono::Duration::hours(24));
        let found = store.jobs_scheduled_between(from, to).unwrap();
        assert_eq!(found.len(), 2);
        assert!(found[0].scheduled_start < found[1].scheduled_start);
    }
}
