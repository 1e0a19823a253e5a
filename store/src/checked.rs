//! Untrusted changes from devices (server side). Each change is checked before it is stored:
//! it must parse, its dependencies must be stored (else it is deferred), and the document it
//! produces must be a valid record, the same document as before, and a change the writer's role
//! may make. A refused change leaves nothing behind.
//!
//! A batch (one group commit) is checked in three steps: lookups in the database, in order;
//! then automerge and the checks, one task per document, on every core; then the writes, in
//! order.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use automerge::{AutoCommit, Change, ChangeHash};
use fieldsync_protocol::validate::{self, Role};
use fieldsync_protocol::{DocId, Record, ValidationError};
use rusqlite::Transaction;

use crate::cache::{Cached, DocCache};
use crate::documents::{self, DocRow, NewChange, Write};
use crate::ingest::take;
use crate::{Applied, CheckedOutcome, Origin, Result, parallel};

/// One change of a batch that passed the lookups.
struct Pending<'a> {
    /// Its position in the batch.
    index: usize,
    change: Change,
    bytes: &'a [u8],
    /// Dependencies that are earlier changes of this batch (not yet stored).
    batch_deps: Vec<ChangeHash>,
}

/// A document's content before a change.
#[expect(
    clippy::large_enum_variant,
    reason = "one per document of a batch, moved once; boxing would only add an allocation"
)]
enum Before {
    /// There is no document yet.
    New,
    /// This content (`None`: not a valid record).
    Known(Option<Record>),
    /// Not read yet (the document was not cached).
    Unread,
}

/// A document's changes in a batch, with the document as stored.
struct Group<'a> {
    doc: DocId,
    document: AutoCommit,
    before: Before,
    changes: Vec<Pending<'a>>,
}

/// What checking a group gave.
struct Checked<'a> {
    doc: DocId,
    document: AutoCommit,
    /// Whether `document` holds exactly the stored changes (a refused change could not be
    /// taken back).
    clean: bool,
    /// The content before the batch (what the projection rows hold).
    initial: Option<Record>,
    /// The content after the stored changes.
    record: Option<Record>,
    /// The stored changes: position in the batch, hash, bytes.
    stored: Vec<(usize, ChangeHash, &'a [u8])>,
    /// Outcomes of the changes not stored.
    others: Vec<(usize, CheckedOutcome)>,
}

fn malformed(text: String) -> CheckedOutcome {
    CheckedOutcome::Refused(ValidationError::Malformed(text))
}

/// Checks and stores a batch of changes pushed by one device; one outcome per change.
pub(crate) fn apply_checked_batch(
    tx: &Transaction<'_>,
    cache: &RefCell<DocCache>,
    changes: &[(DocId, &[u8])],
    role: Role,
    origin: Origin,
) -> Result<Vec<CheckedOutcome>> {
    let mut batch = Batch {
        tx,
        cache,
        outcomes: vec![None; changes.len()],
        groups: Vec::new(),
        priors: Vec::new(),
        group_of: HashMap::new(),
        admitted: HashMap::new(),
        repeats: Vec::new(),
    };
    for (index, &(doc, bytes)) in changes.iter().enumerate() {
        if let Some(outcome) = batch.admit(index, doc, bytes)? {
            batch.outcomes[index] = Some(outcome);
        }
    }
    let Batch {
        mut outcomes,
        groups,
        priors,
        repeats,
        ..
    } = batch;
    let checked = parallel::map(groups, |group| check_group(role, group));
    for (checked, prior) in checked.into_iter().zip(&priors) {
        commit_group(tx, cache, checked, prior.as_ref(), origin, &mut outcomes)?;
    }
    // A change pushed twice in one batch: the second is already had if the first was stored.
    for (index, first) in repeats {
        outcomes[index] = match &outcomes[first] {
            Some(CheckedOutcome::Stored(_)) => Some(CheckedOutcome::AlreadyHad),
            other => other.clone(),
        };
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(CheckedOutcome::Deferred))
        .collect())
}

/// The first step of a batch: the database lookups, change by change in order.
struct Batch<'t, 'a> {
    tx: &'t Transaction<'t>,
    cache: &'t RefCell<DocCache>,
    outcomes: Vec<Option<CheckedOutcome>>,
    groups: Vec<Group<'a>>,
    /// The stored row of each group's document.
    priors: Vec<Option<DocRow>>,
    group_of: HashMap<DocId, usize>,
    /// Changes of the batch admitted to a group: their document and position.
    admitted: HashMap<ChangeHash, (DocId, usize)>,
    /// Changes that repeat an earlier one of the batch: (position, earlier position).
    repeats: Vec<(usize, usize)>,
}

impl<'a> Batch<'_, 'a> {
    /// Admits a change to its document's group, or decides it at once: malformed, already
    /// stored, or missing a dependency. Repeats of an admitted change are noted.
    fn admit(
        &mut self,
        index: usize,
        doc: DocId,
        bytes: &'a [u8],
    ) -> Result<Option<CheckedOutcome>> {
        let change = match Change::try_from(bytes) {
            Ok(change) => change,
            Err(e) => return Ok(Some(malformed(format!("not an automerge change: {e}")))),
        };
        let hash = change.hash();
        match documents::seq_of_change(self.tx, doc, &hash)? {
            Some(Ok(_)) => return Ok(Some(CheckedOutcome::AlreadyHad)),
            Some(Err(other)) => return Ok(Some(belongs_to(other))),
            None => {}
        }
        match self.admitted.get(&hash) {
            Some(&(owner, first)) if owner == doc => {
                self.repeats.push((index, first));
                return Ok(None);
            }
            Some(&(other, _)) => return Ok(Some(belongs_to(other))),
            None => {}
        }
        let mut batch_deps = Vec::new();
        for dep in change.deps() {
            match documents::seq_of_change(self.tx, doc, dep)? {
                Some(Ok(_)) => {}
                Some(Err(other)) => return Ok(Some(belongs_to(other))),
                None if self
                    .admitted
                    .get(dep)
                    .is_some_and(|(owner, _)| *owner == doc) =>
                {
                    batch_deps.push(*dep);
                }
                None => return Ok(Some(CheckedOutcome::Deferred)),
            }
        }
        let group = self.group(doc)?;
        self.admitted.insert(hash, (doc, index));
        self.groups[group].changes.push(Pending {
            index,
            change,
            bytes,
            batch_deps,
        });
        Ok(None)
    }

    /// The group of a document, made on its first change: the document taken from the cache or
    /// loaded.
    fn group(&mut self, doc: DocId) -> Result<usize> {
        if let Some(&group) = self.group_of.get(&doc) {
            return Ok(group);
        }
        let prior = documents::row(self.tx, doc)?;
        let (document, cached) = take(self.tx, self.cache, doc, prior.as_ref())?;
        let before = match (&prior, cached) {
            (None, _) => Before::New,
            (Some(_), Some(content)) => Before::Known(content),
            (Some(_), None) => Before::Unread,
        };
        self.groups.push(Group {
            doc,
            document,
            before,
            changes: Vec::new(),
        });
        self.priors.push(prior);
        self.group_of.insert(doc, self.groups.len() - 1);
        Ok(self.groups.len() - 1)
    }
}

fn belongs_to(other: DocId) -> CheckedOutcome {
    malformed(format!(
        "the change or one it depends on belongs to document {other}"
    ))
}

/// The last step of a batch: writes a document's stored changes and caches the document.
fn commit_group(
    tx: &Transaction<'_>,
    cache: &RefCell<DocCache>,
    checked: Checked<'_>,
    prior: Option<&DocRow>,
    origin: Origin,
    outcomes: &mut [Option<CheckedOutcome>],
) -> Result<()> {
    let Checked {
        doc,
        mut document,
        clean,
        initial,
        record,
        stored,
        others,
    } = checked;
    for (index, outcome) in others {
        outcomes[index] = Some(outcome);
    }
    if stored.is_empty() {
        if clean && prior.is_some() {
            let heads = document.get_heads();
            cache.borrow_mut().put(
                doc,
                Cached {
                    heads,
                    document,
                    record,
                },
            );
        }
        return Ok(());
    }
    let changes = stored
        .iter()
        .map(|&(_, hash, bytes)| NewChange {
            hash,
            bytes: Some(Cow::Borrowed(bytes)),
        })
        .collect();
    let write = Write {
        doc,
        prior,
        before: initial.as_ref(),
        changes,
        origin,
        snapshot: None,
    };
    let applied = documents::write(tx, write, &mut document, record.as_ref())?;
    for (&(index, _, _), &seq) in stored.iter().zip(&applied.seqs) {
        let applied = Applied {
            new_changes: 1,
            seqs: vec![seq],
            waiting: 0,
        };
        outcomes[index] = Some(CheckedOutcome::Stored(applied));
    }
    // A document is cached from its second change on: most new documents (payments, notes,
    // photos) are never changed again, and caching them would only evict busy ones (and
    // freeing a document later, cold, costs more than freeing it now).
    if prior.is_none() {
        return Ok(());
    }
    let heads = document.get_heads();
    cache.borrow_mut().put(
        doc,
        Cached {
            heads,
            document,
            record,
        },
    );
    Ok(())
}

/// Checks a document's changes in order, applying those that pass.
fn check_group(role: Role, group: Group<'_>) -> Checked<'_> {
    let Group {
        doc,
        mut document,
        before,
        changes,
    } = group;
    let mut before = match before {
        Before::New => None,
        Before::Known(content) => Some(content),
        Before::Unread => Some(Record::read(&document).ok()),
    };
    let initial = before.clone().flatten();
    let mut checked = Checked {
        doc,
        document: AutoCommit::new(),
        clean: true,
        initial,
        record: None,
        stored: Vec::new(),
        others: Vec::new(),
    };
    let mut stored = HashSet::new();
    let last = changes.len().saturating_sub(1);
    for (i, pending) in changes.into_iter().enumerate() {
        if !pending.batch_deps.iter().all(|dep| stored.contains(dep)) {
            checked
                .others
                .push((pending.index, CheckedOutcome::Deferred));
            continue;
        }
        // A copy to go back to if the change is refused, unless nothing would be written.
        let backup = (i < last || !stored.is_empty()).then(|| document.clone());
        let hash = pending.change.hash();
        match check_one(doc, role, &mut document, before.as_ref(), pending.change) {
            Ok(after) => {
                stored.insert(hash);
                checked.stored.push((pending.index, hash, pending.bytes));
                before = Some(Some(after));
            }
            Err(outcome) => {
                checked.others.push((pending.index, outcome));
                match backup {
                    Some(backup) => document = backup,
                    None => checked.clean = false,
                }
            }
        }
    }
    checked.document = document;
    checked.record = before.flatten();
    checked
}

/// Applies one change to `document` and checks the result; the new content if it passes.
fn check_one(
    doc: DocId,
    role: Role,
    document: &mut AutoCommit,
    before: Option<&Option<Record>>,
    change: Change,
) -> std::result::Result<Record, CheckedOutcome> {
    let hash = change.hash();
    document
        .apply_changes([change])
        .map_err(|e| malformed(e.to_string()))?;
    if !document.get_heads().contains(&hash) {
        return Err(CheckedOutcome::Deferred);
    }
    let after = Record::read(document).map_err(CheckedOutcome::Refused)?;
    check(doc, role, before.map(Option::as_ref), &after).map_err(CheckedOutcome::Refused)?;
    Ok(after)
}

/// The checks a device's change must pass: the content names its document, stays the same
/// document (or is a valid new one), and the role may make the change.
fn check(
    doc: DocId,
    role: Role,
    before: Option<Option<&Record>>,
    after: &Record,
) -> std::result::Result<(), ValidationError> {
    validate::check_doc_id(doc, after)?;
    match before {
        Some(Some(before)) => {
            validate::check_transition(before, after)?;
            validate::authorize(role, Some(before), after)
        }
        // A new document, or one whose stored content is not a valid record: judge the result
        // as if it were being created.
        _ => {
            validate::check_record(after)?;
            validate::authorize(role, None, after)
        }
    }
}

#[cfg(test)]
mod tests;
