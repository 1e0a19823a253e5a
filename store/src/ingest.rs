//! Taking trusted changes in: data from the server or a fallback sync ([`apply`], and
//! [`apply_batch`] for many documents at once). Untrusted changes from devices go through
//! [`crate::checked`], the local user's edits through [`crate::local`].
//!
//! Each document is first *prepared* (automerge merges the data, the content is read) without
//! touching the database, then *committed* (change rows, document row, projections). A batch
//! prepares its documents on every core and commits them in order.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use automerge::{AutoCommit, Change, ChangeHash};
use fieldsync_protocol::wire::DocData;
use fieldsync_protocol::{DocId, Record};
use rusqlite::Transaction;

use crate::cache::DocCache;
use crate::documents::{self, DocRow, NewChange, Write};
use fieldsync_protocol::chunks;

use crate::{Applied, Origin, Result, StoreError, parallel};

/// What a document's snapshot becomes when the prepared changes are committed.
enum Snapshot<'a> {
    /// Unchanged: the changes are stored as change rows.
    Keep,
    /// These bytes, exactly as received (a new document given as one saved document).
    Verbatim(&'a [u8]),
    /// The merged document, saved.
    Save,
}

/// A document with data merged into it, ready to be committed.
pub(crate) struct Prepared<'a> {
    document: AutoCommit,
    /// The merged content, when it is a valid record.
    record: Option<Record>,
    /// Changes that may be new to the document, in causal order; `bytes` is `None` for
    /// changes that came inside a saved document (the new snapshot holds them).
    candidates: Vec<NewChange<'a>>,
    snapshot: Snapshot<'a>,
    /// Changes received whose dependencies the document lacks (not stored).
    waiting: usize,
}

/// The document to write to: the cached one when the cache holds it at the stored heads (with
/// its content, `Some(record)`), else loaded from SQLite (content not read: `None`), or a new
/// empty document.
pub(crate) fn take(
    tx: &Transaction<'_>,
    cache: &RefCell<DocCache>,
    doc: DocId,
    prior: Option<&DocRow>,
) -> Result<(AutoCommit, Option<Option<Record>>)> {
    let Some(prior) = prior else {
        return Ok((AutoCommit::new(), None));
    };
    if let Some(cached) = cache.borrow_mut().take(doc, &prior.heads) {
        return Ok((cached.document, Some(cached.record)));
    }
    Ok((documents::load(tx, doc)?.unwrap_or_default(), None))
}

/// Merges automerge data (saved documents and single changes, in any mix) into `document`.
fn prepare(
    doc: DocId,
    mut document: AutoCommit,
    existed: bool,
    data: &[u8],
) -> Result<Prepared<'_>> {
    let invalid = |reason: String| StoreError::InvalidData { doc, reason };
    let chunks = chunks::split(data).map_err(invalid)?;
    let before = document.get_heads();
    let mut singles = Vec::new();
    let mut merged = 0;
    for chunk in &chunks {
        if chunk.is_change {
            let change = Change::try_from(chunk.bytes).map_err(|e| invalid(e.to_string()))?;
            singles.push((change, Cow::Borrowed(chunk.bytes)));
        } else {
            let mut other = AutoCommit::load(chunk.bytes).map_err(|e| invalid(e.to_string()))?;
            if before.is_empty() && merged == 0 {
                document = other;
            } else {
                document
                    .merge(&mut other)
                    .map_err(|e| invalid(e.to_string()))?;
            }
            merged += 1;
        }
    }
    if merged == 0 {
        return prepare_changes(doc, document, singles);
    }
    // Whole documents were merged: every change now in the document that was not before is a
    // candidate, and the merged document becomes the snapshot.
    let hashes: Vec<ChangeHash> = singles.iter().map(|(c, _)| c.hash()).collect();
    let changes: Vec<Change> = singles.into_iter().map(|(c, _)| c).collect();
    document
        .apply_changes(changes)
        .map_err(|e| invalid(e.to_string()))?;
    let waiting = count_waiting(&mut document, &hashes);
    let candidates: Vec<NewChange<'_>> = document
        .get_changes_meta(&before)
        .into_iter()
        .map(|meta| NewChange {
            hash: meta.hash,
            bytes: None,
        })
        .collect();
    let snapshot = if !existed && chunks.len() == 1 {
        Snapshot::Verbatim(data)
    } else {
        Snapshot::Save
    };
    let record = if candidates.is_empty() {
        None
    } else {
        Record::read(&document).ok()
    };
    Ok(Prepared {
        document,
        record,
        candidates,
        snapshot,
        waiting,
    })
}

/// Applies single changes to `document`.
pub(crate) fn prepare_changes<'a>(
    doc: DocId,
    mut document: AutoCommit,
    changes: Vec<(Change, Cow<'a, [u8]>)>,
) -> Result<Prepared<'a>> {
    let mut seen = HashSet::new();
    let mut unique: Vec<(ChangeHash, Vec<ChangeHash>, Cow<'a, [u8]>)> = Vec::new();
    let mut apply = Vec::with_capacity(changes.len());
    for (change, bytes) in changes {
        if seen.insert(change.hash()) {
            unique.push((change.hash(), change.deps().to_vec(), bytes));
            apply.push(change);
        }
    }
    document
        .apply_changes(apply)
        .map_err(|e| StoreError::InvalidData {
            doc,
            reason: e.to_string(),
        })?;
    // Changes whose dependencies this replica lacks are held aside by automerge and are not
    // stored: they come again with their dependencies.
    let hashes: Vec<ChangeHash> = unique.iter().map(|(h, _, _)| *h).collect();
    let waiting = count_waiting(&mut document, &hashes);
    if waiting > 0 {
        unique.retain(|(hash, _, _)| document.get_change_meta_by_hash(hash).is_some());
    }
    let candidates: Vec<NewChange<'a>> = causal_order(unique)
        .into_iter()
        .map(|(hash, _, bytes)| NewChange {
            hash,
            bytes: Some(bytes),
        })
        .collect();
    let record = if candidates.is_empty() {
        None
    } else {
        Record::read(&document).ok()
    };
    Ok(Prepared {
        document,
        record,
        candidates,
        snapshot: Snapshot::Keep,
        waiting,
    })
}

/// How many of `hashes` automerge holds aside because their dependencies are missing.
fn count_waiting(document: &mut AutoCommit, hashes: &[ChangeHash]) -> usize {
    if document.get_missing_deps(&[]).is_empty() {
        return 0;
    }
    let unique: HashSet<&ChangeHash> = hashes.iter().collect();
    unique
        .into_iter()
        .filter(|h| document.get_change_meta_by_hash(h).is_none())
        .count()
}

/// Orders changes so that each comes after those of its dependencies that are in the list
/// (Kahn's algorithm, stable for input already in causal order), so that seq order is causal.
fn causal_order<T>(
    changes: Vec<(ChangeHash, Vec<ChangeHash>, T)>,
) -> Vec<(ChangeHash, Vec<ChangeHash>, T)> {
    let position: HashMap<ChangeHash, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, (hash, _, _))| (*hash, i))
        .collect();
    let mut blockers = vec![0usize; changes.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, (_, deps, _)) in changes.iter().enumerate() {
        for dep in deps {
            if let Some(&j) = position.get(dep) {
                blockers[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut slots: Vec<Option<_>> = changes.into_iter().map(Some).collect();
    let mut ready: std::collections::VecDeque<usize> =
        (0..slots.len()).filter(|&i| blockers[i] == 0).collect();
    let mut out = Vec::with_capacity(slots.len());
    while let Some(i) = ready.pop_front() {
        out.extend(slots[i].take());
        for &k in &dependents[i] {
            blockers[k] -= 1;
            if blockers[k] == 0 {
                ready.push_back(k);
            }
        }
    }
    out.extend(slots.into_iter().flatten()); // only on a dependency cycle, which hashes rule out
    out
}

/// Writes the prepared changes that are new to the store. Returns what was stored, the stored
/// changes' hashes in seq order, and the document unless it went into the cache.
pub(crate) fn commit(
    tx: &Transaction<'_>,
    cache: &RefCell<DocCache>,
    doc: DocId,
    (prior, before): (Option<&DocRow>, Option<&Record>),
    prepared: Prepared<'_>,
    origin: Origin,
    keep_in_cache: bool,
) -> Result<(Applied, Vec<ChangeHash>, Option<AutoCommit>)> {
    let Prepared {
        mut document,
        record,
        candidates,
        snapshot,
        waiting,
    } = prepared;
    let mut fresh = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        if documents::seq_of_change(tx, doc, &candidate.hash)?.is_none() {
            fresh.push(candidate);
        }
    }
    if fresh.is_empty() {
        return Ok((
            Applied {
                waiting,
                ..Applied::default()
            },
            Vec::new(),
            Some(document),
        ));
    }
    let hashes: Vec<ChangeHash> = fresh.iter().map(|c| c.hash).collect();
    let snapshot = match snapshot {
        Snapshot::Keep => None,
        Snapshot::Verbatim(bytes) => Some(Cow::Borrowed(bytes)),
        Snapshot::Save => Some(Cow::Owned(documents::save(&mut document))),
    };
    let write = Write {
        doc,
        prior,
        before,
        touched: None,
        log: None,
        changes: fresh,
        origin,
        snapshot,
        compact_when_due: cache.borrow().compacts_inline,
    };
    let applied = documents::write(tx, write, &mut document, record.as_ref())?;
    let applied = Applied { waiting, ..applied };
    // A document holding changes aside for missing dependencies is not cached: automerge would
    // apply them, without change rows, once the dependencies arrive.
    if !keep_in_cache || waiting > 0 {
        return Ok((applied, hashes, Some(document)));
    }
    cache.borrow_mut().keep(doc, document, record);
    Ok((applied, hashes, None))
}

/// Merges trusted automerge data (a saved document, changes, or a mix) into a document.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    cache: &RefCell<DocCache>,
    doc: DocId,
    data: &[u8],
    origin: Origin,
) -> Result<Applied> {
    let prior = documents::row(tx, doc)?;
    let (document, cached) = take(tx, cache, doc, prior.as_ref())?;
    let content = cached.flatten();
    let prepared = prepare(doc, document, prior.is_some(), data)?;
    let target = (prior.as_ref(), content.as_ref());
    Ok(commit(tx, cache, doc, target, prepared, origin, true)?.0)
}

/// [`apply`] for many documents, preparing them on every core. The same document may appear
/// more than once; its data is then applied in order.
pub(crate) fn apply_batch(
    tx: &Transaction<'_>,
    cache: &RefCell<DocCache>,
    items: &[DocData],
    origin: Origin,
) -> Result<Vec<Applied>> {
    // Rounds in which each document appears at most once, so that a round can be prepared in
    // parallel and a document's data is still applied in order.
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<DocId, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let round = seen.entry(item.doc).and_modify(|r| *r += 1).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(index);
    }
    let mut results: Vec<Applied> = vec![Applied::default(); items.len()];
    for round in rounds {
        let mut work = Vec::with_capacity(round.len());
        let mut targets = Vec::with_capacity(round.len());
        for &index in &round {
            let doc = items[index].doc;
            let prior = documents::row(tx, doc)?;
            let (document, cached) = take(tx, cache, doc, prior.as_ref())?;
            work.push((doc, document, prior.is_some(), &items[index].data[..]));
            targets.push((prior, cached.flatten()));
        }
        let prepared = parallel::map(work, |(doc, document, existed, data)| {
            prepare(doc, document, existed, data)
        });
        // Documents new to the store are not cached (a first download would only churn the
        // cache); they are dropped on every core, as freeing a document costs as much as a
        // small write.
        let mut dropped = Vec::new();
        for ((&index, prepared), (prior, content)) in round.iter().zip(prepared).zip(&targets) {
            let target = (prior.as_ref(), content.as_ref());
            let keep = prior.is_some();
            let (applied, _, document) =
                commit(tx, cache, items[index].doc, target, prepared?, origin, keep)?;
            results[index] = applied;
            dropped.extend(document);
        }
        parallel::map(dropped, drop);
    }
    Ok(results)
}

#[cfg(test)]
mod tests;
