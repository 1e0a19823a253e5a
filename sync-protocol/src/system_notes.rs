//! System notes: what the system writes down by itself, in the record's own history, when a
//! job's status changes, technicians are assigned or unassigned, an invoice is issued or
//! voided, or an account is merged.
//!
//! They are written by whoever makes the change, in the same automerge change
//! ([`crate::Writer::edit`] adds them), so a tablet offline writes them too and they arrive
//! with the change they describe. A system note is a [`Note`] of kind [`NoteKind::System`]
//! shown with the author "System" (its `author` is the user whose change it describes); like
//! every note it is never edited or removed.
//!
//! A technician's device may add only the system notes a technician's change can warrant
//! ([`technician_may_write`], checked by [`crate::validate`]): a status change to a field
//! status, made by a change that edits the job, and the issue of an invoice that the same
//! change adds. So a tablet cannot forge "Invoice voided" or "Assigned to". The "from" of a
//! status note is what the tablet saw, which the server cannot check: another device may have
//! moved the job meanwhile, and the change must not be refused for that (the change log, made
//! from the changes themselves, says exactly who changed what).

use crate::incremental::{Edit, Main};
use crate::{Account, Author, Invoice, Job, Note, NoteId, NoteKind, Record, Timestamp, UserId};

/// The author name that system notes carry.
pub const SYSTEM: &str = "System";

/// Names a user in a note ("Assigned to Tess Tech"), when the writer knows them.
pub type Names<'a> = &'a (dyn Fn(UserId) -> Option<String> + Sync);

/// No names known: users are named by id.
pub fn no_names(_: UserId) -> Option<String> {
    None
}

fn name(names: Names<'_>, user: UserId) -> String {
    names(user).unwrap_or_else(|| format!("user {user}"))
}

fn job_texts(old: &Job, new: &Job, names: Names<'_>, out: &mut Vec<String>) {
    if old.status != new.status {
        out.push(format!(
            "Status changed from {} to {}.",
            old.status.label(),
            new.status.label()
        ));
    }
    for user in new.technicians.keys() {
        if !old.technicians.contains_key(user) {
            out.push(format!("Assigned to {}.", name(names, *user)));
        }
    }
    for user in old.technicians.keys() {
        if !new.technicians.contains_key(user) {
            out.push(format!("Unassigned {}.", name(names, *user)));
        }
    }
}

fn invoice_texts(old: Option<&Invoice>, new: Option<&Invoice>, out: &mut Vec<String>) {
    match (old, new) {
        (None, Some(new)) => out.push(format!(
            "Invoice {} issued for {}.",
            new.number,
            new.total().dollars()
        )),
        (Some(old), Some(new)) if old.voided.is_none() => {
            if let Some(voided) = &new.voided {
                out.push(format!(
                    "Invoice {} voided: {}",
                    new.number,
                    voided.reason.trim()
                ));
            }
        }
        _ => {}
    }
}

fn account_texts(old: &Account, new: &Account, out: &mut Vec<String>) {
    if old.merged_into.is_none()
        && let Some(into) = new.merged_into
    {
        out.push(format!("Merged into account {into}."));
    }
}

/// The system notes' texts that turning `before` into `after` warrants, in order.
pub fn texts(before: &Record, after: &Record, names: Names<'_>) -> Vec<String> {
    let mut out = Vec::new();
    match (before, after) {
        (Record::Job(old), Record::Job(new)) => {
            job_texts(&old.record, &new.record, names, &mut out);
            for (id, invoice) in &new.invoices {
                invoice_texts(old.invoices.get(id), Some(invoice), &mut out);
            }
        }
        (Record::Account(old), Record::Account(new)) => {
            account_texts(&old.record, &new.record, &mut out)
        }
        _ => {}
    }
    out
}

/// Whether a technician's change may carry a system note saying `text`: a status change to a
/// field status when the change edits the job record (`edits_job`), or the issue of one of
/// `new_invoices`, the invoices the change adds.
pub fn technician_may_write<'a>(
    text: &str,
    edits_job: bool,
    new_invoices: impl IntoIterator<Item = &'a Invoice>,
) -> bool {
    let status = |label: &str| {
        crate::JobStatus::ALL
            .iter()
            .copied()
            .find(|s| s.label() == label)
    };
    let status_note = text
        .strip_prefix("Status changed from ")
        .and_then(|rest| rest.strip_suffix('.'))
        .and_then(|rest| rest.split_once(" to "))
        .and_then(|(from, to)| Some((status(from)?, status(to)?)));
    if let Some((from, to)) = status_note {
        return edits_job && from != to && crate::JobStatus::FIELD.contains(&to);
    }
    new_invoices.into_iter().any(|invoice| {
        let mut issued = Vec::new();
        invoice_texts(None, Some(invoice), &mut issued);
        issued.iter().any(|t| t == text)
    })
}

/// [`technician_may_write`] for `edit`, a change to `before`.
pub fn technician_may_write_in(text: &str, before: &Record, edit: &Edit) -> bool {
    let edits_job = matches!(edit.record, Some(Main::Job(_)));
    let new_invoices = edit.invoices.iter().filter_map(|(id, invoice)| {
        let had = before.invoices().is_some_and(|i| i.contains_key(id));
        invoice.as_ref().filter(|_| !had)
    });
    technician_may_write(text, edits_job, new_invoices)
}

/// [`technician_may_write`] for a change that turned `before` into `after`, judged from the
/// whole documents: what the change itself wrote is not known here (its status may have lost
/// to a concurrent one, leaving the record as it was), so any change to a job counts as
/// editing it.
pub fn technician_may_write_whole(text: &str, before: &Record, after: &Record) -> bool {
    let (edits_job, new_invoices): (bool, Vec<&Invoice>) = match (before, after) {
        (Record::Job(old), Record::Job(new)) => (
            true,
            new.invoices
                .iter()
                .filter(|(id, _)| !old.invoices.contains_key(*id))
                .map(|(_, invoice)| invoice)
                .collect(),
        ),
        _ => (false, Vec::new()),
    };
    technician_may_write(text, edits_job, new_invoices)
}

/// Adds to `after` the system notes that turning `before` into it warrants, written by
/// `author` at `at`.
pub fn add(before: &Record, after: &mut Record, author: &Author, at: Timestamp, names: Names<'_>) {
    let doc = before.doc_id();
    let notes = texts(before, after, names).into_iter().map(|text| {
        let mut note = note(text, author, at);
        note.id = note_id(doc, &note);
        note
    });
    if let Record::Job(job) = after {
        job.notes.extend(notes.map(|note| (note.id, note)));
    } else if let Record::Account(account) = after {
        account.notes.extend(notes.map(|note| (note.id, note)));
    }
}

/// The id of a system note that a change of `doc` writes: derived from what it says, who and
/// when, so that the same change made again (a replayed edit) writes the same note, and a
/// replica's history does not depend on a random number.
fn note_id(doc: crate::DocId, note: &Note) -> NoteId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"fieldsync system note");
    hasher.update(doc.as_bytes());
    hasher.update(note.author.as_bytes());
    hasher.update(&note.created_at.millis().to_le_bytes());
    hasher.update(note.text.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    NoteId::from_slice(&bytes).expect("16 bytes are a uuid")
}

/// The text of a payment's system note: "Payment of $80.00 by check (2291) recorded."
pub fn payment_text(payment: &crate::Payment) -> String {
    format!(
        "Payment of {} by {}{} recorded.",
        payment.amount.dollars(),
        payment.method.label().to_lowercase(),
        match payment.reference.as_str() {
            "" => String::new(),
            reference => format!(" ({reference})"),
        }
    )
}

/// The system note of `payment`, on its job or account: its id comes from the payment's, so
/// that whoever writes it, and however often (a tablet's payment pushed again after a
/// restore), there is one.
pub fn payment_note(payment: &crate::Payment, at: Timestamp) -> Note {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"fieldsync payment note");
    hasher.update(payment.id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    Note {
        id: NoteId::from_slice(&bytes).expect("16 bytes are a uuid"),
        kind: NoteKind::System,
        text: payment_text(payment),
        author: payment.recorded_by,
        author_name: SYSTEM.to_string(),
        created_at: at,
    }
}

/// A system note saying `text`, by `author` at `at`. Written by [`add`]; and by the office
/// about something that is not a change of the record it is written on (a payment recorded
/// at the office goes on its job or account), which only office and admin users may write.
pub fn note(text: String, author: &Author, at: Timestamp) -> Note {
    Note {
        id: NoteId::new(),
        kind: NoteKind::System,
        text,
        author: author.user,
        author_name: SYSTEM.to_string(),
        created_at: at,
    }
}
