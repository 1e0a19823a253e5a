//! Projection tables: typed rows derived from each document, for lists, search and the ledger.
//! They are rewritten in the same transaction as the document, section by section: a section
//! (the account row, the contacts, the notes, ...) whose content did not change is left alone,
//! so a job's status change rewrites only the job's row.

use std::collections::BTreeMap;

use fieldsync_protocol::views::search_text;
use fieldsync_protocol::{DocId, DocKind, Note, NoteId, Photo, PhotoId, Record};
use rusqlite::{Transaction, params};

use crate::Result;

/// What the projection tables hold for a document before a write.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Previous<'a> {
    /// Nothing: the document is new.
    New,
    /// The rows of this content.
    Content(&'a Record),
    /// Rows of a document of this kind, if any (`None`: of any kind).
    Kind(Option<DocKind>),
}

/// A group of projection rows that is rewritten as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Account,
    Contacts,
    Site,
    Job,
    Invoices,
    Notes,
    Photos,
    Payment,
}

const ALL: [Section; 8] = [
    Section::Account,
    Section::Contacts,
    Section::Site,
    Section::Job,
    Section::Invoices,
    Section::Notes,
    Section::Photos,
    Section::Payment,
];

fn sections(kind: DocKind) -> &'static [Section] {
    match kind {
        DocKind::Account => &[Section::Account, Section::Contacts, Section::Notes],
        DocKind::Site => &[Section::Site, Section::Notes, Section::Photos],
        DocKind::Job => &[
            Section::Job,
            Section::Invoices,
            Section::Notes,
            Section::Photos,
        ],
        DocKind::Payment => &[Section::Payment],
    }
}

/// Deletes every projection row of a document.
pub(crate) fn delete(tx: &Transaction<'_>, doc: DocId) -> Result<()> {
    ALL.iter().try_for_each(|&section| clear(tx, doc, section))
}

/// Brings a document's projection rows from `previous` to `record` (`None`: content that is not
/// a valid record, which has no rows).
pub(crate) fn write(
    tx: &Transaction<'_>,
    doc: DocId,
    previous: Previous<'_>,
    record: Option<&Record>,
) -> Result<()> {
    let unchanged = |section: Section| match previous {
        Previous::New => true,
        Previous::Content(before) => record.is_some_and(|after| same(before, after, section)),
        Previous::Kind(_) => false,
    };
    let before: &[Section] = match previous {
        Previous::New => &[],
        Previous::Content(before) => sections(before.kind()),
        Previous::Kind(Some(kind)) => sections(kind),
        Previous::Kind(None) => &ALL,
    };
    for &section in before {
        if !unchanged(section) {
            clear(tx, doc, section)?;
        }
    }
    let Some(record) = record else {
        return Ok(());
    };
    for &section in sections(record.kind()) {
        if !before.contains(&section) || !unchanged(section) {
            fill(tx, doc, record, section)?;
        }
    }
    Ok(())
}

fn notes(record: &Record) -> Option<&BTreeMap<NoteId, Note>> {
    match record {
        Record::Account(d) => Some(&d.notes),
        Record::Site(d) => Some(&d.notes),
        Record::Job(d) => Some(&d.notes),
        Record::Payment(_) => None,
    }
}

fn photos(record: &Record) -> Option<&BTreeMap<PhotoId, Photo>> {
    match record {
        Record::Site(d) => Some(&d.photos),
        Record::Job(d) => Some(&d.photos),
        _ => None,
    }
}

/// Whether a section's rows are the same for both contents.
fn same(before: &Record, after: &Record, section: Section) -> bool {
    use Record as R;
    if before.kind() != after.kind() || before.account() != after.account() {
        return false; // every row names the account
    }
    match (section, before, after) {
        // The account row carries the search text, which includes the contacts.
        (Section::Account, R::Account(b), R::Account(a)) => {
            b.record == a.record && b.contacts == a.contacts
        }
        (Section::Contacts, R::Account(b), R::Account(a)) => b.contacts == a.contacts,
        (Section::Site, R::Site(b), R::Site(a)) => b.record == a.record,
        (Section::Job, R::Job(b), R::Job(a)) => b.record == a.record,
        (Section::Invoices, R::Job(b), R::Job(a)) => b.invoices == a.invoices,
        (Section::Payment, R::Payment(b), R::Payment(a)) => b.record == a.record,
        (Section::Notes, b, a) => notes(b).is_some() && notes(b) == notes(a),
        (Section::Photos, b, a) => photos(b).is_some() && photos(b) == photos(a),
        _ => false,
    }
}

fn clear(tx: &Transaction<'_>, doc: DocId, section: Section) -> Result<()> {
    let statements: &[&str] = match section {
        Section::Account => &["DELETE FROM accounts WHERE id = ?1"],
        Section::Contacts => &["DELETE FROM contacts WHERE doc = ?1"],
        Section::Site => &["DELETE FROM sites WHERE id = ?1"],
        Section::Job => &[
            "DELETE FROM jobs WHERE id = ?1",
            "DELETE FROM job_technicians WHERE job = ?1",
        ],
        Section::Invoices => &["DELETE FROM invoices WHERE doc = ?1"],
        Section::Notes => &["DELETE FROM notes WHERE doc = ?1"],
        Section::Photos => &["DELETE FROM photos WHERE doc = ?1"],
        Section::Payment => &["DELETE FROM payments WHERE id = ?1"],
    };
    for sql in statements {
        tx.prepare_cached(sql)?.execute([doc.as_bytes()])?;
    }
    Ok(())
}

fn fill(tx: &Transaction<'_>, doc: DocId, record: &Record, section: Section) -> Result<()> {
    let account = record.account();
    match (section, record) {
        // A deleted account keeps its document (and history) but leaves lists and search.
        (Section::Account, Record::Account(d)) if d.record.deleted_at.is_some() => {}
        (Section::Account, Record::Account(d)) => {
            let a = &d.record;
            tx.prepare_cached(
                "INSERT INTO accounts (id, name, account_type, status, credit_hold, search, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                doc.as_bytes(),
                a.name,
                a.account_type.as_str(),
                a.status.as_str(),
                a.credit_hold,
                search_text(d),
                serde_json::to_string(a)?,
            ])?;
        }
        (Section::Contacts, Record::Account(d)) => {
            let mut insert = tx.prepare_cached(
                "INSERT INTO contacts (doc, id, account, name, email, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for c in d.contacts.values() {
                let json = serde_json::to_string(c)?;
                let id = c.id.as_bytes();
                insert.execute(params![
                    doc.as_bytes(),
                    id,
                    account.as_bytes(),
                    c.name,
                    c.email,
                    json
                ])?;
            }
        }
        (Section::Site, Record::Site(d)) => {
            tx.prepare_cached(
                "INSERT INTO sites (id, account, name, json) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                doc.as_bytes(),
                account.as_bytes(),
                d.record.name,
                serde_json::to_string(&d.record)?,
            ])?;
        }
        (Section::Job, Record::Job(d)) => {
            let job = &d.record;
            tx.prepare_cached(
                "INSERT INTO jobs (id, account, site, title, status, scheduled_start, created_at, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                doc.as_bytes(),
                account.as_bytes(),
                job.site.as_bytes(),
                job.title,
                job.status.as_str(),
                job.scheduled_start.map(|t| t.millis()),
                job.created_at.millis(),
                serde_json::to_string(job)?,
            ])?;
            let mut assign = tx.prepare_cached(
                "INSERT INTO job_technicians (job, user, account) VALUES (?1, ?2, ?3)",
            )?;
            for user in job.technicians.keys() {
                assign.execute(params![doc.as_bytes(), user.as_bytes(), account.as_bytes()])?;
            }
        }
        (Section::Invoices, Record::Job(d)) => {
            let mut insert = tx.prepare_cached(
                "INSERT INTO invoices (doc, id, account, number, date, voided, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for i in d.invoices.values() {
                let json = serde_json::to_string(i)?;
                let (id, date) = (i.id.as_bytes(), i.date.to_string());
                let row = params![
                    doc.as_bytes(),
                    id,
                    account.as_bytes(),
                    i.number,
                    date,
                    i.is_void(),
                    json
                ];
                insert.execute(row)?;
            }
        }
        (Section::Payment, Record::Payment(d)) => {
            let p = &d.record;
            tx.prepare_cached(
                "INSERT INTO payments (id, account, job, invoice, amount, received_at, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                doc.as_bytes(),
                account.as_bytes(),
                p.job.map(|j| *j.as_bytes()),
                p.invoice.map(|i| *i.as_bytes()),
                p.amount.to_string(),
                p.received_at.millis(),
                serde_json::to_string(p)?,
            ])?;
        }
        (Section::Notes, record) => {
            let mut insert = tx.prepare_cached(
                "INSERT INTO notes (doc, id, account, kind, created_at, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for n in notes(record).into_iter().flat_map(BTreeMap::values) {
                let json = serde_json::to_string(n)?;
                let (id, kind, at) = (n.id.as_bytes(), n.kind.as_str(), n.created_at.millis());
                insert.execute(params![
                    doc.as_bytes(),
                    id,
                    account.as_bytes(),
                    kind,
                    at,
                    json
                ])?;
            }
        }
        (Section::Photos, record) => {
            let mut insert = tx.prepare_cached(
                "INSERT INTO photos (doc, id, account, taken_at, json) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for p in photos(record).into_iter().flat_map(BTreeMap::values) {
                let json = serde_json::to_string(p)?;
                let (id, at) = (p.id.as_bytes(), p.taken_at.millis());
                insert.execute(params![doc.as_bytes(), id, account.as_bytes(), at, json])?;
            }
        }
        // `sections` never pairs a section with another kind's record.
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{AccountId, JobStatus, NoteKind, SiteId, UserId};

    use super::*;
    use crate::Store;
    use crate::testing::{invoice, job, now, payment};

    fn count(tx: &Transaction<'_>, table: &str) -> i64 {
        tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn rewrites_only_changed_sections_and_clears_what_is_gone() {
        let mut store = Store::open_in_memory().unwrap();
        let store_tx = store.transaction().unwrap();
        let tx = &store_tx.tx;
        let mut before = job(AccountId::new(), SiteId::new(), &[UserId::new()]);
        let doc = before.doc_id();
        let Record::Job(j) = &mut before else {
            unreachable!()
        };
        let inv = invoice(j.record.id, "50.00");
        j.invoices.insert(inv.id, inv);
        let note = Note {
            id: NoteId::new(),
            kind: NoteKind::ServicePerformed,
            text: "Replaced valve".into(),
            author: UserId::new(),
            author_name: "Ann".into(),
            created_at: now(),
        };
        j.notes.insert(note.id, note);
        write(tx, doc, Previous::New, Some(&before)).unwrap();
        let counts = |tx: &Transaction<'_>| {
            ["jobs", "job_technicians", "invoices", "notes"].map(|t| count(tx, t))
        };
        assert_eq!(counts(tx), [1, 1, 1, 1]);

        let mut after = before.clone();
        let Record::Job(j) = &mut after else {
            unreachable!()
        };
        j.record.status = JobStatus::OnSite;
        j.record.technicians.clear();
        write(tx, doc, Previous::Content(&before), Some(&after)).unwrap();
        assert_eq!(counts(tx), [1, 0, 1, 1]);
        let status: String = tx
            .query_row("SELECT status FROM jobs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(status, "on_site");

        // Content that stopped being a record, or became another kind, leaves no job rows.
        write(tx, doc, Previous::Content(&after), None).unwrap();
        assert_eq!(counts(tx), [0, 0, 0, 0]);
        write(tx, doc, Previous::Kind(Some(DocKind::Job)), Some(&after)).unwrap();
        assert_eq!(counts(tx), [1, 0, 1, 1]);
        let other = payment(after.account(), "5.00");
        write(tx, doc, Previous::Content(&after), Some(&other)).unwrap();
        assert_eq!(counts(tx), [0, 0, 0, 0]);
        assert_eq!(count(tx, "payments"), 1);
        write(tx, doc, Previous::Kind(None), None).unwrap();
        assert_eq!(count(tx, "payments"), 0);
    }
}
