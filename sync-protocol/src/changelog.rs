//! The change log of a document, read from automerge history: who changed which field, when,
//! from what to what. Nothing extra is stored; every change carries its author in its message.

use automerge::{AutoCommit, ObjId, Patch, PatchAction, Prop, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};

use crate::{Author, Timestamp};

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
