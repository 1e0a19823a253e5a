//! Checking a change by what it touched, not by the whole document.
//!
//! A job serviced every week for five years holds thousands of notes; reading and checking all
//! of them for every new note would make each change cost as much as the document. Instead, a
//! change's operations name the parts of the document it touched (the main record, one
//! contact, one note, one photo, one invoice, one alert), and only those are read
//! back ([`Edit::read`]), checked with the same rules as a whole document
//! ([`crate::validate::check_edit`]), and applied to the content already in memory
//! ([`Edit::apply`]).
//!
//! Every part read is also checked for keys the schema does not declare ([`declared`]): the
//! record reader ignores them, so without this a device could hide anything (deeply nested
//! data, say) in a document that every replica then stores and syncs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{AutoCommit, ExpandedChange, ObjId, ObjType, Prop, ROOT, ReadDoc, Value};
use autosurgeon::{Hydrate, Reconcile};

use crate::changelog::{self, ChangeEntry, Made};
use crate::validate::{self, Pusher};
use crate::{
    Account, AccountId, Alert, Contact, ContactEntry, ContactId, DocId, DocKind, FileEntry,
    Invoice, InvoiceId, Job, JobSite, Note, NoteId, Payment, Photo, PhotoId, Record,
    ValidationError,
};

/// The parts of a document that changes touched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// `kind` or `account`, at the root.
    pub root: bool,
    /// The main record.
    pub record: bool,
    /// Contacts, by id.
    pub contacts: BTreeSet<ContactId>,
    /// Notes, by id.
    pub notes: BTreeSet<NoteId>,
    /// Photos, by id.
    pub photos: BTreeSet<PhotoId>,
    /// Invoices, by id.
    pub invoices: BTreeSet<InvoiceId>,
    /// Alerts, by id.
    pub alerts: BTreeSet<NoteId>,
    /// Contact log entries, by id.
    pub contact_log: BTreeSet<NoteId>,
    /// Files, by id.
    pub files: BTreeSet<NoteId>,
    /// A whole section (`notes`, say) was put anew: only the whole document tells what changed.
    pub whole: bool,
}

/// The sections of a document of `kind`, each a map of items by id.
fn sections(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Account => &["contacts", "notes", "alerts", "contact_log", "files"],
        DocKind::Site => &["notes", "photos", "alerts", "files"],
        DocKind::Job => &["notes", "photos", "invoices"],
        DocKind::Payment => &[],
    }
}

fn parse_id<T: std::str::FromStr>(section: &str, key: &str) -> Result<T, ValidationError> {
    key.parse()
        .map_err(|_| ValidationError::Malformed(format!("{section} key {key:?} is not an id")))
}

impl Touched {
    /// The parts of a document of `kind` that `change` touches, read from its operations;
    /// `doc` is the document the change was applied to. A key the schema does not declare at
    /// the root or as a section is refused here; keys inside a part are checked when the part
    /// is read ([`Edit::read`]).
    pub fn from_change(
        kind: DocKind,
        doc: &AutoCommit,
        change: &ExpandedChange,
    ) -> Result<Touched, ValidationError> {
        let mut touched = Touched::default();
        // The first two keys of the path of each object this change makes.
        let mut made: HashMap<u64, Vec<Option<String>>> = HashMap::new();
        for (counter, op) in (change.start_op.get()..).zip(&change.operations) {
            let mut path = match &op.obj {
                ObjectId::Root => Vec::new(),
                ObjectId::Id(id) if id.1 == change.actor_id && made.contains_key(&id.0) => {
                    made[&id.0].clone()
                }
                ObjectId::Id(id) => path_of(doc, id)?,
            };
            if path.len() < 2 {
                path.push(match &op.key {
                    Key::Map(key) => Some(key.to_string()),
                    Key::Seq(_) => None,
                });
            }
            if let OpType::Make(_) = op.action {
                made.insert(counter, path.clone());
            }
            touched.add(kind, &path)?;
        }
        Ok(touched)
    }

    /// What differs between two contents of one document: the main record, and the items of
    /// each section added, changed or removed (`root` and `whole` when the kind or the account
    /// differ). Compares in memory only.
    pub fn between(before: &Record, after: &Record) -> Touched {
        fn items<K: Ord + Clone, V: PartialEq>(
            out: &mut BTreeSet<K>,
            before: Option<&BTreeMap<K, V>>,
            after: Option<&BTreeMap<K, V>>,
        ) {
            use std::cmp::Ordering;
            let (Some(before), Some(after)) = (before, after) else {
                return;
            };
            // Both in key order: one walk through each.
            let (mut old, mut new) = (before.iter().peekable(), after.iter().peekable());
            loop {
                let id = match (old.peek().copied(), new.peek().copied()) {
                    (None, None) => return,
                    (Some((id, _)), None) => {
                        old.next();
                        Some(id)
                    }
                    (None, Some((id, _))) => {
                        new.next();
                        Some(id)
                    }
                    (Some((a, x)), Some((b, y))) => match a.cmp(b) {
                        Ordering::Less => {
                            old.next();
                            Some(a)
                        }
                        Ordering::Greater => {
                            new.next();
                            Some(b)
                        }
                        Ordering::Equal => {
                            old.next();
                            new.next();
                            (x != y).then_some(a)
                        }
                    },
                };
                out.extend(id.cloned());
            }
        }
        let mut touched = Touched::default();
        let record = match (before, after) {
            (Record::Account(b), Record::Account(a)) => b.record != a.record,
            (Record::Site(b), Record::Site(a)) => b.record != a.record,
            (Record::Job(b), Record::Job(a)) => b.record != a.record,
            (Record::Payment(b), Record::Payment(a)) => b.record != a.record,
            _ => true,
        };
        if before.kind() != after.kind() || before.account() != after.account() {
            touched.root = true;
            touched.whole = true;
        }
        touched.record = record;
        items(&mut touched.contacts, before.contacts(), after.contacts());
        items(&mut touched.notes, before.notes(), after.notes());
        items(&mut touched.photos, before.photos(), after.photos());
        items(&mut touched.invoices, before.invoices(), after.invoices());
        items(&mut touched.alerts, before.alerts(), after.alerts());
        items(
            &mut touched.contact_log,
            before.contact_log(),
            after.contact_log(),
        );
        items(&mut touched.files, before.files(), after.files());
        touched
    }

    /// Notes that a change touched what is at `path` (its first two keys from the root).
    fn add(&mut self, kind: DocKind, path: &[Option<String>]) -> Result<(), ValidationError> {
        let path: Vec<Option<&str>> = path.iter().map(Option::as_deref).collect();
        let is_section = |name: &str| sections(kind).contains(&name);
        match path.as_slice() {
            [Some("kind" | "account"), ..] => self.root = true,
            [Some("record"), ..] => self.record = true,
            [Some(section), Some(key), ..] if is_section(section) => self.item(section, key)?,
            [Some(section), ..] if is_section(section) => self.whole = true,
            [Some(other), ..] => return Err(ValidationError::Undeclared(other.to_string())),
            [None, ..] | [] => {
                return Err(ValidationError::Malformed(
                    "the document's root is not a map".into(),
                ));
            }
        }
        Ok(())
    }

    fn item(&mut self, section: &str, key: &str) -> Result<(), ValidationError> {
        match section {
            "contacts" => self.contacts.insert(parse_id(section, key)?),
            "notes" => self.notes.insert(parse_id(section, key)?),
            "photos" => self.photos.insert(parse_id(section, key)?),
            "invoices" => self.invoices.insert(parse_id(section, key)?),
            "alerts" => self.alerts.insert(parse_id(section, key)?),
            "contact_log" => self.contact_log.insert(parse_id(section, key)?),
            "files" => self.files.insert(parse_id(section, key)?),
            _ => unreachable!("sections() lists only these"),
        };
        Ok(())
    }

    /// Adds what `other` touched.
    pub fn merge(&mut self, other: Touched) {
        self.root |= other.root;
        self.record |= other.record;
        self.whole |= other.whole;
        self.contacts.extend(other.contacts);
        self.notes.extend(other.notes);
        self.photos.extend(other.photos);
        self.invoices.extend(other.invoices);
        self.alerts.extend(other.alerts);
        self.contact_log.extend(other.contact_log);
        self.files.extend(other.files);
    }

    /// Whether nothing was touched.
    pub fn is_empty(&self) -> bool {
        *self == Touched::default()
    }
}

/// Checks a change to a stored document whose content was the valid record `before`, by the
/// parts it touched: `change` is the change, expanded, and `document` holds it. If it passes,
/// the edit is applied to `before`, and the touched parts and the change log's entries for the
/// change are returned; `Ok(None)` when the change put a whole section anew, which only a
/// check of the whole document can judge.
pub fn check_change(
    doc: DocId,
    pusher: Pusher,
    document: &AutoCommit,
    before: &mut Record,
    change: &ExpandedChange,
) -> Result<Option<(Touched, Vec<ChangeEntry>)>, ValidationError> {
    let touched = Touched::from_change(before.kind(), document, change)?;
    if touched.whole {
        return Ok(None);
    }
    let edit = Edit::read(document, before.kind(), &touched)?;
    validate::check_edit(doc, pusher, before, &edit)?;
    let made = Made::of(change.message.as_deref(), change.time);
    let entries = changelog::edit_entries(before, &edit, &made);
    edit.apply(before);
    Ok(Some((touched, entries)))
}

/// The first two keys of the path from the root to the object `id` of `doc` (`None` for a
/// position in a list).
fn path_of(doc: &AutoCommit, id: &OpId) -> Result<Vec<Option<String>>, ValidationError> {
    let unknown = || ValidationError::Malformed(format!("no object {}@{}", id.0, id.1));
    let obj = doc
        .import_obj(&format!("{}@{}", id.0, id.1))
        .map_err(|_| unknown())?;
    let parents: Vec<Prop> = doc
        .parents(&obj)
        .map_err(|_| unknown())?
        .map(|parent| parent.prop)
        .collect();
    Ok(parents
        .into_iter()
        .rev()
        .take(2)
        .map(|prop| match prop {
            Prop::Map(key) => Some(key),
            Prop::Seq(_) => None,
        })
        .collect())
}

impl Record {
    /// Writes this content into `doc` by the parts that differ from the content there,
    /// `touched` ([`Touched::between`] the content before and this one): the main record when
    /// it changed, and each added, changed or removed item of a section. The operations are
    /// those [`Record::write`] would make, without reading the rest of the document, so a note
    /// added to a job of five years costs what the note costs. Returns the parts written
    /// (`whole` when the whole content was written).
    pub fn write_over(
        &self,
        mut touched: Touched,
        doc: &mut AutoCommit,
    ) -> Result<Touched, autosurgeon::ReconcileError> {
        if touched.whole {
            self.write(doc)?;
            return Ok(touched);
        }
        if touched.record {
            match self {
                Record::Account(d) => autosurgeon::reconcile_prop(doc, ROOT, "record", &d.record)?,
                Record::Site(d) => autosurgeon::reconcile_prop(doc, ROOT, "record", &d.record)?,
                Record::Job(d) => autosurgeon::reconcile_prop(doc, ROOT, "record", &d.record)?,
                Record::Payment(d) => autosurgeon::reconcile_prop(doc, ROOT, "record", &d.record)?,
            }
        }
        let written = write_items(doc, "contacts", &touched.contacts, self.contacts())?
            && write_items(doc, "notes", &touched.notes, self.notes())?
            && write_items(doc, "photos", &touched.photos, self.photos())?
            && write_items(doc, "invoices", &touched.invoices, self.invoices())?
            && write_items(doc, "alerts", &touched.alerts, self.alerts())?
            && write_items(doc, "contact_log", &touched.contact_log, self.contact_log())?
            && write_items(doc, "files", &touched.files, self.files())?;
        if !written {
            // A section the document does not hold yet (one made before alerts, say).
            self.write(doc)?;
            touched.whole = true;
        }
        Ok(touched)
    }
}

/// Writes the items `ids` of section `name` as `items` holds them (deleting those it does not);
/// `false`, writing nothing, when the document has no such section.
fn write_items<K: std::fmt::Display + Ord, V: Reconcile>(
    doc: &mut AutoCommit,
    name: &str,
    ids: &BTreeSet<K>,
    items: Option<&BTreeMap<K, V>>,
) -> Result<bool, autosurgeon::ReconcileError> {
    use automerge::transaction::Transactable;
    if ids.is_empty() {
        return Ok(true);
    }
    let Some(section) = child(doc, &ROOT, name) else {
        return Ok(false);
    };
    // As autosurgeon reconciles a map: the items there in order, then the deletions.
    let item = |id| items.and_then(|items| items.get(id));
    for (id, value) in ids.iter().filter_map(|id| Some((id, item(id)?))) {
        autosurgeon::reconcile_prop(doc, &section, id.to_string().as_str(), value)?;
    }
    for id in ids.iter().filter(|id| item(id).is_none()) {
        doc.delete(&section, id.to_string().as_str())?;
    }
    Ok(true)
}

/// A document's main record, of any kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Main {
    /// An account.
    Account(Account),
    /// A job site.
    Site(JobSite),
    /// A job.
    Job(Job),
    /// A payment.
    Payment(Payment),
}

/// The touched parts of a document as they are now (`None`: removed).
#[derive(Clone, Debug, Default)]
pub struct Edit {
    /// `kind` and `account` at the root, when touched.
    pub root: Option<(Option<DocKind>, Option<AccountId>)>,
    /// The main record, when touched.
    pub record: Option<Main>,
    /// Touched contacts.
    pub contacts: BTreeMap<ContactId, Option<Contact>>,
    /// Touched notes.
    pub notes: BTreeMap<NoteId, Option<Note>>,
    /// Touched photos.
    pub photos: BTreeMap<PhotoId, Option<Photo>>,
    /// Touched invoices.
    pub invoices: BTreeMap<InvoiceId, Option<Invoice>>,
    /// Touched alerts.
    pub alerts: BTreeMap<NoteId, Option<Alert>>,
    /// Touched contact log entries.
    pub contact_log: BTreeMap<NoteId, Option<ContactEntry>>,
    /// Touched files.
    pub files: BTreeMap<NoteId, Option<FileEntry>>,
}

impl Edit {
    /// The `touched` parts of `record`, a content in memory (a local edit's).
    pub fn of(record: &Record, touched: &Touched) -> Edit {
        fn items<K: Ord + Clone, V: Clone>(
            ids: &BTreeSet<K>,
            items: Option<&BTreeMap<K, V>>,
        ) -> BTreeMap<K, Option<V>> {
            let item = |id| items.and_then(|items| items.get(id)).cloned();
            ids.iter().map(|id| (id.clone(), item(id))).collect()
        }
        let record_of = || match record {
            Record::Account(d) => Main::Account(d.record.clone()),
            Record::Site(d) => Main::Site(d.record.clone()),
            Record::Job(d) => Main::Job(d.record.clone()),
            Record::Payment(d) => Main::Payment(d.record.clone()),
        };
        Edit {
            root: touched
                .root
                .then(|| (Some(record.kind()), Some(record.account()))),
            record: touched.record.then(record_of),
            contacts: items(&touched.contacts, record.contacts()),
            notes: items(&touched.notes, record.notes()),
            photos: items(&touched.photos, record.photos()),
            invoices: items(&touched.invoices, record.invoices()),
            alerts: items(&touched.alerts, record.alerts()),
            contact_log: items(&touched.contact_log, record.contact_log()),
            files: items(&touched.files, record.files()),
        }
    }

    /// Reads the `touched` parts of `doc`, a document of `kind`, each checked for undeclared
    /// keys. `touched.whole` must be false.
    pub fn read(
        doc: &AutoCommit,
        kind: DocKind,
        touched: &Touched,
    ) -> Result<Edit, ValidationError> {
        debug_assert!(
            !touched.whole,
            "a whole section is checked as a whole document"
        );
        let mut edit = Edit::default();
        if touched.root {
            let kind = scalar(doc, "kind").and_then(|s| match s {
                automerge::ScalarValue::Str(text) => text.parse().ok(),
                _ => None,
            });
            let account = scalar(doc, "account").and_then(|s| match s {
                automerge::ScalarValue::Bytes(bytes) => AccountId::from_slice(&bytes).ok(),
                _ => None,
            });
            edit.root = Some((kind, account));
        }
        if touched.record {
            let record = match kind {
                DocKind::Account => Main::Account(part(doc, &ROOT, "record", "record")?),
                DocKind::Site => Main::Site(part(doc, &ROOT, "record", "record")?),
                DocKind::Job => Main::Job(part(doc, &ROOT, "record", "record")?),
                DocKind::Payment => Main::Payment(part(doc, &ROOT, "record", "record")?),
            };
            edit.record = Some(record);
        }
        edit.contacts = items(doc, "contacts", &touched.contacts)?;
        edit.notes = items(doc, "notes", &touched.notes)?;
        edit.photos = items(doc, "photos", &touched.photos)?;
        edit.invoices = items(doc, "invoices", &touched.invoices)?;
        edit.alerts = items(doc, "alerts", &touched.alerts)?;
        edit.contact_log = items(doc, "contact_log", &touched.contact_log)?;
        edit.files = items(doc, "files", &touched.files)?;
        Ok(edit)
    }

    /// Applies the edit to `record`, the content before it (of the same kind).
    pub fn apply(self, record: &mut Record) {
        fn put<K: Ord, V>(map: &mut BTreeMap<K, V>, items: BTreeMap<K, Option<V>>) {
            for (id, item) in items {
                match item {
                    Some(item) => map.insert(id, item),
                    None => map.remove(&id),
                };
            }
        }
        match (record, self.record) {
            (Record::Account(d), main) => {
                if let Some(Main::Account(r)) = main {
                    d.record = r;
                }
                put(&mut d.contacts, self.contacts);
                put(&mut d.notes, self.notes);
                put(&mut d.alerts, self.alerts);
                put(&mut d.contact_log, self.contact_log);
                put(&mut d.files, self.files);
            }
            (Record::Site(d), main) => {
                if let Some(Main::Site(r)) = main {
                    d.record = r;
                }
                put(&mut d.notes, self.notes);
                put(&mut d.photos, self.photos);
                put(&mut d.alerts, self.alerts);
                put(&mut d.files, self.files);
            }
            (Record::Job(d), main) => {
                if let Some(Main::Job(r)) = main {
                    d.record = r;
                }
                put(&mut d.notes, self.notes);
                put(&mut d.photos, self.photos);
                put(&mut d.invoices, self.invoices);
            }
            (Record::Payment(d), main) => {
                if let Some(Main::Payment(r)) = main {
                    d.record = r;
                }
            }
        }
    }
}

fn scalar(doc: &AutoCommit, key: &str) -> Option<automerge::ScalarValue> {
    match doc.get(ROOT, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    }
}

/// The object under `key` of `obj`, if it is one.
fn child(doc: &AutoCommit, obj: &ObjId, prop: impl Into<Prop>) -> Option<ObjId> {
    match doc.get(obj, prop) {
        Ok(Some((Value::Object(_), id))) => Some(id),
        _ => None,
    }
}

/// Reads the value under `key` of `obj` and checks it for undeclared keys.
fn part<T: Hydrate + Reconcile>(
    doc: &AutoCommit,
    obj: &ObjId,
    key: &str,
    path: &str,
) -> Result<T, ValidationError> {
    let value: T = autosurgeon::hydrate_prop(doc, obj, key)?;
    if let Some(id) = child(doc, obj, key) {
        declared(doc, &id, &value, path)?;
    }
    Ok(value)
}

/// Reads the items `ids` of the map `section` (each `None` when it is not there).
fn items<K: Ord + Copy + ToString, V: Hydrate + Reconcile>(
    doc: &AutoCommit,
    section: &str,
    ids: &BTreeSet<K>,
) -> Result<BTreeMap<K, Option<V>>, ValidationError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let Some(map) = child(doc, &ROOT, section) else {
        return Ok(ids.iter().map(|&id| (id, None)).collect());
    };
    ids.iter()
        .map(|&id| {
            let key = id.to_string();
            let item = match doc.get(&map, key.as_str()) {
                Ok(Some(_)) => Some(part(doc, &map, &key, &format!("{section}.{key}"))?),
                _ => None,
            };
            Ok((id, item))
        })
        .collect()
}

/// Checks that the object `obj` of `doc`, read as `value`, holds no key that `value`'s type
/// does not declare: `value` is written to a scratch document and every key of `obj` must be
/// there too. Walks only as deep as the schema goes, however deep `obj` is nested.
pub fn declared<T: Reconcile>(
    doc: &AutoCommit,
    obj: &ObjId,
    value: &T,
    path: &str,
) -> Result<(), ValidationError> {
    let mut scratch = AutoCommit::new();
    autosurgeon::reconcile_prop(&mut scratch, ROOT, "v", value)
        .map_err(|e| ValidationError::Malformed(e.to_string()))?;
    let Some(expected) = child(&scratch, &ROOT, "v") else {
        return Ok(());
    };
    same_keys(doc, obj, &scratch, &expected, path)
}

fn same_keys(
    doc: &AutoCommit,
    obj: &ObjId,
    scratch: &AutoCommit,
    expected: &ObjId,
    path: &str,
) -> Result<(), ValidationError> {
    match (doc.object_type(obj), scratch.object_type(expected)) {
        (Ok(ObjType::Map | ObjType::Table), Ok(ObjType::Map | ObjType::Table)) => {
            for key in doc.keys(obj) {
                let inner = format!("{path}.{key}");
                if scratch.get(expected, key.as_str()).ok().flatten().is_none() {
                    return Err(ValidationError::Undeclared(inner));
                }
                if let (Some(a), Some(b)) = (
                    child(doc, obj, key.as_str()),
                    child(scratch, expected, key.as_str()),
                ) {
                    same_keys(doc, &a, scratch, &b, &inner)?;
                }
            }
            Ok(())
        }
        (Ok(ObjType::List), Ok(ObjType::List)) => {
            for index in 0..doc.length(obj).min(scratch.length(expected)) {
                if let (Some(a), Some(b)) =
                    (child(doc, obj, index), child(scratch, expected, index))
                {
                    same_keys(doc, &a, scratch, &b, &format!("{path}.{index}"))?;
                }
            }
            Ok(())
        }
        // Text read as a string, and the like: nothing nested to hide keys in.
        _ => Ok(()),
    }
}

/// Checks a whole document for undeclared keys (a new document, or one checked as a whole).
pub fn declared_record(doc: &AutoCommit, record: &Record) -> Result<(), ValidationError> {
    let mut scratch = AutoCommit::new();
    record
        .write(&mut scratch)
        .map_err(|e| ValidationError::Malformed(e.to_string()))?;
    for key in doc.keys(ROOT) {
        if scratch.get(ROOT, key.as_str()).ok().flatten().is_none() {
            return Err(ValidationError::Undeclared(key));
        }
        if let (Some(a), Some(b)) = (
            child(doc, &ROOT, key.as_str()),
            child(&scratch, &ROOT, key.as_str()),
        ) {
            same_keys(doc, &a, &scratch, &b, &key)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
