//! Untrusted changes from devices (server side). Each change is checked before it is stored:
//! it must parse, its dependencies must be stored (else it is deferred), and the document it
//! produces must be a valid record, the same document as before, and a change the writer's role
//! may make. A refused change leaves nothing behind.
//!
//! A batch is checked in four steps. First, without the database and on any thread, each change
//! is parsed, and a change that starts a document (it has no dependencies) is checked as the
//! first change of a new document ([`Prechecked`]: the server does this on the connection's
//! side, while the writer commits other batches). Then, in the transaction: lookups in the
//! database, in order; automerge and the checks for changes to stored documents, one task per
//! document, on every core; the writes, in order.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use automerge::{AutoCommit, Change, ChangeHash};
use fieldsync_protocol::changelog::{self, ChangeEntry, Made};
use fieldsync_protocol::chunks;
use fieldsync_protocol::incremental::{self, Touched};
use fieldsync_protocol::validate::{self, Pusher};
use fieldsync_protocol::wire::DocData;
use fieldsync_protocol::{AccountId, DocId, Record, ValidationError};
use rusqlite::Transaction;

use crate::cache::DocCache;
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
enum Before<'a> {
    /// There is no document yet.
    New,
    /// This content (`None`: not a valid record).
    Known(Option<Record>),
    /// Not read yet (the document was not cached).
    Unread,
    /// There was no document; the batch's change at `index` created it, prechecked (the
    /// document holds it) and gave `record` and the change log's entries `log`.
    Created {
        index: usize,
        hash: ChangeHash,
        bytes: &'a [u8],
        record: Record,
        log: Vec<ChangeEntry>,
    },
}

/// A document's changes in a batch, with the document as stored.
struct Group<'a> {
    doc: DocId,
    document: AutoCommit,
    before: Before<'a>,
    changes: Vec<Pending<'a>>,
}

/// What checking a group gave.
struct Checked<'a> {
    doc: DocId,
    document: AutoCommit,
    /// Whether `document` holds exactly the stored changes (a refused change could not be
    /// taken back).
    clean: bool,
    /// The parts of the stored document that the stored changes touched; `None` when the
    /// document is new or was checked as a whole (its projection rows are all rewritten).
    touched: Option<Touched>,
    /// The content after the stored changes.
    record: Option<Record>,
    /// The change log's entries of the stored changes.
    log: Vec<ChangeEntry>,
    /// A refused change could not be taken back: nothing of the group is written.
    broken: bool,
    /// The stored changes: position in the batch, hash, bytes.
    stored: Vec<(usize, ChangeHash, &'a [u8])>,
    /// Outcomes of the changes not stored.
    others: Vec<(usize, CheckedOutcome)>,
}

/// A pushed change, parsed; why not, for the device. It is inflated by automerge only once
/// known to stay within [`chunks::MAX_CHANGE_BYTES`].
fn parse(bytes: &[u8]) -> std::result::Result<Change, String> {
    chunks::check_changes(bytes)?;
    let change = Change::try_from(bytes).map_err(|e| format!("not an automerge change: {e}"))?;
    validate::check_change_time(change.timestamp()).map_err(|e| match e {
        ValidationError::Malformed(why) => why,
        other => other.to_string(),
    })?;
    Ok(change)
}

fn malformed(text: String) -> CheckedOutcome {
    CheckedOutcome::Refused(ValidationError::Malformed(text))
}

/// A pushed batch with the part of its checks that needs no database done beforehand, on any
/// thread: each change parsed, and each change that starts a document checked as the first
/// change of a new document. Whether the document is in fact new is decided in the
/// transaction; if it is not, the change is checked against the stored document as usual.
#[derive(Debug)]
pub struct Prechecked {
    role: Pusher,
    changes: Vec<DocData>,
    items: Vec<Early>,
}

/// What was learnt of one change before the transaction.
#[expect(
    clippy::large_enum_variant,
    reason = "one per change of a batch, moved once; boxing would only add an allocation"
)]
pub(crate) enum Early {
    /// Not an automerge change.
    Malformed(String),
    /// A change that depends on others: checked in the transaction.
    Parsed(Change),
    /// A change with no dependencies, checked as the first change of a new document.
    Starts {
        hash: ChangeHash,
        /// The change's automerge actor.
        actor: automerge::ActorId,
        /// The new document holding the change, and its content; or why the change is refused
        /// or deferred (the document is not kept).
        result: std::result::Result<(AutoCommit, Record, Vec<ChangeEntry>), CheckedOutcome>,
        /// The account the new document's content names, when it can be read.
        account: Option<AccountId>,
    },
}

impl std::fmt::Debug for Early {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Early::Malformed(why) => write!(f, "Malformed({why})"),
            Early::Parsed(change) => write!(f, "Parsed({})", change.hash()),
            Early::Starts { hash, result, .. } => {
                write!(f, "Starts({hash}, {:?})", result.as_ref().err())
            }
        }
    }
}

impl Early {
    fn new(doc: DocId, bytes: &[u8], role: Pusher) -> Early {
        let change = match parse(bytes) {
            Ok(change) => change,
            Err(why) => return Early::Malformed(why),
        };
        if !change.deps().is_empty() {
            return Early::Parsed(change);
        }
        let hash = change.hash();
        let actor = change.actor_id().clone();
        let mut document = AutoCommit::new();
        let mut content = None;
        let (result, account) = match check_one(doc, role, &mut document, &mut content, change) {
            Ok((_, log)) => {
                let record = content
                    .flatten()
                    .expect("a change that passes leaves a valid record");
                let account = Some(record.account());
                (Ok((document, record, log)), account)
            }
            Err(outcome) => (
                Err(outcome),
                Record::read(&document).ok().map(|r| r.account()),
            ),
        };
        Early::Starts {
            hash,
            actor,
            result,
            account,
        }
    }

    /// The change's automerge actor, if it parsed.
    pub(crate) fn actor(&self) -> Option<&automerge::ActorId> {
        match self {
            Early::Malformed(_) => None,
            Early::Parsed(change) => Some(change.actor_id()),
            Early::Starts { actor, .. } => Some(actor),
        }
    }

    /// The change's hash, if it parsed.
    pub(crate) fn hash(&self) -> Option<ChangeHash> {
        match self {
            Early::Malformed(_) => None,
            Early::Parsed(change) => Some(change.hash()),
            Early::Starts { hash, .. } => Some(*hash),
        }
    }

    /// The account a change that starts a document writes to, as far as its content tells.
    pub(crate) fn account(&self) -> Option<AccountId> {
        match self {
            Early::Starts { account, .. } => *account,
            Early::Malformed(_) | Early::Parsed(_) => None,
        }
    }
}

impl Prechecked {
    /// Prechecks `changes` pushed by a device whose user has `role`, on the calling thread.
    pub fn new(changes: Vec<DocData>, role: impl Into<Pusher>) -> Prechecked {
        let role = role.into();
        let items = changes
            .iter()
            .map(|c| Early::new(c.doc, &c.data, role))
            .collect();
        Prechecked {
            role,
            changes,
            items,
        }
    }

    /// Who the changes were checked for.
    pub fn pusher(&self) -> Pusher {
        self.role
    }

    /// The changes, as pushed.
    pub fn changes(&self) -> &[DocData] {
        &self.changes
    }

    /// The changes and what was learnt of each.
    pub(crate) fn into_parts(self) -> (Pusher, Vec<DocData>, Vec<Early>) {
        (self.role, self.changes, self.items)
    }
}

/// [`Prechecked::new`] on every core, for changes already in the transaction's hands.
pub(crate) fn precheck_on_every_core(changes: &[(DocId, &[u8])], role: Pusher) -> Vec<Early> {
    parallel::map(changes.to_vec(), |(doc, bytes)| {
        Early::new(doc, bytes, role)
    })
}

/// Checks and stores a batch of changes pushed by one device whose user has `role`, prechecked
/// in `early` (one item per change, for that role); one outcome per change.
pub(crate) fn apply_checked_batch(
    tx: &Transaction<'_>,
    cache: &RefCell<DocCache>,
    changes: &[(DocId, &[u8])],
    early: Vec<Early>,
    role: Pusher,
    origin: Origin,
) -> Result<Vec<CheckedOutcome>> {
    debug_assert_eq!(changes.len(), early.len(), "one prechecked item per change");
    let mut batch = Batch {
        tx,
        cache,
        outcomes: vec![None; changes.len()],
        groups: Vec::new(),
        priors: Vec::new(),
        sizes: Vec::new(),
        group_of: HashMap::new(),
        admitted: HashMap::new(),
        repeats: Vec::new(),
    };
    for (index, (&(doc, bytes), early)) in changes.iter().zip(early).enumerate() {
        if let Some(outcome) = batch.admit(index, doc, bytes, early)? {
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
    /// The bytes each group's document would take with the changes admitted so far.
    sizes: Vec<u64>,
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
        early: Early,
    ) -> Result<Option<CheckedOutcome>> {
        let hash = match &early {
            Early::Malformed(why) => return Ok(Some(malformed(why.clone()))),
            Early::Parsed(change) => change.hash(),
            Early::Starts { hash, .. } => *hash,
        };
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
        let change = match early {
            Early::Malformed(_) => unreachable!("decided above"),
            Early::Parsed(change) => change,
            Early::Starts { result, .. } => {
                let prior = if self.group_of.contains_key(&doc) {
                    None
                } else {
                    match documents::row(self.tx, doc)? {
                        // The document is new: the precheck stands.
                        None => return Ok(self.starts(index, doc, hash, bytes, result)),
                        prior => Some(prior),
                    }
                };
                // The document exists: the change is checked against it.
                drop(result);
                self.group_with(doc, prior)?;
                match parse(bytes) {
                    Ok(change) => change,
                    Err(why) => return Ok(Some(malformed(why))),
                }
            }
        };
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
        let group = self.group_with(doc, None)?;
        let size = self.sizes[group].saturating_add(bytes.len() as u64);
        if let Err(full) = validate::check_document_bytes(size) {
            return Ok(Some(CheckedOutcome::Refused(full)));
        }
        self.sizes[group] = size;
        self.admitted.insert(hash, (doc, index));
        self.groups[group].changes.push(Pending {
            index,
            change,
            bytes,
            batch_deps,
        });
        Ok(None)
    }

    /// A change that starts a new document, prechecked: refused or deferred at once, or the
    /// first change of the document's group, already applied.
    fn starts(
        &mut self,
        index: usize,
        doc: DocId,
        hash: ChangeHash,
        bytes: &'a [u8],
        result: std::result::Result<(AutoCommit, Record, Vec<ChangeEntry>), CheckedOutcome>,
    ) -> Option<CheckedOutcome> {
        // Admitted even if refused: a repeat of it in the batch gets the same outcome, and a
        // change depending on it is deferred.
        self.admitted.insert(hash, (doc, index));
        let (document, record, log) = match result {
            Ok(created) => created,
            Err(outcome) => return Some(outcome),
        };
        let created = Before::Created {
            index,
            hash,
            bytes,
            record,
            log,
        };
        self.push_group(doc, document, created, None, bytes.len() as u64);
        None
    }

    /// The group of a document, made on its first change: the document taken from the cache or
    /// loaded. `prior` is the document's stored row when it was already looked up.
    fn group_with(&mut self, doc: DocId, prior: Option<Option<DocRow>>) -> Result<usize> {
        if let Some(&group) = self.group_of.get(&doc) {
            return Ok(group);
        }
        let prior = match prior {
            Some(prior) => prior,
            None => documents::row(self.tx, doc)?,
        };
        let (document, cached) = take(self.tx, self.cache, doc, prior.as_ref())?;
        let before = match (&prior, cached) {
            (None, _) => Before::New,
            (Some(_), Some(content)) => Before::Known(content),
            (Some(_), None) => Before::Unread,
        };
        let size = match &prior {
            Some(row) => documents::stored_bytes(self.tx, doc, row)?,
            None => 0,
        };
        Ok(self.push_group(doc, document, before, prior, size))
    }

    /// A new group for `doc`, whose stored row is `prior`; returns its position.
    fn push_group(
        &mut self,
        doc: DocId,
        document: AutoCommit,
        before: Before<'a>,
        prior: Option<DocRow>,
        size: u64,
    ) -> usize {
        self.groups.push(Group {
            doc,
            document,
            before,
            changes: Vec::new(),
        });
        self.priors.push(prior);
        self.sizes.push(size);
        self.group_of.insert(doc, self.groups.len() - 1);
        self.groups.len() - 1
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
        touched,
        log,
        broken,
        record,
        stored,
        others,
    } = checked;
    for (index, outcome) in others {
        outcomes[index] = Some(outcome);
    }
    if broken {
        for (index, _, _) in stored {
            outcomes[index] = Some(CheckedOutcome::Deferred);
        }
        return Ok(());
    }
    if !stored.is_empty()
        && let Some(number) = taken_invoice_number(tx, doc, record.as_ref(), touched.as_ref())?
    {
        // Which of the group's changes added it is not worth finding out: a device that reuses
        // a number has lost count or forged it. None of its changes to the document are
        // written, and each is refused with the reason.
        for (index, _, _) in stored {
            outcomes[index] = Some(CheckedOutcome::Refused(
                ValidationError::DuplicateInvoiceNumber(number.clone()),
            ));
        }
        return Ok(());
    }
    if stored.is_empty() {
        if clean && prior.is_some() {
            cache.borrow_mut().keep(doc, document, record);
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
        before: None,
        touched: touched.as_ref(),
        log: Some(log),
        changes,
        origin,
        snapshot: None,
        compact_when_due: cache.borrow().compacts_inline,
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
    cache.borrow_mut().keep(doc, document, record);
    Ok(())
}

/// The number of an invoice that `record` (document `doc`) adds, when another invoice already
/// has it: invoice numbers are unique. Only invoices the changes touched (`touched`; all of the
/// document's when it was checked as a whole) and not stored before are looked at, so an
/// older database's duplicates never block other edits. Invoices stored earlier in the same
/// transaction count.
fn taken_invoice_number(
    tx: &Transaction<'_>,
    doc: DocId,
    record: Option<&Record>,
    touched: Option<&Touched>,
) -> Result<Option<String>> {
    let Some(Record::Job(job)) = record else {
        return Ok(None);
    };
    let candidates: Vec<&fieldsync_protocol::Invoice> = match touched {
        Some(touched) => touched
            .invoices
            .iter()
            .filter_map(|id| job.invoices.get(id))
            .collect(),
        None => job.invoices.values().collect(),
    };
    let mut new_here = std::collections::BTreeSet::new();
    for invoice in candidates {
        let stored: bool = tx
            .prepare_cached("SELECT 1 FROM invoices WHERE doc = ?1 AND id = ?2")?
            .exists(rusqlite::params![doc.as_bytes(), invoice.id.as_bytes()])?;
        if stored {
            continue;
        }
        let taken: bool = tx
            .prepare_cached("SELECT 1 FROM invoices WHERE number = ?1")?
            .exists([&invoice.number])?;
        if taken || !new_here.insert(invoice.number.as_str()) {
            return Ok(Some(invoice.number.clone()));
        }
    }
    Ok(None)
}

/// Checks a document's changes in order, applying those that pass.
fn check_group(role: Pusher, group: Group<'_>) -> Checked<'_> {
    let Group {
        doc,
        mut document,
        before,
        changes,
    } = group;
    let mut stored = HashSet::new();
    let mut created = None;
    let mut log = Vec::new();
    // The content so far: `None` for a new document, `Some(None)` for one that is not a valid
    // record.
    let mut content = match before {
        Before::New => None,
        Before::Known(content) => Some(content),
        Before::Unread => Some(Record::read(&document).ok()),
        Before::Created {
            index,
            hash,
            bytes,
            record,
            log: first,
        } => {
            stored.insert(hash);
            created = Some((index, hash, bytes));
            log = first;
            Some(Some(record))
        }
    };
    // Projection rows are brought up to date part by part only for a document they hold.
    let mut touched = match (&created, &content) {
        (None, Some(Some(_))) => Some(Touched::default()),
        _ => None,
    };
    let mut checked = Checked {
        doc,
        document: AutoCommit::new(),
        clean: true,
        touched: None,
        log: Vec::new(),
        broken: false,
        record: None,
        stored: created.into_iter().collect(),
        others: Vec::new(),
    };
    let last = changes.len().saturating_sub(1);
    for (i, pending) in changes.into_iter().enumerate() {
        if !pending.batch_deps.iter().all(|dep| stored.contains(dep)) {
            checked
                .others
                .push((pending.index, CheckedOutcome::Deferred));
            continue;
        }
        let heads = document.get_heads();
        let hash = pending.change.hash();
        match check_one(doc, role, &mut document, &mut content, pending.change) {
            Ok((part, entries)) => {
                stored.insert(hash);
                checked.stored.push((pending.index, hash, pending.bytes));
                log.extend(entries);
                match (&mut touched, part) {
                    (Some(all), Some(part)) => all.merge(part),
                    (all, _) => *all = None,
                }
            }
            Err(outcome) => {
                checked.others.push((pending.index, outcome));
                // The refused change is in the document: go back to the heads before it, unless
                // the document will not be written or kept. Only a refusal costs this much.
                if i < last || !stored.is_empty() {
                    match document.fork_at(&heads) {
                        Ok(before) => document = before,
                        Err(_) => {
                            // The document cannot be taken back: write none of this batch's
                            // changes to it (the device sends them again).
                            checked.broken = true;
                            checked.clean = false;
                            break;
                        }
                    }
                } else {
                    checked.clean = false;
                }
            }
        }
    }
    checked.document = document;
    checked.record = content.flatten();
    checked.touched = touched;
    checked.log = log;
    checked
}

/// Applies one change to `document`, whose content was `content` (see [`check_group`]), and
/// checks the result; if it passes, `content` becomes the new content, and the parts the
/// change touched (`None`: the change was checked against the whole document) and its change
/// log entries are returned. A change to a valid record is checked by the parts it touched, so
/// that its cost does not grow with the document.
fn check_one(
    doc: DocId,
    role: Pusher,
    document: &mut AutoCommit,
    content: &mut Option<Option<Record>>,
    change: Change,
) -> std::result::Result<(Option<Touched>, Vec<ChangeEntry>), CheckedOutcome> {
    let hash = change.hash();
    let made = Made::of(change.message(), change.timestamp());
    // Decoded before it is applied, for the parts it touches.
    let expanded = matches!(content, Some(Some(_))).then(|| change.decode());
    document
        .apply_changes([change])
        .map_err(|e| malformed(e.to_string()))?;
    if !document.get_heads().contains(&hash) {
        return Err(CheckedOutcome::Deferred);
    }
    if let (Some(Some(before)), Some(expanded)) = (content.as_mut(), &expanded)
        && let Some((touched, log)) =
            incremental::check_change(doc, role, document, before, expanded)
                .map_err(CheckedOutcome::Refused)?
    {
        return Ok((Some(touched), log));
    }
    let after = Record::read(document).map_err(CheckedOutcome::Refused)?;
    let before = content.as_ref().map(Option::as_ref);
    check(doc, role, before, &after).map_err(CheckedOutcome::Refused)?;
    incremental::declared_record(document, &after).map_err(CheckedOutcome::Refused)?;
    let log = before
        .flatten()
        .map(|before| changelog::record_entries(before, &after, &made))
        .unwrap_or_default();
    *content = Some(Some(after));
    Ok((None, log))
}

/// The checks a device's change must pass: the content names its document, stays the same
/// document (or is a valid new one), and the role may make the change.
fn check(
    doc: DocId,
    role: Pusher,
    before: Option<Option<&Record>>,
    after: &Record,
) -> std::result::Result<(), ValidationError> {
    validate::check_doc_id(doc, after)?;
    match before {
        Some(Some(before)) => {
            validate::check_transition(before, after)?;
            validate::authorize(role.role, Some(before), after)?;
            validate::check_authors(role, Some(before), after)
        }
        // A new document, or one whose stored content is not a valid record: judge the result
        // as if it were being created.
        _ => {
            validate::check_record(after)?;
            validate::authorize(role.role, None, after)?;
            validate::check_authors(role, None, after)
        }
    }
}

#[cfg(test)]
mod tests;
