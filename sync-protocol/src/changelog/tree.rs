//! A value as the tree of automerge values a document would hold, built without a document.
//!
//! The change log compares the parts of a record before and after a change as trees. Writing
//! each part into a scratch automerge document and reading it back made every stored change
//! pay for a document's worth of operations (a fifth of the server's time under load); this
//! reconciler builds the same tree directly. It follows autosurgeon's own (crate-private)
//! `reconcile_to_am_hydrate` (MIT), which autosurgeon uses to create new objects in one batch.

use std::borrow::Cow;

use automerge::hydrate::{List, Map, MapValue, Text, Value as Tree};
use automerge::{ChangeHash, ObjType, ScalarValue, TextEncoding, Value, ValueRef};
use autosurgeon::Reconcile;
use autosurgeon::reconcile::{
    CounterReconciler, LoadKey, MapReconciler, Reconciler, SeqReconciler, StaleHeads,
    TextReconciler,
};

/// Building a tree cannot fail; autosurgeon's traits need an error type that could.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(super) struct Never(#[from] StaleHeads);

/// `value` as a tree (`None` for a value that writes nothing).
pub(super) fn of<R: Reconcile>(value: R) -> Option<Tree> {
    child(value).ok().flatten()
}

fn child<R: Reconcile>(value: R) -> Result<Option<Tree>, Never> {
    let mut out = None;
    value.reconcile(Builder { slot: &mut out })?;
    Ok(out)
}

fn as_ref(tree: &Tree) -> ValueRef<'static> {
    match tree {
        Tree::Scalar(s) => ValueRef::from(s.clone()),
        Tree::Map(_) => ValueRef::Object(ObjType::Map),
        Tree::List(_) => ValueRef::Object(ObjType::List),
        Tree::Text(_) => ValueRef::Object(ObjType::Text),
    }
}

struct Builder<'a> {
    slot: &'a mut Option<Tree>,
}

impl Builder<'_> {
    fn scalar(&mut self, value: ScalarValue) -> Result<(), Never> {
        *self.slot = Some(Tree::Scalar(value));
        Ok(())
    }
}

impl Reconciler for Builder<'_> {
    type Error = Never;
    type Map<'m>
        = MapBuilder<'m>
    where
        Self: 'm;
    type Seq<'s>
        = SeqBuilder<'s>
    where
        Self: 's;
    type Text<'t>
        = TextBuilder<'t>
    where
        Self: 't;
    type Counter<'c>
        = CounterBuilder<'c>
    where
        Self: 'c;

    fn none(&mut self) -> Result<(), Never> {
        self.scalar(ScalarValue::Null)
    }

    fn bytes<B: AsRef<[u8]>>(&mut self, value: B) -> Result<(), Never> {
        self.scalar(ScalarValue::Bytes(value.as_ref().to_vec()))
    }

    fn timestamp(&mut self, value: i64) -> Result<(), Never> {
        self.scalar(ScalarValue::Timestamp(value))
    }

    fn boolean(&mut self, value: bool) -> Result<(), Never> {
        self.scalar(ScalarValue::Boolean(value))
    }

    fn str<S: AsRef<str>>(&mut self, value: S) -> Result<(), Never> {
        self.scalar(ScalarValue::Str(value.as_ref().into()))
    }

    fn u64(&mut self, value: u64) -> Result<(), Never> {
        self.scalar(ScalarValue::Uint(value))
    }

    fn i64(&mut self, value: i64) -> Result<(), Never> {
        self.scalar(ScalarValue::Int(value))
    }

    fn f64(&mut self, value: f64) -> Result<(), Never> {
        self.scalar(ScalarValue::F64(value))
    }

    fn map(&mut self) -> Result<MapBuilder<'_>, Never> {
        let slot = self.slot.insert(Tree::Map(Map::default()));
        match slot {
            Tree::Map(map) => Ok(MapBuilder { map }),
            _ => unreachable!("just made a map"),
        }
    }

    fn seq(&mut self) -> Result<SeqBuilder<'_>, Never> {
        Ok(SeqBuilder {
            items: Vec::new(),
            slot: self.slot,
        })
    }

    fn text(&mut self) -> Result<TextBuilder<'_>, Never> {
        Ok(TextBuilder {
            text: String::new(),
            slot: self.slot,
        })
    }

    fn counter(&mut self) -> Result<CounterBuilder<'_>, Never> {
        Ok(CounterBuilder {
            value: 0,
            slot: self.slot,
        })
    }

    fn heads(&self) -> &[ChangeHash] {
        &[]
    }
}

struct MapBuilder<'a> {
    map: &'a mut Map,
}

impl MapReconciler for MapBuilder<'_> {
    type Error = Never;
    type EntriesIter<'e>
        = std::vec::IntoIter<(Cow<'e, str>, ValueRef<'e>)>
    where
        Self: 'e;

    fn entries(&self) -> Self::EntriesIter<'_> {
        let entries: Vec<_> = self
            .map
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), as_ref(&v.value)))
            .collect();
        entries.into_iter()
    }

    fn entry<P: AsRef<str>>(&self, prop: P) -> Option<Value<'_>> {
        self.map.get(prop.as_ref()).map(Value::from)
    }

    fn put<R: Reconcile, P: AsRef<str>>(&mut self, prop: P, value: R) -> Result<(), Never> {
        if let Some(value) = child(value)? {
            self.map.insert(
                prop.as_ref().to_string(),
                MapValue {
                    value,
                    conflict: false,
                },
            );
        }
        Ok(())
    }

    fn delete<P: AsRef<str>>(&mut self, prop: P) -> Result<(), Never> {
        self.map.remove(prop.as_ref());
        Ok(())
    }

    fn hydrate_entry_key<'k, R: Reconcile, P: AsRef<str>>(
        &self,
        _prop: P,
    ) -> Result<LoadKey<R::Key<'k>>, Never> {
        Ok(LoadKey::KeyNotFound)
    }
}

/// Items gathered, then written as a list when done (`List` has no public insert).
struct SeqBuilder<'a> {
    items: Vec<Tree>,
    slot: &'a mut Option<Tree>,
}

impl Drop for SeqBuilder<'_> {
    fn drop(&mut self) {
        *self.slot = Some(Tree::List(List::from(std::mem::take(&mut self.items))));
    }
}

impl SeqReconciler for SeqBuilder<'_> {
    type Error = Never;
    type ItemIter<'i>
        = Items<'i>
    where
        Self: 'i;

    fn items(&self) -> Items<'_> {
        Items(self.items.iter())
    }

    fn get(&self, index: usize) -> Result<Option<Value<'_>>, Never> {
        Ok(self.items.get(index).map(Value::from))
    }

    fn hydrate_item_key<'k, R: Reconcile>(
        &self,
        _index: usize,
    ) -> Result<LoadKey<R::Key<'k>>, Never> {
        Ok(LoadKey::KeyNotFound)
    }

    fn insert<R: Reconcile>(&mut self, index: usize, value: R) -> Result<(), Never> {
        if let Some(value) = child(value)? {
            self.items.insert(index.min(self.items.len()), value);
        }
        Ok(())
    }

    fn set<R: Reconcile>(&mut self, index: usize, value: R) -> Result<(), Never> {
        if let (Some(value), Some(slot)) = (child(value)?, self.items.get_mut(index)) {
            *slot = value;
        }
        Ok(())
    }

    fn delete(&mut self, index: usize) -> Result<(), Never> {
        if index < self.items.len() {
            self.items.remove(index);
        }
        Ok(())
    }

    fn len(&self) -> Result<usize, Never> {
        Ok(self.items.len())
    }
}

/// The items of a list being built, as values.
struct Items<'i>(std::slice::Iter<'i, Tree>);

impl<'i> Iterator for Items<'i> {
    type Item = ValueRef<'i>;

    fn next(&mut self) -> Option<ValueRef<'i>> {
        self.0.next().map(as_ref)
    }
}

/// Text gathered, then written when done.
struct TextBuilder<'a> {
    text: String,
    slot: &'a mut Option<Tree>,
}

impl Drop for TextBuilder<'_> {
    fn drop(&mut self) {
        let text = Text::new(TextEncoding::platform_default(), &self.text);
        *self.slot = Some(Tree::Text(text));
    }
}

impl TextReconciler for TextBuilder<'_> {
    type Error = Never;

    fn splice<S: AsRef<str>>(&mut self, pos: usize, delete: isize, insert: S) -> Result<(), Never> {
        let byte = |chars: usize| {
            self.text
                .char_indices()
                .nth(chars)
                .map_or(self.text.len(), |(at, _)| at)
        };
        let (start, end) = (byte(pos), byte(pos + delete.max(0) as usize));
        self.text.replace_range(start..end, insert.as_ref());
        Ok(())
    }

    fn heads(&self) -> &[ChangeHash] {
        &[]
    }

    fn update<S: AsRef<str>>(&mut self, new_text: S) -> Result<(), Never> {
        self.text = new_text.as_ref().to_string();
        Ok(())
    }
}

/// A counter's value, written when done.
struct CounterBuilder<'a> {
    value: i64,
    slot: &'a mut Option<Tree>,
}

impl Drop for CounterBuilder<'_> {
    fn drop(&mut self) {
        *self.slot = Some(Tree::Scalar(ScalarValue::counter(self.value)));
    }
}

impl CounterReconciler for CounterBuilder<'_> {
    type Error = Never;

    fn increment(&mut self, by: i64) -> Result<(), Never> {
        self.value = self.value.saturating_add(by);
        Ok(())
    }

    fn set(&mut self, value: i64) -> Result<(), Never> {
        self.value = value;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use automerge::{AutoCommit, ROOT, ReadDoc as _};

    use crate::fixtures::{account, invoice, job, note, now, person, site};
    use crate::{AccountId, NoteKind};

    /// The tree a scratch document holds after `value` is written into it: what the change
    /// log compared before.
    fn through_a_document<R: autosurgeon::Reconcile>(value: &R) -> Option<super::Tree> {
        let mut scratch = AutoCommit::new();
        autosurgeon::reconcile_prop(&mut scratch, ROOT, "v", value).ok()?;
        match scratch.hydrate(ROOT, None).ok()? {
            super::Tree::Map(map) => map.get("v").cloned(),
            _ => None,
        }
    }

    #[test]
    fn records_make_the_same_tree_as_through_a_document() {
        let owner = AccountId::new();
        let site = site(owner, "Main Street bakery");
        let mut job = job(owner, site.id, "Boiler service");
        job.requested_services.push("Flue check".into());
        job.technicians.insert(crate::UserId::new(), job.created_at);
        let tess = person("Tess Morgan");
        let note = note(
            NoteKind::ServicePerformed,
            "Replaced the pump seal",
            &tess,
            now(),
        );
        let bill = invoice(job.id, "T1-0001", &[("Pump seal", "1", "42.50")]);
        let customer = account("Harbor Bakery");
        assert_eq!(super::of(&job), through_a_document(&job));
        assert_eq!(super::of(&site), through_a_document(&site));
        assert_eq!(super::of(&note), through_a_document(&note));
        assert_eq!(super::of(&bill), through_a_document(&bill));
        assert_eq!(super::of(&customer), through_a_document(&customer));
        assert!(super::of(&job).is_some());
    }
}
