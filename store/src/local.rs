//! The local user's edits: a document changed with [`fieldsync_protocol::Writer`] is stored
//! and, on a tablet, queued in the outbox.

use std::borrow::Cow;
use std::cell::RefCell;

use automerge::{AutoCommit, Change};
use fieldsync_protocol::{DocId, Edited, Record, validate};
use rusqlite::Transaction;

use crate::cache::DocCache;
use crate::documents::{self, DocRow, NewChange, Write};
use crate::ingest::{commit, prepare_changes, take};
use crate::{Origin, Result, StoreError, outbox};

/// Whether `change` is new to document `doc` and fits in it: `Ok(Err(seq))` when it is
/// stored already, else its row before (`None`: a new document).
fn admit(
    tx: &Transaction<'_>,
    doc: DocId,
    change: &Change,
) -> Result<std::result::Result<Option<DocRow>, u64>> {
    let hash = change.hash();
    match documents::seq_of_change(tx, doc, &hash)? {
        Some(Ok(seq)) => return Ok(Err(seq)),
        Some(Err(other)) => {
            let reason = format!("change {hash} is stored for document {other}");
            return Err(StoreError::InvalidData { doc, reason });
        }
        None => {}
    }
    let prior = documents::row(tx, doc)?;
    if let Some(row) = &prior {
        let bytes =
            documents::stored_bytes(tx, doc, row)?.saturating_add(change.raw_bytes().len() as u64);
        validate::check_document_bytes(bytes).map_err(|full| StoreError::Document(full.into()))?;
    }
    Ok(Ok(prior))
}

/// Whether `document` is the stored document (heads `prior`) plus `change` alone.
fn follows(prior: Option<&DocRow>, document: &mut AutoCommit, change: &Change) -> bool {
    let prior_heads = prior.map_or(&[][..], |p| &p.heads[..]);
    let mut deps = change.deps().to_vec();
    deps.sort_unstable();
    deps == prior_heads && document.get_heads() == [change.hash()]
}

/// Stores the local user's edit made with [`fieldsync_protocol::Writer::edit_known`] on
/// `document` (the stored document, whose content was `before`): the projections and the change
/// log are written for the parts the edit touched, and the document stays cached with its new
/// content, so the next edit of it reads nothing back. Returns the change's seq.
pub(crate) fn record_edit(
    tx: &Transaction<'_>,
    cache: &RefCell<DocCache>,
    doc: DocId,
    mut document: AutoCommit,
    before: &Record,
    edited: Edited,
    add_to_outbox: bool,
) -> Result<u64> {
    let Edited {
        change,
        record,
        touched,
    } = edited;
    let prior = match admit(tx, doc, &change)? {
        Err(seq) => return Ok(seq),
        Ok(prior) => prior,
    };
    if prior.is_none() || !follows(prior.as_ref(), &mut document, &change) {
        return record_local(tx, cache, doc, &mut document, &change, add_to_outbox);
    }
    let hash = change.hash();
    let write = Write {
        doc,
        prior: prior.as_ref(),
        before: Some(before),
        touched: (!touched.whole && !touched.root).then_some(&touched),
        log: None,
        changes: vec![NewChange {
            hash,
            bytes: Some(Cow::Borrowed(change.raw_bytes())),
        }],
        origin: Origin::LOCAL,
        snapshot: None,
        compact_when_due: cache.borrow().compacts_inline,
    };
    let applied = documents::write(tx, write, &mut document, Some(&record))?;
    let seq = applied.seqs[0];
    if add_to_outbox {
        outbox::add(tx, &hash, doc, seq)?;
    }
    cache.borrow_mut().keep(doc, document, Some(record));
    Ok(seq)
}

/// Stores the local user's change, already applied to `document`; returns its seq.
pub(crate) fn record_local(
    tx: &Transaction<'_>,
    cache: &RefCell<DocCache>,
    doc: DocId,
    document: &mut AutoCommit,
    change: &Change,
    add_to_outbox: bool,
) -> Result<u64> {
    let hash = change.hash();
    let prior = match admit(tx, doc, change)? {
        Err(seq) => return Ok(seq),
        Ok(prior) => prior,
    };
    let (applied, hashes) = if follows(prior.as_ref(), document, change) {
        // The usual case: `document` is the stored document plus this change.
        let record = Record::read(document).ok();
        let new = vec![NewChange {
            hash,
            bytes: Some(Cow::Borrowed(change.raw_bytes())),
        }];
        let write = Write {
            doc,
            prior: prior.as_ref(),
            before: None,
            touched: None,
            log: None,
            changes: new,
            origin: Origin::LOCAL,
            snapshot: None,
            compact_when_due: cache.borrow().compacts_inline,
        };
        (
            documents::write(tx, write, document, record.as_ref())?,
            vec![hash],
        )
    } else {
        // `document` differs from the stored one by more than this change: store everything
        // it holds that the store lacks, merged with the stored document.
        let (stored, cached) = take(tx, cache, doc, prior.as_ref())?;
        let content = cached.flatten();
        let changes = document
            .get_changes(&[])
            .into_iter()
            .map(|c| {
                let bytes = Cow::Owned(c.raw_bytes().to_vec());
                (c, bytes)
            })
            .collect();
        let prepared = prepare_changes(doc, stored, changes)?;
        let target = (prior.as_ref(), content.as_ref());
        let (applied, hashes, _) = commit(tx, cache, doc, target, prepared, Origin::LOCAL, true)?;
        (applied, hashes)
    };
    if add_to_outbox {
        for (hash, &seq) in hashes.iter().zip(&applied.seqs) {
            outbox::add(tx, hash, doc, seq)?;
        }
    }
    let at = hashes
        .iter()
        .position(|h| *h == hash)
        .ok_or_else(|| StoreError::InvalidData {
            doc,
            reason: format!("change {hash} depends on changes the document does not hold"),
        })?;
    Ok(applied.seqs[at])
}
