//! Projection tables: typed rows derived from each document, for lists, search and the ledger.
//! They are rewritten in the same transaction as the document, section by section: a section
//! (the account row, the contacts, the notes, ...) whose content did not change is left alone,
//! so a job's status change rewrites only the job's row.

use std::collections::{BTreeMap, BTreeSet};

use fieldsync_protocol::incremental::Touched;
use fieldsync_protocol::views::{search_text, site_search_text};
use fieldsync_protocol::{AccountId, Contact, DocId, DocKind, Invoice, Note, Photo, Record};
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
    /// The rows of the content before a change that touched only these parts (of a valid
    /// record, which stays valid and of the same kind and account).
    Touched(&'a Touched),
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
    Alerts,
    ContactLog,
    Files,
}

const ALL: [Section; 11] = [
    Section::Account,
    Section::Contacts,
    Section::Site,
    Section::Job,
    Section::Invoices,
    Section::Notes,
    Section::Photos,
    Section::Payment,
    Section::Alerts,
    Section::ContactLog,
    Section::Files,
];

fn sections(kind: DocKind) -> &'static [Section] {
    match kind {
        DocKind::Account => &[
            Section::Account,
            Section::Contacts,
            Section::Notes,
            Section::Alerts,
            Section::ContactLog,
            Section::Files,
        ],
        DocKind::Site => &[
            Section::Site,
            Section::Notes,
            Section::Photos,
            Section::Alerts,
            Section::Files,
        ],
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
    if let (Previous::Touched(touched), Some(record)) = (previous, record) {
        return write_touched(tx, doc, touched, record);
    }
    let unchanged = |section: Section| match previous {
        Previous::New => true,
        Previous::Content(before) => record.is_some_and(|after| same(before, after, section)),
        Previous::Kind(_) | Previous::Touched(_) => false,
    };
    let before: &[Section] = match previous {
        Previous::New => &[],
        Previous::Content(before) => sections(before.kind()),
        Previous::Kind(Some(kind)) => sections(kind),
        Previous::Kind(None) | Previous::Touched(_) => &ALL,
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

/// The items of `map` named in `ids` (those still there).
fn items<'a, K: Ord, V>(ids: &'a BTreeSet<K>, map: Option<&'a BTreeMap<K, V>>) -> Vec<&'a V> {
    ids.iter().filter_map(|id| map?.get(id)).collect()
}

/// Rewrites the rows of the parts a change touched: the main record's row, and one row per
/// touched contact, note, photo or invoice.
fn write_touched(
    tx: &Transaction<'_>,
    doc: DocId,
    touched: &Touched,
    record: &Record,
) -> Result<()> {
    let main = match record {
        // The account row's search text includes the contacts.
        Record::Account(_) if touched.record || !touched.contacts.is_empty() => {
            Some(Section::Account)
        }
        Record::Site(_) if touched.record => Some(Section::Site),
        Record::Job(_) if touched.record => Some(Section::Job),
        Record::Payment(_) if touched.record => Some(Section::Payment),
        _ => None,
    };
    if let Some(section) = main {
        clear(tx, doc, section)?;
        fill(tx, doc, record, section)?;
    }
    let account = record.account();
    let rows = |table: &str, ids: &mut dyn Iterator<Item = [u8; 16]>| -> Result<()> {
        let mut delete =
            tx.prepare_cached(&format!("DELETE FROM {table} WHERE doc = ?1 AND id = ?2"))?;
        for id in ids {
            delete.execute(params![doc.as_bytes(), id])?;
        }
        Ok(())
    };
    rows("notes", &mut touched.notes.iter().map(|id| *id.as_bytes()))?;
    rows(
        "photos",
        &mut touched.photos.iter().map(|id| *id.as_bytes()),
    )?;
    rows(
        "invoices",
        &mut touched.invoices.iter().map(|id| *id.as_bytes()),
    )?;
    rows(
        "contacts",
        &mut touched.contacts.iter().map(|id| *id.as_bytes()),
    )?;
    rows(
        "alerts",
        &mut touched.alerts.iter().map(|id| *id.as_bytes()),
    )?;
    rows(
        "contact_log",
        &mut touched.contact_log.iter().map(|id| *id.as_bytes()),
    )?;
    rows("files", &mut touched.files.iter().map(|id| *id.as_bytes()))?;
    for note in items(&touched.notes, record.notes()) {
        insert_note(tx, doc, account, note)?;
    }
    for photo in items(&touched.photos, record.photos()) {
        insert_photo(tx, doc, account, photo)?;
    }
    for invoice in items(&touched.invoices, record.invoices()) {
        insert_invoice(tx, doc, account, invoice)?;
    }
    for contact in items(&touched.contacts, record.contacts()) {
        insert_contact(tx, doc, account, contact)?;
    }
    for alert in items(&touched.alerts, record.alerts()) {
        insert_alert(tx, doc, account, alert)?;
    }
    for entry in items(&touched.contact_log, record.contact_log()) {
        insert_contact_entry(tx, doc, account, entry)?;
    }
    for file in items(&touched.files, record.files()) {
        insert_file(tx, doc, account, file)?;
    }
    Ok(())
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
        (Section::Notes, b, a) => b.notes().is_some() && b.notes() == a.notes(),
        (Section::Photos, b, a) => b.photos().is_some() && b.photos() == a.photos(),
        (Section::Alerts, b, a) => b.alerts().is_some() && b.alerts() == a.alerts(),
        (Section::ContactLog, b, a) => {
            b.contact_log().is_some() && b.contact_log() == a.contact_log()
        }
        (Section::Files, b, a) => b.files().is_some() && b.files() == a.files(),
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
        Section::Alerts => &["DELETE FROM alerts WHERE doc = ?1"],
        Section::ContactLog => &["DELETE FROM contact_log WHERE doc = ?1"],
        Section::Files => &["DELETE FROM files WHERE doc = ?1"],
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
            for c in d.contacts.values() {
                insert_contact(tx, doc, account, c)?;
            }
        }
        (Section::Site, Record::Site(d)) => {
            tx.prepare_cached(
                "INSERT INTO sites (id, account, name, search, json) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                doc.as_bytes(),
                account.as_bytes(),
                d.record.name,
                site_search_text(&d.record),
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
            for i in d.invoices.values() {
                insert_invoice(tx, doc, account, i)?;
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
            for n in record.notes().into_iter().flat_map(BTreeMap::values) {
                insert_note(tx, doc, account, n)?;
            }
        }
        (Section::Photos, record) => {
            for p in record.photos().into_iter().flat_map(BTreeMap::values) {
                insert_photo(tx, doc, account, p)?;
            }
        }
        (Section::Alerts, record) => {
            for a in record.alerts().into_iter().flat_map(BTreeMap::values) {
                insert_alert(tx, doc, account, a)?;
            }
        }
        (Section::ContactLog, record) => {
            for e in record.contact_log().into_iter().flat_map(BTreeMap::values) {
                insert_contact_entry(tx, doc, account, e)?;
            }
        }
        (Section::Files, record) => {
            for f in record.files().into_iter().flat_map(BTreeMap::values) {
                insert_file(tx, doc, account, f)?;
            }
        }
        // `sections` never pairs a section with another kind's record.
        _ => {}
    }
    Ok(())
}

fn insert_file(
    tx: &Transaction<'_>,
    doc: DocId,
    account: AccountId,
    f: &fieldsync_protocol::FileEntry,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO files (doc, id, account, hash, added_at, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        doc.as_bytes(),
        f.id.as_bytes(),
        account.as_bytes(),
        f.hash.to_string(),
        f.added_at.millis(),
        serde_json::to_string(f)?,
    ])?;
    Ok(())
}

fn insert_alert(
    tx: &Transaction<'_>,
    doc: DocId,
    account: AccountId,
    a: &fieldsync_protocol::Alert,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO alerts (doc, id, account, created_at, json) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        doc.as_bytes(),
        a.id.as_bytes(),
        account.as_bytes(),
        a.created_at.millis(),
        serde_json::to_string(a)?,
    ])?;
    Ok(())
}

fn insert_contact_entry(
    tx: &Transaction<'_>,
    doc: DocId,
    account: AccountId,
    e: &fieldsync_protocol::ContactEntry,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO contact_log (doc, id, account, at, user, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        doc.as_bytes(),
        e.id.as_bytes(),
        account.as_bytes(),
        e.at.millis(),
        e.user.as_bytes(),
        serde_json::to_string(e)?,
    ])?;
    Ok(())
}

fn insert_contact(tx: &Transaction<'_>, doc: DocId, account: AccountId, c: &Contact) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO contacts (doc, id, account, name, email, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        doc.as_bytes(),
        c.id.as_bytes(),
        account.as_bytes(),
        c.name,
        c.email,
        serde_json::to_string(c)?
    ])?;
    Ok(())
}

fn insert_invoice(tx: &Transaction<'_>, doc: DocId, account: AccountId, i: &Invoice) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO invoices (doc, id, account, number, date, voided, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        doc.as_bytes(),
        i.id.as_bytes(),
        account.as_bytes(),
        i.number,
        i.date.to_string(),
        i.is_void(),
        serde_json::to_string(i)?
    ])?;
    Ok(())
}

fn insert_note(tx: &Transaction<'_>, doc: DocId, account: AccountId, n: &Note) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO notes (doc, id, account, kind, created_at, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        doc.as_bytes(),
        n.id.as_bytes(),
        account.as_bytes(),
        n.kind.as_str(),
        n.created_at.millis(),
        serde_json::to_string(n)?
    ])?;
    Ok(())
}

fn insert_photo(tx: &Transaction<'_>, doc: DocId, account: AccountId, p: &Photo) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO photos (doc, id, account, taken_at, json) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        doc.as_bytes(),
        p.id.as_bytes(),
        account.as_bytes(),
        p.taken_at.millis(),
        serde_json::to_string(p)?
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{AccountId, JobStatus, NoteId, NoteKind, SiteId, UserId};

    use super::*;
    use crate::Store;
    use crate::fixtures::*;
    use fieldsync_protocol::Job;

    fn count(tx: &Transaction<'_>, table: &str) -> i64 {
        tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn rewrites_only_changed_sections_and_clears_what_is_gone() {
        let mut store = Store::open_in_memory().unwrap();
        let store_tx = store.transaction().unwrap();
        let tx = &store_tx.tx;
        let mut before = Record::new_job(Job {
            technicians: [UserId::new()].into_iter().map(|t| (t, now())).collect(),
            ..job(AccountId::new(), SiteId::new(), "Annual boiler service")
        });
        let doc = before.doc_id();
        let Record::Job(j) = &mut before else {
            unreachable!()
        };
        let inv = invoice(j.record.id, "INV-0-00001", &[("Service", "1", "50.00")]);
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
        let other = Record::new_payment(payment(after.account(), "5.00", &person("Ann")));
        write(tx, doc, Previous::Content(&after), Some(&other)).unwrap();
        assert_eq!(counts(tx), [0, 0, 0, 0]);
        assert_eq!(count(tx, "payments"), 1);
        write(tx, doc, Previous::Kind(None), None).unwrap();
        assert_eq!(count(tx, "payments"), 0);
    }
}
