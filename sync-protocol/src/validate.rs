//! Schema rules for records, rules for how a document may change, and what each role may write.
//!
//! The same checks run on the tablet before a change is made and on the server before a change
//! is stored, so a well-behaved tablet never has a change refused.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::incremental::{Edit, Main};
use crate::records::string_enum;
use crate::{
    Account, Address, Contact, DocId, Invoice, Job, JobSite, JobStatus, Money, Note, NoteKind,
    Payment, Photo, Record, ValidationError,
};

string_enum!(
    /// What a user may do.
    Role {
        /// Works on jobs in the field: status, notes, photos, payments, invoices.
        Technician = "technician",
        /// Dispatch and bookkeeping: everything on records.
        Office = "office",
        /// Everything, plus users and devices.
        Admin = "admin",
    }
);

/// Largest amount of money a record may hold (a payment, a price, an estimate): a billion.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Largest quantity on an invoice line.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// Most characters in a note's text.
pub const MAX_NOTE_CHARS: usize = 20_000;
/// Most characters in a short text field (a name, a title, a caption, a reference).
pub const MAX_FIELD_CHARS: usize = 500;
/// Most bytes a document may grow to (its snapshot and the changes stored since), by devices'
/// pushes or the office's edits. A job serviced weekly for five years, with its notes, holds a
/// few MB; a device that keeps adding to one document is stopped here, with a refusal that
/// says why. It leaves room in one 16 MiB frame ([`crate::wire::MAX_FRAME`]) for a document
/// sent whole to a tablet (a first download, an account newly in its scope).
pub const MAX_DOCUMENT_BYTES: u64 = 12 << 20;

/// Checks the bytes a document would take with a change: at most [`MAX_DOCUMENT_BYTES`].
pub fn check_document_bytes(bytes: u64) -> Result<(), ValidationError> {
    if bytes > MAX_DOCUMENT_BYTES {
        return Err(ValidationError::DocumentFull {
            bytes,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(())
}

/// Latest time a change may carry (the last millisecond of the year 9999). A change's time is
/// the device's clock and is never trusted for anything, but automerge keeps the times of a
/// document's changes as differences from one to the next, which a device's change dated near
/// the ends of the 64-bit range would overflow.
pub const MAX_CHANGE_TIME_MS: i64 = 253_402_300_799_999;

/// Checks the time a device's change carries: between the Unix epoch and
/// [`MAX_CHANGE_TIME_MS`].
pub fn check_change_time(ms: i64) -> Result<(), ValidationError> {
    if (0..=MAX_CHANGE_TIME_MS).contains(&ms) {
        Ok(())
    } else {
        Err(ValidationError::Malformed(format!(
            "a change's time must be a date between 1970 and 9999, not {ms} ms"
        )))
    }
}

/// Parses a payment amount typed by a person: a positive decimal with at most two places.
pub fn parse_payment_amount(text: &str) -> Result<Money, ValidationError> {
    let amount: Money = text
        .trim()
        .parse()
        .map_err(|_| ValidationError::NotADecimal(text.trim().to_string()))?;
    check_payment_amount(amount)?;
    Ok(amount)
}

/// Reads an invoice line as a person typed it: a description, a quantity (1 when empty) and a
/// unit price; checked as a stored invoice's lines are.
pub fn parse_invoice_line(
    description: &str,
    quantity: &str,
    unit_price: &str,
) -> Result<crate::InvoiceLine, ValidationError> {
    let description = description.trim();
    required("invoice line description", description)?;
    let quantity: crate::Quantity = match quantity.trim() {
        "" => crate::Quantity(Decimal::ONE),
        text => text.parse().map_err(|_| {
            ValidationError::Unreadable(format!(
                "quantity {text:?} of {description:?} is not a number"
            ))
        })?,
    };
    let unit_price: Money = unit_price.trim().parse().map_err(|_| {
        ValidationError::Unreadable(format!(
            "unit price {:?} of {description:?} is not an amount such as 120.50",
            unit_price.trim()
        ))
    })?;
    let line = crate::InvoiceLine {
        description: description.to_string(),
        quantity,
        unit_price,
    };
    check_line(&line)?;
    Ok(line)
}

/// Reads a tax rate typed in percent (`8.25` or `8.25%`); 0 when empty.
pub fn parse_tax_rate(text: &str) -> Result<crate::Percent, ValidationError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(crate::Percent::default());
    }
    let rate: crate::Percent = text.trim_end_matches('%').trim().parse().map_err(|_| {
        ValidationError::Unreadable(format!(
            "tax rate {text:?} is not a percentage such as 8.25"
        ))
    })?;
    check_tax_rate(rate)?;
    Ok(rate)
}

/// A payment amount is a positive decimal with at most two places.
pub fn check_payment_amount(amount: Money) -> Result<(), ValidationError> {
    if amount.0 <= Decimal::ZERO {
        return Err(ValidationError::NotPositive(amount.to_string()));
    }
    check_cents(amount)
}

/// At most two places, and at most [`MAX_AMOUNT`] either way.
fn check_cents(amount: Money) -> Result<(), ValidationError> {
    if amount.0.normalize().scale() > 2 {
        return Err(ValidationError::TooPrecise(amount.to_string()));
    }
    if amount.0.abs() > MAX_AMOUNT {
        return Err(ValidationError::TooLarge {
            field: "an amount",
            value: amount.to_string(),
            limit: MAX_AMOUNT.to_string(),
        });
    }
    Ok(())
}

/// At most `limit` characters.
fn bounded(field: &'static str, value: &str, limit: usize) -> Result<(), ValidationError> {
    let chars = value.chars().count();
    if chars > limit {
        return Err(ValidationError::TooLong {
            field,
            chars,
            limit,
        });
    }
    Ok(())
}

fn check_not_negative(field: &'static str, amount: Money) -> Result<(), ValidationError> {
    if amount.0 < Decimal::ZERO {
        return Err(ValidationError::Negative {
            field,
            value: amount.to_string(),
        });
    }
    check_cents(amount)
}

fn required(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::Required { field });
    }
    Ok(())
}

fn same_id(
    what: &'static str,
    expected: impl ToString,
    found: impl ToString,
) -> Result<(), ValidationError> {
    let (expected, found) = (expected.to_string(), found.to_string());
    if expected != found {
        return Err(ValidationError::IdMismatch {
            what,
            expected,
            found,
        });
    }
    Ok(())
}

fn keyed<K: ToString, V>(
    what: &'static str,
    map: &BTreeMap<K, V>,
    id: impl Fn(&V) -> String,
) -> Result<(), ValidationError> {
    map.iter()
        .try_for_each(|(key, value)| same_id(what, key.to_string(), id(value)))
}

fn check_address(field: &'static str, address: &Address) -> Result<(), ValidationError> {
    required(field, &address.line1)?;
    required(field, &address.city)
}

fn check_account(account: &Account) -> Result<(), ValidationError> {
    required("account name", &account.name)?;
    bounded("account name", &account.name, MAX_FIELD_CHARS)?;
    bounded("account comments", &account.comments, MAX_NOTE_CHARS)?;
    check_address("billing address", &account.billing_address)?;
    if let Some(shipping) = &account.shipping_address {
        check_address("shipping address", shipping)?;
    }
    crate::custom_fields::check_values(&account.custom_fields)
}

fn check_contact(contact: &Contact) -> Result<(), ValidationError> {
    required("contact name", &contact.name)?;
    bounded("contact name", &contact.name, MAX_FIELD_CHARS)?;
    bounded("contact role", &contact.role, MAX_FIELD_CHARS)
}

fn check_site(site: &JobSite) -> Result<(), ValidationError> {
    required("site name", &site.name)?;
    bounded("site name", &site.name, MAX_FIELD_CHARS)?;
    bounded(
        "access instructions",
        &site.access_instructions,
        MAX_NOTE_CHARS,
    )?;
    check_address("site address", &site.address)
}

/// Most characters of a file's media type.
const MAX_CONTENT_TYPE_CHARS: usize = 100;

fn check_file(file: &crate::FileEntry) -> Result<(), ValidationError> {
    required("file name", &file.name)?;
    bounded("file name", &file.name, MAX_FIELD_CHARS)?;
    bounded("file type", &file.content_type, MAX_CONTENT_TYPE_CHARS)?;
    if file.size == 0 || file.size > crate::blob::MAX_BLOB_SIZE {
        return Err(ValidationError::TooLarge {
            field: "file size",
            value: file.size.to_string(),
            limit: crate::blob::MAX_BLOB_SIZE.to_string(),
        });
    }
    Ok(())
}

fn check_alert(alert: &crate::Alert) -> Result<(), ValidationError> {
    required("alert text", &alert.text)?;
    bounded("alert text", &alert.text, MAX_FIELD_CHARS)
}

/// Materials as a person reads and edits them: one per line, `2 x Gasket`.
pub fn format_materials(items: &[crate::InventoryItem]) -> String {
    items
        .iter()
        .map(|i| format!("{} x {}", i.quantity, i.description))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads materials typed one per line: an optional quantity (and `x` or `×`), then what it
/// is (`2 x Gasket`, `1.5 Copper pipe (m)`, `Gasket`: one); blank lines are skipped. Each
/// item is checked as a stored job's are.
pub fn parse_materials(text: &str) -> Result<Vec<crate::InventoryItem>, ValidationError> {
    let items = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (quantity, rest) = match line.split_once(char::is_whitespace) {
                Some((first, rest)) => match first.parse::<crate::Quantity>() {
                    Ok(q) => (Some(q), rest.trim()),
                    Err(_) => (None, line),
                },
                None => (None, line),
            };
            let description = match quantity {
                Some(_) => rest.strip_prefix(['x', 'X', '×']).map_or(rest, str::trim),
                None => rest,
            };
            if description.is_empty() {
                return Err(ValidationError::Unreadable(format!(
                    "material {line:?} says how many but not what"
                )));
            }
            Ok(crate::InventoryItem {
                description: description.to_string(),
                quantity: quantity.unwrap_or(crate::Quantity(Decimal::ONE)),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_material_items(&items)?;
    Ok(items)
}

/// Most lines of materials on one job.
pub const MAX_MATERIAL_LINES: usize = 500;

fn check_materials(job: &Job) -> Result<(), ValidationError> {
    check_material_items(&job.inventory)?;
    if job.requested_services.len() > MAX_MATERIAL_LINES {
        return Err(ValidationError::TooLarge {
            field: "the number of requested services of a job",
            value: job.requested_services.len().to_string(),
            limit: MAX_MATERIAL_LINES.to_string(),
        });
    }
    job.requested_services
        .iter()
        .try_for_each(|s| bounded("a requested service", s, MAX_FIELD_CHARS))
}

fn check_material_items(items: &[crate::InventoryItem]) -> Result<(), ValidationError> {
    if items.len() > MAX_MATERIAL_LINES {
        return Err(ValidationError::TooLarge {
            field: "the number of material lines of a job",
            value: items.len().to_string(),
            limit: MAX_MATERIAL_LINES.to_string(),
        });
    }
    for item in items {
        required("material description", &item.description)?;
        bounded("material description", &item.description, MAX_FIELD_CHARS)?;
        if item.quantity.0 <= Decimal::ZERO {
            return Err(ValidationError::NotPositive(item.quantity.to_string()));
        }
        if item.quantity.0 > MAX_QUANTITY {
            return Err(ValidationError::TooLarge {
                field: "a material's quantity",
                value: item.quantity.to_string(),
                limit: MAX_QUANTITY.to_string(),
            });
        }
    }
    Ok(())
}

fn check_job(job: &Job) -> Result<(), ValidationError> {
    required("job title", &job.title)?;
    bounded("job title", &job.title, MAX_FIELD_CHARS)?;
    if let (Some(start), Some(end)) = (job.scheduled_start, job.scheduled_end)
        && end < start
    {
        return Err(ValidationError::WindowReversed);
    }
    if let Some(estimate) = job.estimate {
        check_not_negative("estimate", estimate)?;
    }
    if let Some(final_amount) = job.final_amount {
        check_not_negative("final amount", final_amount)?;
    }
    check_materials(job)
}

fn check_note(note: &Note) -> Result<(), ValidationError> {
    required("note text", &note.text)?;
    bounded("note text", &note.text, MAX_NOTE_CHARS)
}

fn check_photo(photo: &Photo) -> Result<(), ValidationError> {
    if photo.width == 0 || photo.height == 0 {
        return Err(ValidationError::Required {
            field: "photo size",
        });
    }
    bounded("photo caption", &photo.caption, MAX_FIELD_CHARS)
}

fn check_invoice(job: &Job, invoice: &Invoice) -> Result<(), ValidationError> {
    same_id("invoice job", job.id, invoice.job)?;
    required("invoice number", &invoice.number)?;
    if invoice.lines.is_empty() {
        return Err(ValidationError::Required {
            field: "invoice lines",
        });
    }
    invoice.lines.iter().try_for_each(check_line)?;
    if let Some(signature) = &invoice.signature {
        required("the signer's name", &signature.signer)?;
        bounded("the signer's name", &signature.signer, MAX_FIELD_CHARS)?;
        if signature.image_size > MAX_SIGNATURE_BYTES {
            return Err(ValidationError::TooLarge {
                field: "a signature's image",
                value: signature.image_size.to_string(),
                limit: MAX_SIGNATURE_BYTES.to_string(),
            });
        }
    }
    check_tax_rate(invoice.tax_rate)
}

/// The largest signature image, in bytes (a few strokes on a small PNG take a few kB).
pub const MAX_SIGNATURE_BYTES: u64 = 256 * 1024;

fn check_line(line: &crate::InvoiceLine) -> Result<(), ValidationError> {
    required("invoice line description", &line.description)?;
    bounded(
        "invoice line description",
        &line.description,
        MAX_FIELD_CHARS,
    )?;
    if line.quantity.0 <= Decimal::ZERO {
        return Err(ValidationError::NotPositive(line.quantity.to_string()));
    }
    if line.quantity.0 > MAX_QUANTITY {
        return Err(ValidationError::TooLarge {
            field: "an invoice line's quantity",
            value: line.quantity.to_string(),
            limit: MAX_QUANTITY.to_string(),
        });
    }
    check_cents(line.unit_price)
}

fn check_tax_rate(rate: crate::Percent) -> Result<(), ValidationError> {
    if rate.0 < Decimal::ZERO || rate.0 > Decimal::ONE_HUNDRED {
        return Err(ValidationError::Negative {
            field: "tax rate",
            value: rate.to_string(),
        });
    }
    Ok(())
}

/// Most times one payment's credit may be applied to invoices.
pub const MAX_CREDIT_APPLICATIONS: usize = 200;

fn check_payment(payment: &Payment) -> Result<(), ValidationError> {
    bounded("payment reference", &payment.reference, MAX_FIELD_CHARS)?;
    check_payment_amount(payment.amount)?;
    if payment.credit_applied.len() > MAX_CREDIT_APPLICATIONS {
        return Err(ValidationError::TooLarge {
            field: "the number of credit applications of a payment",
            value: payment.credit_applied.len().to_string(),
            limit: MAX_CREDIT_APPLICATIONS.to_string(),
        });
    }
    payment
        .credit_applied
        .iter()
        .try_for_each(|applied| check_payment_amount(applied.amount))
}

/// Checks a document's content against the schema.
pub fn check_record(record: &Record) -> Result<(), ValidationError> {
    match record {
        Record::Account(d) => {
            same_id("account", d.account, d.record.id)?;
            check_account(&d.record)?;
            keyed("contact", &d.contacts, |c| c.id.to_string())?;
            keyed("note", &d.notes, |n| n.id.to_string())?;
            keyed("alert", &d.alerts, |a| a.id.to_string())?;
            keyed("contact log entry", &d.contact_log, |e| e.id.to_string())?;
            keyed("file", &d.files, |f| f.id.to_string())?;
            d.contacts.values().try_for_each(check_contact)?;
            d.alerts.values().try_for_each(check_alert)?;
            d.files.values().try_for_each(check_file)?;
            d.contact_log
                .values()
                .try_for_each(|e| check_contact_entry(e, &|c| d.contacts.contains_key(&c)))?;
            d.notes.values().try_for_each(check_note)
        }
        Record::Site(d) => {
            same_id("site account", d.account, d.record.account)?;
            check_site(&d.record)?;
            keyed("note", &d.notes, |n| n.id.to_string())?;
            keyed("photo", &d.photos, |p| p.id.to_string())?;
            keyed("alert", &d.alerts, |a| a.id.to_string())?;
            keyed("file", &d.files, |f| f.id.to_string())?;
            d.alerts.values().try_for_each(check_alert)?;
            d.files.values().try_for_each(check_file)?;
            d.notes.values().try_for_each(check_note)?;
            d.photos.values().try_for_each(check_photo)
        }
        Record::Job(d) => {
            same_id("job account", d.account, d.record.account)?;
            check_job(&d.record)?;
            keyed("note", &d.notes, |n| n.id.to_string())?;
            keyed("photo", &d.photos, |p| p.id.to_string())?;
            keyed("invoice", &d.invoices, |i| i.id.to_string())?;
            d.notes.values().try_for_each(check_note)?;
            d.photos.values().try_for_each(check_photo)?;
            d.invoices
                .values()
                .try_for_each(|i| check_invoice(&d.record, i))
        }
        Record::Payment(d) => {
            same_id("payment account", d.account, d.record.account)?;
            check_payment(&d.record)
        }
    }
}

/// Checks that a document stays the same document: same kind, same account, same id, and notes
/// are only ever added.
pub fn check_transition(before: &Record, after: &Record) -> Result<(), ValidationError> {
    if before.kind() != after.kind() {
        return Err(ValidationError::KindChanged {
            was: before.kind(),
            now: after.kind(),
        });
    }
    if before.account() != after.account() {
        return Err(ValidationError::AccountChanged);
    }
    same_id("document", before.doc_id(), after.doc_id())?;
    if let (Some(old), Some(new)) = (before.notes(), after.notes()) {
        old.iter()
            .try_for_each(|(id, note)| note_kept(note, new.get(id)))?;
    }
    if let (Some(old), Some(new)) = (before.contact_log(), after.contact_log()) {
        old.iter()
            .try_for_each(|(id, entry)| entry_kept(entry, new.get(id)))?;
    }
    check_record(after)
}

/// A note may be added but never edited or removed.
fn note_kept(before: &Note, after: Option<&Note>) -> Result<(), ValidationError> {
    if after != Some(before) {
        return Err(ValidationError::AppendOnly("a note"));
    }
    Ok(())
}

/// A contact log entry may be added but never edited or removed.
fn entry_kept(
    before: &crate::ContactEntry,
    after: Option<&crate::ContactEntry>,
) -> Result<(), ValidationError> {
    if after != Some(before) {
        return Err(ValidationError::AppendOnly("a contact log entry"));
    }
    Ok(())
}

/// `has_contact` says whether the customer has a contact.
fn check_contact_entry(
    entry: &crate::ContactEntry,
    has_contact: &dyn Fn(crate::ContactId) -> bool,
) -> Result<(), ValidationError> {
    required("contact summary", &entry.summary)?;
    bounded("contact summary", &entry.summary, MAX_NOTE_CHARS)?;
    bounded("contact user name", &entry.user_name, MAX_FIELD_CHARS)?;
    if let Some(contact) = entry.contact
        && !has_contact(contact)
    {
        return Err(ValidationError::Malformed(format!(
            "contact {contact} is not one of the customer's"
        )));
    }
    Ok(())
}

fn forbid(role: Role, action: &str) -> ValidationError {
    ValidationError::Forbidden {
        role,
        action: action.to_string(),
    }
}

/// Who pushes changes: their role and, for a registered device, its user and number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pusher {
    /// The user's role.
    pub role: Role,
    /// The device's user; `None` when changes are checked for a role alone (the office's
    /// clerk, which records on behalf of others, and the tablet's own checks).
    pub user: Option<crate::UserId>,
    /// The device's number, which the numbers of the invoices it adds must carry
    /// ([`crate::InvoiceNumber`]); `None` as for `user`.
    pub device: Option<u32>,
}

impl From<Role> for Pusher {
    fn from(role: Role) -> Pusher {
        Pusher {
            role,
            user: None,
            device: None,
        }
    }
}

/// What a device may put in an invoice it adds: a number of its own (`INV-<its number>-<n>`),
/// so that invoices made offline on two tablets never share a number, and, for a technician,
/// a total that is not negative (a credit is the office's to give).
fn check_new_invoice(pusher: Pusher, invoice: &Invoice) -> Result<(), ValidationError> {
    if let Some(device) = pusher.device {
        let ours = invoice
            .number
            .parse::<crate::InvoiceNumber>()
            .is_ok_and(|n| n.device == device);
        if !ours {
            return Err(ValidationError::ForeignInvoiceNumber {
                number: invoice.number.clone(),
                device,
            });
        }
    }
    let total = invoice.total();
    if pusher.role == Role::Technician && total < Money::ZERO {
        return Err(ValidationError::Negative {
            field: "a technician's invoice total",
            value: total.to_string(),
        });
    }
    Ok(())
}

/// Checks that what a technician's device adds is in its own user's name: the author of a new
/// note or photo, who recorded a new payment, who created a new invoice. Office and admin
/// record on behalf of others (the office's notes of a phone call, a payment taken at the
/// desk).
pub fn check_authors(
    pusher: Pusher,
    before: Option<&Record>,
    after: &Record,
) -> Result<(), ValidationError> {
    if let Record::Job(j) = after {
        let had = |id| matches!(before, Some(Record::Job(old)) if old.invoices.contains_key(id));
        j.invoices
            .iter()
            .filter(|(id, _)| !had(*id))
            .try_for_each(|(_, invoice)| check_new_invoice(pusher, invoice))?;
    }
    let (Role::Technician, Some(user)) = (pusher.role, pusher.user) else {
        return Ok(());
    };
    match after {
        Record::Payment(p) if before.is_none() => {
            names_self("a payment's recorder", p.record.recorded_by, user)?;
        }
        // A job made in the field is the technician's own: assigned to them alone.
        Record::Job(j) if before.is_none() => {
            let assigned: Vec<_> = j.record.technicians.keys().copied().collect();
            if assigned != [user] {
                return Err(ValidationError::NotTheWriter {
                    what: "a job made in the field's technician",
                    named: assigned
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Record::Job(j) => {
            let had =
                |id| matches!(before, Some(Record::Job(old)) if old.invoices.contains_key(id));
            j.invoices
                .iter()
                .filter(|(id, _)| !had(*id))
                .try_for_each(|(_, invoice)| {
                    names_self("an invoice's creator", invoice.created_by, user)
                })?;
        }
        _ => {}
    }
    if let Some(log) = after.contact_log() {
        let had = |id| {
            before
                .and_then(Record::contact_log)
                .is_some_and(|l| l.contains_key(id))
        };
        log.iter()
            .filter(|(id, _)| !had(*id))
            .try_for_each(|(_, e)| names_self("a contact log entry's user", e.user, user))?;
    }
    let had_note = |id| {
        before
            .and_then(Record::notes)
            .is_some_and(|n| n.contains_key(id))
    };
    after
        .notes()
        .into_iter()
        .flatten()
        .filter(|(id, _)| !had_note(*id))
        .try_for_each(|(_, note)| names_self("a note's author", note.author, user))?;
    let had_photo = |id| {
        before
            .and_then(Record::photos)
            .is_some_and(|p| p.contains_key(id))
    };
    after
        .photos()
        .into_iter()
        .flatten()
        .filter(|(id, _)| !had_photo(*id))
        .try_for_each(|(_, photo)| names_self("a photo's author", photo.author, user))
}

/// What a technician's device adds names its own user.
fn names_self(
    what: &'static str,
    named: crate::UserId,
    user: crate::UserId,
) -> Result<(), ValidationError> {
    if named != user {
        return Err(ValidationError::NotTheWriter {
            what,
            named: named.to_string(),
        });
    }
    Ok(())
}

/// Checks that `role` may turn `before` (or nothing, for a new document) into `after`.
///
/// Office and admin may write anything the schema allows. A technician may record payments,
/// change a job's status to a field status, add notes (not system notes), add photos and edit
/// their captions and tags, create invoices, and update a site's access instructions.
pub fn authorize(
    role: Role,
    before: Option<&Record>,
    after: &Record,
) -> Result<(), ValidationError> {
    if role != Role::Technician {
        return Ok(());
    }
    let Some(before) = before else {
        return technician_creates(role, after);
    };
    let warranted =
        |text: &str| crate::system_notes::technician_may_write_whole(text, before, after);
    let no_system_notes = |old: &BTreeMap<_, Note>, new: &BTreeMap<_, Note>| {
        new.iter()
            .filter(|(id, _)| !old.contains_key(*id))
            .try_for_each(|(_, note)| technician_adds_note(role, note, &warranted))
    };
    match (before, after) {
        (Record::Account(old), Record::Account(new)) => {
            technician_edits_account(role, &old.record, &new.record)?;
            if old.contacts != new.contacts {
                return Err(forbid(role, CONTACTS));
            }
            if old.alerts != new.alerts {
                return Err(forbid(role, ALERTS));
            }
            if old.files != new.files {
                return Err(forbid(role, FILES));
            }
            no_system_notes(&old.notes, &new.notes)
        }
        (Record::Site(old), Record::Site(new)) => {
            technician_edits_site(role, &old.record, &new.record)?;
            if old.alerts != new.alerts {
                return Err(forbid(role, ALERTS));
            }
            if old.files != new.files {
                return Err(forbid(role, FILES));
            }
            photos_only_added_or_captioned(role, &old.photos, &new.photos)?;
            no_system_notes(&old.notes, &new.notes)
        }
        (Record::Job(old), Record::Job(new)) => {
            technician_edits_job(role, &old.record, &new.record)?;
            old.invoices.iter().try_for_each(|(id, inv)| {
                technician_keeps_invoice(role, inv, new.invoices.get(id))
            })?;
            photos_only_added_or_captioned(role, &old.photos, &new.photos)?;
            no_system_notes(&old.notes, &new.notes)
        }
        (Record::Payment(_), Record::Payment(_)) => Err(forbid(role, PAYMENT)),
        _ => Err(forbid(role, "change a document's kind")),
    }
}

/// What a technician may create: a payment; and a customer met in the field, with its site
/// and a job (assigned to themselves, which [`check_authors`] checks): a fresh record, with
/// no alerts, not archived, merged or deleted, and no system notes.
fn technician_creates(role: Role, record: &Record) -> Result<(), ValidationError> {
    let fresh = |what: &str| forbid(role, &format!("create {what}"));
    let no_system_notes = record
        .notes()
        .is_none_or(|n| n.values().all(|n| n.kind != NoteKind::System));
    if !no_system_notes {
        return Err(fresh("a record with system notes"));
    }
    match record {
        Record::Payment(_) => Ok(()),
        Record::Account(d) => {
            if !d.alerts.is_empty() || !d.files.is_empty() {
                return Err(fresh("a customer with alerts or files"));
            }
            if d.record.merged_into.is_some() || d.record.deleted_at.is_some() {
                return Err(fresh("a customer merged or deleted"));
            }
            Ok(())
        }
        Record::Site(d) => {
            if !d.alerts.is_empty() || !d.files.is_empty() || d.record.archived_at.is_some() {
                return Err(fresh("a job site with alerts or files, or archived"));
            }
            Ok(())
        }
        Record::Job(d) => {
            if !JobStatus::FIELD.contains(&d.record.status) {
                return Err(fresh(&format!("a job that is {}", d.record.status)));
            }
            if !d.invoices.is_empty() {
                return Err(fresh("a job with invoices"));
            }
            Ok(())
        }
    }
}

const CONTACTS: &str = "edit an account (other than its custom fields) or its contacts";
const ALERTS: &str = "add or remove alerts";
const FILES: &str = "add or remove files (the office keeps them)";
const PAYMENT: &str = "edit a recorded payment";

/// A technician edits an account's custom fields (the gate code they found, the dog); the office
/// edits the rest.
fn technician_edits_account(
    role: Role,
    old: &Account,
    new: &Account,
) -> Result<(), ValidationError> {
    let mut allowed = old.clone();
    allowed.custom_fields = new.custom_fields.clone();
    if &allowed != new {
        return Err(forbid(role, CONTACTS));
    }
    Ok(())
}

fn technician_edits_site(role: Role, old: &JobSite, new: &JobSite) -> Result<(), ValidationError> {
    let mut allowed = old.clone();
    allowed.access_instructions = new.access_instructions.clone();
    if &allowed != new {
        return Err(forbid(
            role,
            "edit a job site other than its access instructions",
        ));
    }
    Ok(())
}

/// A technician edits a job's status, the materials used (inventory) and the final amount;
/// the office edits the rest.
fn technician_edits_job(role: Role, old: &Job, new: &Job) -> Result<(), ValidationError> {
    let mut allowed = old.clone();
    allowed.status = new.status;
    allowed.inventory = new.inventory.clone();
    allowed.final_amount = new.final_amount;
    if &allowed != new {
        return Err(forbid(
            role,
            "edit a job other than its status, materials and final amount",
        ));
    }
    if old.status != new.status && !JobStatus::FIELD.contains(&new.status) {
        return Err(forbid(role, &format!("set a job to {}", new.status)));
    }
    Ok(())
}

/// A technician adds notes, and system notes only as their own change warrants
/// (`warranted`, from [`crate::system_notes`]).
fn technician_adds_note(
    role: Role,
    note: &Note,
    warranted: &dyn Fn(&str) -> bool,
) -> Result<(), ValidationError> {
    if note.kind == NoteKind::System
        && (note.author_name != crate::system_notes::SYSTEM || !warranted(&note.text))
    {
        return Err(forbid(
            role,
            "write system notes other than those its own change warrants",
        ));
    }
    Ok(())
}

/// A technician never edits or voids an invoice once made; they may only add the customer's
/// signature to one not yet signed.
fn technician_keeps_invoice(
    role: Role,
    old: &Invoice,
    new: Option<&Invoice>,
) -> Result<(), ValidationError> {
    let Some(new) = new else {
        return Err(forbid(role, "delete an invoice"));
    };
    let mut allowed = old.clone();
    if old.signature.is_none() {
        allowed.signature = new.signature.clone();
    }
    if &allowed != new {
        return Err(forbid(
            role,
            "edit or void an invoice, or change its signature",
        ));
    }
    Ok(())
}

/// A technician keeps every photo, changing only its caption and tag.
fn technician_keeps_photo(
    role: Role,
    old: &Photo,
    new: Option<&Photo>,
) -> Result<(), ValidationError> {
    let Some(now) = new else {
        return Err(forbid(role, "delete a photo"));
    };
    let mut allowed = old.clone();
    allowed.caption = now.caption.clone();
    allowed.tag = now.tag;
    if &allowed != now {
        return Err(forbid(
            role,
            "change a photo other than its caption and tag",
        ));
    }
    Ok(())
}

fn photos_only_added_or_captioned<K: Ord>(
    role: Role,
    old: &BTreeMap<K, Photo>,
    new: &BTreeMap<K, Photo>,
) -> Result<(), ValidationError> {
    old.iter()
        .try_for_each(|(id, photo)| technician_keeps_photo(role, photo, new.get(id)))
}

/// The document id a record must live in; used by the server to check that a document's
/// content names its own id.
pub fn check_doc_id(doc: DocId, record: &Record) -> Result<(), ValidationError> {
    same_id("document", doc, record.doc_id())
}

/// Checks an edit of a stored document by the parts it touched, with the rules that
/// [`check_transition`], [`authorize`] and [`check_authors`] apply to the whole document:
/// what the edit does not touch was checked when it was stored. `before` is the content before
/// the edit.
pub fn check_edit(
    doc: DocId,
    pusher: Pusher,
    before: &Record,
    edit: &Edit,
) -> Result<(), ValidationError> {
    let role = pusher.role;
    let technician = role == Role::Technician;
    let user = pusher.user.filter(|_| technician);
    if let Some((kind, account)) = edit.root {
        let kind = kind.ok_or(ValidationError::Required { field: "kind" })?;
        if kind != before.kind() {
            return Err(ValidationError::KindChanged {
                was: before.kind(),
                now: kind,
            });
        }
        if account != Some(before.account()) {
            return Err(ValidationError::AccountChanged);
        }
    }
    if let Some(main) = &edit.record {
        check_main(doc, role, before, main)?;
    }
    if technician && let Record::Payment(_) = before {
        return Err(forbid(role, PAYMENT));
    }
    let warranted = |text: &str| crate::system_notes::technician_may_write_in(text, before, edit);
    for (id, note) in &edit.notes {
        match (before.notes().and_then(|n| n.get(id)), note) {
            (Some(old), new) => note_kept(old, new.as_ref())?,
            (None, Some(note)) => {
                same_id("note", id, note.id)?;
                check_note(note)?;
                if technician {
                    technician_adds_note(role, note, &warranted)?;
                }
                if let Some(user) = user {
                    names_self("a note's author", note.author, user)?;
                }
            }
            (None, None) => {}
        }
    }
    for (id, photo) in &edit.photos {
        if let Some(photo) = photo {
            same_id("photo", id, photo.id)?;
            check_photo(photo)?;
        }
        match (before.photos().and_then(|p| p.get(id)), photo) {
            (Some(old), new) if technician => technician_keeps_photo(role, old, new.as_ref())?,
            (None, Some(photo)) if let Some(user) = user => {
                names_self("a photo's author", photo.author, user)?
            }
            _ => {}
        }
    }
    if let Record::Job(job) = before {
        for (id, invoice) in &edit.invoices {
            if let Some(invoice) = invoice {
                same_id("invoice", id, invoice.id)?;
                check_invoice(&job.record, invoice)?;
            }
            match (job.invoices.get(id), invoice) {
                (Some(old), new) if technician => {
                    technician_keeps_invoice(role, old, new.as_ref())?
                }
                (None, Some(invoice)) => {
                    check_new_invoice(pusher, invoice)?;
                    if let Some(user) = user {
                        names_self("an invoice's creator", invoice.created_by, user)?
                    }
                }
                _ => {}
            }
        }
    }
    for (id, entry) in &edit.contact_log {
        let Record::Account(account) = before else {
            return Err(ValidationError::Undeclared("contact_log".into()));
        };
        match (account.contact_log.get(id), entry) {
            (Some(old), new) => entry_kept(old, new.as_ref())?,
            (None, Some(entry)) => {
                same_id("contact log entry", id, entry.id)?;
                // The contact it names may be one the same change adds or removes.
                check_contact_entry(entry, &|c| match edit.contacts.get(&c) {
                    Some(touched) => touched.is_some(),
                    None => account.contacts.contains_key(&c),
                })?;
                if let Some(user) = user {
                    names_self("a contact log entry's user", entry.user, user)?;
                }
            }
            (None, None) => {}
        }
    }
    for (id, alert) in &edit.alerts {
        if let Some(alert) = alert {
            same_id("alert", id, alert.id)?;
            check_alert(alert)?;
        }
        if technician && before.alerts().and_then(|a| a.get(id)) != alert.as_ref() {
            return Err(forbid(role, ALERTS));
        }
    }
    for (id, file) in &edit.files {
        if let Some(file) = file {
            same_id("file", id, file.id)?;
            check_file(file)?;
        }
        if technician && before.files().and_then(|f| f.get(id)) != file.as_ref() {
            return Err(forbid(role, FILES));
        }
    }
    if let Record::Account(account) = before {
        for (id, contact) in &edit.contacts {
            if let Some(contact) = contact {
                same_id("contact", id, contact.id)?;
                check_contact(contact)?;
            }
            if technician && account.contacts.get(id) != contact.as_ref() {
                return Err(forbid(role, CONTACTS));
            }
        }
    }
    Ok(())
}

/// The rules for a document's main record, edited.
fn check_main(doc: DocId, role: Role, before: &Record, main: &Main) -> Result<(), ValidationError> {
    let technician = role == Role::Technician;
    match (before, main) {
        (Record::Account(old), Main::Account(new)) => {
            same_id("document", doc, DocId::from(new.id))?;
            same_id("account", old.account, new.id)?;
            check_account(new)?;
            if technician {
                technician_edits_account(role, &old.record, new)?;
            }
        }
        (Record::Site(old), Main::Site(new)) => {
            same_id("document", doc, DocId::from(new.id))?;
            same_id("site account", old.account, new.account)?;
            check_site(new)?;
            if technician {
                technician_edits_site(role, &old.record, new)?;
            }
        }
        (Record::Job(old), Main::Job(new)) => {
            same_id("document", doc, DocId::from(new.id))?;
            same_id("job account", old.account, new.account)?;
            check_job(new)?;
            if technician {
                technician_edits_job(role, &old.record, new)?;
            }
        }
        (Record::Payment(old), Main::Payment(new)) => {
            same_id("document", doc, DocId::from(new.id))?;
            same_id("payment account", old.account, new.account)?;
            check_payment(new)?;
        }
        _ => {
            return Err(ValidationError::Malformed(
                "the record is not of the document's kind".into(),
            ));
        }
    }
    Ok(())
}
