//! The change log of a document: who changed which field, when, from what to what. Every
//! change carries its author in its message and its time.
//!
//! Entries are made once, when a change is stored, from the parts of the record it changed
//! ([`edit_entries`], [`record_entries`]): each part before and after is made into the tree a
//! document would hold ([`tree`], without a document) and the two trees are compared, so an
//! entry costs what the part weighs, not what the document does. [`change_log`] reads the same
//! entries from a document's whole history (for databases made before the log was kept).

use std::collections::BTreeMap;
use std::fmt::Display;

use automerge::hydrate::Value as Tree;
use automerge::{AutoCommit, ObjId, Patch, PatchAction, Prop, ReadDoc, ScalarValue, Value};
use autosurgeon::Reconcile;
use serde::{Deserialize, Serialize};

use crate::incremental::{Edit, Main};

mod tree;
use crate::{Author, Record, Timestamp};

/// Who made a change and when, as the change says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Made {
    /// When (as stamped by the device that made it).
    pub at: Option<Timestamp>,
    /// Who, if the change says.
    pub author: Option<Author>,
}

impl Made {
    /// Read from a change's message and time.
    pub fn of(message: Option<&str>, time: i64) -> Made {
        Made {
            at: Timestamp::from_millis(time).filter(|_| time > 0),
            author: message.and_then(Author::from_message),
        }
    }

    fn entry(&self, (field, from, to): (String, Option<String>, Option<String>)) -> ChangeEntry {
        ChangeEntry {
            at: self.at,
            author: self.author.clone(),
            field,
            from,
            to,
        }
    }
}

/// A field changed: its path, the value before and the value after.
type Field = (String, Option<String>, Option<String>);

fn object_kind(tree: &Tree) -> Option<&'static str> {
    match tree {
        Tree::Map(_) => Some("map"),
        Tree::List(_) => Some("list"),
        Tree::Text(_) | Tree::Scalar(_) => None,
    }
}

/// The fields that differ between two trees at `path`. A map is compared key by key; a list
/// or text is shown whole, once; an added object is one entry, "(new map)".
fn diff(path: &str, before: Option<&Tree>, after: Option<&Tree>, out: &mut Vec<Field>) {
    match (before, after) {
        (Some(Tree::Map(b)), Some(Tree::Map(a))) => {
            let keys: std::collections::BTreeSet<&String> = b
                .iter()
                .map(|(k, _)| k)
                .chain(a.iter().map(|(k, _)| k))
                .collect();
            for key in keys {
                diff(&join(path, key), b.get(key), a.get(key), out);
            }
        }
        (None, None) => {}
        (Some(b), Some(a)) if b == a => {}
        (None, Some(a)) => {
            let to = match object_kind(a) {
                Some(kind) => format!("(new {kind})"),
                None => render_tree(a),
            };
            out.push((path.to_string(), None, Some(to)));
        }
        (b, a) => out.push((path.to_string(), b.map(render_tree), a.map(render_tree))),
    }
}

/// One part of a record (the main record, a note, ...) at `path`, if it changed.
fn part<T: Reconcile + PartialEq>(
    path: &str,
    before: Option<&T>,
    after: Option<&T>,
    out: &mut Vec<Field>,
) {
    // Every part is a struct, held as a map: one just added is one entry, as in history.
    if before.is_none() && after.is_some() {
        out.push((path.to_string(), None, Some("(new map)".into())));
    } else if before != after {
        diff(
            path,
            before.and_then(tree::of).as_ref(),
            after.and_then(tree::of).as_ref(),
            out,
        );
    }
}

/// The items of a section (notes, photos, ...) that differ.
fn section<K: Ord + Display, V: Reconcile + PartialEq>(
    name: &str,
    before: Option<&BTreeMap<K, V>>,
    after: Option<&BTreeMap<K, V>>,
    out: &mut Vec<Field>,
) {
    let empty = BTreeMap::new();
    let (before, after) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    let keys: std::collections::BTreeSet<&K> = before.keys().chain(after.keys()).collect();
    for key in keys {
        part(
            &format!("{name}.{key}"),
            before.get(key),
            after.get(key),
            out,
        );
    }
}

/// A record's main record, as a [`Main`].
fn main_of(record: &Record) -> Main {
    match record {
        Record::Account(d) => Main::Account(d.record.clone()),
        Record::Site(d) => Main::Site(d.record.clone()),
        Record::Job(d) => Main::Job(d.record.clone()),
        Record::Payment(d) => Main::Payment(d.record.clone()),
    }
}

fn main_part(before: &Main, after: &Main, out: &mut Vec<Field>) {
    match (before, after) {
        (Main::Account(b), Main::Account(a)) => part("record", Some(b), Some(a), out),
        (Main::Site(b), Main::Site(a)) => part("record", Some(b), Some(a), out),
        (Main::Job(b), Main::Job(a)) => part("record", Some(b), Some(a), out),
        (Main::Payment(b), Main::Payment(a)) => part("record", Some(b), Some(a), out),
        _ => {}
    }
}

/// The entries of a change that turned `before` into `after`, made by `made`. Compares the
/// records part by part, and writes out only the parts that differ. (A new document's creation
/// is no entry: it shows as itself.)
pub fn record_entries(before: &Record, after: &Record, made: &Made) -> Vec<ChangeEntry> {
    let mut out = Vec::new();
    main_part(&main_of(before), &main_of(after), &mut out);
    section("contacts", before.contacts(), after.contacts(), &mut out);
    section("notes", before.notes(), after.notes(), &mut out);
    section("photos", before.photos(), after.photos(), &mut out);
    section("invoices", before.invoices(), after.invoices(), &mut out);
    section("alerts", before.alerts(), after.alerts(), &mut out);
    section(
        "contact_log",
        before.contact_log(),
        after.contact_log(),
        &mut out,
    );
    section("files", before.files(), after.files(), &mut out);
    out.into_iter().map(|f| made.entry(f)).collect()
}

/// The entries of `edit`, a change to `before` by `made`: only the parts it touched.
pub fn edit_entries(before: &Record, edit: &Edit, made: &Made) -> Vec<ChangeEntry> {
    let mut out = Vec::new();
    if let Some(main) = &edit.record {
        main_part(&main_of(before), main, &mut out);
    }
    for (id, after) in &edit.contacts {
        let old = before.contacts().and_then(|c| c.get(id));
        part(&format!("contacts.{id}"), old, after.as_ref(), &mut out);
    }
    for (id, after) in &edit.notes {
        let old = before.notes().and_then(|n| n.get(id));
        part(&format!("notes.{id}"), old, after.as_ref(), &mut out);
    }
    for (id, after) in &edit.photos {
        let old = before.photos().and_then(|p| p.get(id));
        part(&format!("photos.{id}"), old, after.as_ref(), &mut out);
    }
    for (id, after) in &edit.invoices {
        let old = before.invoices().and_then(|i| i.get(id));
        part(&format!("invoices.{id}"), old, after.as_ref(), &mut out);
    }
    for (id, after) in &edit.alerts {
        let old = before.alerts().and_then(|a| a.get(id));
        part(&format!("alerts.{id}"), old, after.as_ref(), &mut out);
    }
    for (id, after) in &edit.contact_log {
        let old = before.contact_log().and_then(|c| c.get(id));
        part(&format!("contact_log.{id}"), old, after.as_ref(), &mut out);
    }
    for (id, after) in &edit.files {
        let old = before.files().and_then(|f| f.get(id));
        part(&format!("files.{id}"), old, after.as_ref(), &mut out);
    }
    out.into_iter().map(|f| made.entry(f)).collect()
}

/// One field changed by one change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEntry {
    /// When the change was made (as stamped by the device that made it).
    pub at: Option<Timestamp>,
    /// Who made it, if the change says.
    pub author: Option<Author>,
    /// Dotted path of the field, e.g. `record.status` or `notes.<id>`.
    pub field: String,
    /// The value before; `None` when the field was added.
    pub from: Option<String>,
    /// The value after; `None` when the field was removed.
    pub to: Option<String>,
}

/// Reads the change log of a document, oldest first.
pub fn change_log(doc: &mut AutoCommit) -> Vec<ChangeEntry> {
    let changes: Vec<_> = doc
        .get_changes(&[])
        .into_iter()
        .map(|c| {
            (
                c.hash(),
                c.deps().to_vec(),
                c.message().map(str::to_string),
                c.timestamp(),
            )
        })
        .collect();
    let mut log = Vec::new();
    for (hash, deps, message, time) in changes {
        let author = message.as_deref().and_then(Author::from_message);
        let at = Timestamp::from_millis(time).filter(|_| time > 0);
        let patches = doc.diff(&deps, &[hash]);
        let created: Vec<ObjId> = patches
            .iter()
            .filter_map(|p| match &p.action {
                PatchAction::PutMap {
                    value: (Value::Object(_), id),
                    ..
                } => Some(id.clone()),
                _ => None,
            })
            .collect();
        let mut seen_seq: Vec<String> = Vec::new();
        for patch in &patches {
            // Fields inside an object created by this same change are shown as one addition.
            if created.contains(&patch.obj) || patch.path.iter().any(|(o, _)| created.contains(o)) {
                continue;
            }
            let path = path_of(patch);
            let entry = |field: String, from: Option<String>, to: Option<String>| ChangeEntry {
                at,
                author: author.clone(),
                field,
                from,
                to,
            };
            match &patch.action {
                PatchAction::PutMap { key, value, .. } => {
                    let from = render_at(doc, &patch.obj, key, &deps);
                    log.push(entry(join(&path, key), from, Some(render(&value.0))));
                }
                PatchAction::DeleteMap { key } => {
                    let from = render_at(doc, &patch.obj, key, &deps);
                    log.push(entry(join(&path, key), from, None));
                }
                _ => {
                    // A list or text edit: show the whole list before and after, once.
                    let field = path.clone();
                    if seen_seq.contains(&field) {
                        continue;
                    }
                    seen_seq.push(field.clone());
                    let from = list_at(doc, &patch.obj, Some(&deps));
                    let to = list_at(doc, &patch.obj, Some(&[hash]));
                    log.push(entry(field, from, to));
                }
            }
        }
    }
    log
}

fn path_of(patch: &Patch) -> String {
    patch
        .path
        .iter()
        .map(|(_, prop)| match prop {
            Prop::Map(key) => key.clone(),
            Prop::Seq(index) => index.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn render_at(
    doc: &AutoCommit,
    obj: &ObjId,
    key: &str,
    heads: &[automerge::ChangeHash],
) -> Option<String> {
    match doc.get_at(obj, key, heads) {
        Ok(Some((value, _))) => Some(render(&value)),
        _ => None,
    }
}

fn list_at(
    doc: &AutoCommit,
    obj: &ObjId,
    heads: Option<&[automerge::ChangeHash]>,
) -> Option<String> {
    let value = doc.hydrate(obj, heads).ok()?;
    Some(render_tree(&value))
}

fn render_tree(value: &automerge::hydrate::Value) -> String {
    use automerge::hydrate::Value as H;
    match value {
        H::Scalar(s) => render_scalar(s),
        H::Map(map) => {
            let mut fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}: {}", render_tree(&v.value)))
                .collect();
            fields.sort();
            format!("{{{}}}", fields.join(", "))
        }
        H::List(list) => {
            let items: Vec<String> = list.iter().map(|v| render_tree(&v.value)).collect();
            format!("[{}]", items.join(", "))
        }
        H::Text(text) => text.to_string(),
    }
}

fn render(value: &Value<'_>) -> String {
    match value {
        Value::Object(kind) => format!("(new {kind})"),
        Value::Scalar(s) => render_scalar(s),
    }
}

fn render_scalar(s: &ScalarValue) -> String {
    match s {
        ScalarValue::Str(text) => text.to_string(),
        ScalarValue::Timestamp(ms) => {
            Timestamp::from_millis(*ms).map_or(ms.to_string(), |t| t.to_string())
        }
        ScalarValue::Bytes(b) => {
            uuid::Uuid::from_slice(b).map_or(format!("{} bytes", b.len()), |u| u.to_string())
        }
        ScalarValue::Int(i) => i.to_string(),
        ScalarValue::Uint(u) => u.to_string(),
        ScalarValue::F64(f) => f.to_string(),
        ScalarValue::Boolean(b) => {
            if *b {
                "yes".into()
            } else {
                "no".into()
            }
        }
        ScalarValue::Null => "(none)".into(),
        other => format!("{other}"),
    }
}
