//! How records are grouped into automerge documents, and how documents are created and edited.
//!
//! Four kinds of document (see ARCHITECTURE.md for why):
//! - **account**: the account, its contacts, account-level notes, alerts, contact log and files;
//! - **site**: one job site, its site notes, photos, alerts and files;
//! - **job**: one job, its notes, photos and invoices;
//! - **payment**: one payment.
//!
//! Every document's root carries `kind` and `account`, which never change: the server scopes and
//! checks every document by them without reading anything else.

use std::collections::BTreeMap;

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit, Change, ReadDoc};
use autosurgeon::{Hydrate, Reconcile};

use crate::incremental::{Edit, Touched};
use crate::records::string_enum;
use crate::{
    Account, AccountId, Alert, Author, Contact, ContactEntry, ContactId, DocId, DocumentError,
    FileEntry, Invoice, InvoiceId, Job, JobSite, Note, NoteId, Payment, Photo, PhotoId, Timestamp,
    ValidationError,
};

string_enum!(
    /// The kind of a document.
    DocKind { Account = "account", Site = "site", Job = "job", Payment = "payment" }
);

/// An account document: the account, its contacts and its account-level notes.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct AccountDoc {
    /// Always [`DocKind::Account`].
    pub kind: DocKind,
    /// The account (equal to `record.id`).
    pub account: AccountId,
    /// The account record.
    pub record: Account,
    /// Contacts by id.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub contacts: BTreeMap<ContactId, Contact>,
    /// Account-level notes by id.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub notes: BTreeMap<NoteId, Note>,
    /// Alerts on the account by id (documents made before alerts have none).
    #[autosurgeon(
        with = "autosurgeon::map_with_parseable_keys",
        missing = "BTreeMap::new"
    )]
    pub alerts: BTreeMap<NoteId, Alert>,
    /// The contact log: calls, emails and visits by id (none in documents made before it).
    #[autosurgeon(
        with = "autosurgeon::map_with_parseable_keys",
        missing = "BTreeMap::new"
    )]
    pub contact_log: BTreeMap<NoteId, ContactEntry>,
    /// Files kept on the account by id (none in documents made before them).
    #[autosurgeon(
        with = "autosurgeon::map_with_parseable_keys",
        missing = "BTreeMap::new"
    )]
    pub files: BTreeMap<NoteId, FileEntry>,
}

/// A site document: one job site with its notes and photos.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct SiteDoc {
    /// Always [`DocKind::Site`].
    pub kind: DocKind,
    /// The owning account.
    pub account: AccountId,
    /// The site record.
    pub record: JobSite,
    /// Site notes by id.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub notes: BTreeMap<NoteId, Note>,
    /// Site photos by id.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub photos: BTreeMap<PhotoId, Photo>,
    /// Alerts on the site by id (documents made before alerts have none).
    #[autosurgeon(
        with = "autosurgeon::map_with_parseable_keys",
        missing = "BTreeMap::new"
    )]
    pub alerts: BTreeMap<NoteId, Alert>,
    /// Files kept on the site by id (site plans; none in documents made before them).
    #[autosurgeon(
        with = "autosurgeon::map_with_parseable_keys",
        missing = "BTreeMap::new"
    )]
    pub files: BTreeMap<NoteId, FileEntry>,
}

/// A job document: one job with its notes, photos and invoices.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct JobDoc {
    /// Always [`DocKind::Job`].
    pub kind: DocKind,
    /// The owning account.
    pub account: AccountId,
    /// The job record.
    pub record: Job,
    /// Job notes by id.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub notes: BTreeMap<NoteId, Note>,
    /// Job photos by id.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub photos: BTreeMap<PhotoId, Photo>,
    /// Invoices for this job by id.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub invoices: BTreeMap<InvoiceId, Invoice>,
}

/// A payment document.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct PaymentDoc {
    /// Always [`DocKind::Payment`].
    pub kind: DocKind,
    /// The paying account.
    pub account: AccountId,
    /// The payment record.
    pub record: Payment,
}

/// The typed content of any document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An account document.
    Account(AccountDoc),
    /// A site document.
    Site(SiteDoc),
    /// A job document.
    Job(JobDoc),
    /// A payment document.
    Payment(PaymentDoc),
}

impl Record {
    /// A new account document's content.
    pub fn new_account(record: Account) -> Record {
        Record::Account(AccountDoc {
            kind: DocKind::Account,
            account: record.id,
            record,
            contacts: BTreeMap::new(),
            notes: BTreeMap::new(),
            alerts: BTreeMap::new(),
            contact_log: BTreeMap::new(),
            files: BTreeMap::new(),
        })
    }

    /// A new site document's content.
    pub fn new_site(record: JobSite) -> Record {
        Record::Site(SiteDoc {
            kind: DocKind::Site,
            account: record.account,
            record,
            notes: BTreeMap::new(),
            photos: BTreeMap::new(),
            alerts: BTreeMap::new(),
            files: BTreeMap::new(),
        })
    }

    /// A new job document's content.
    pub fn new_job(record: Job) -> Record {
        Record::Job(JobDoc {
            kind: DocKind::Job,
            account: record.account,
            record,
            notes: BTreeMap::new(),
            photos: BTreeMap::new(),
            invoices: BTreeMap::new(),
        })
    }

    /// A new payment document's content.
    pub fn new_payment(record: Payment) -> Record {
        Record::Payment(PaymentDoc {
            kind: DocKind::Payment,
            account: record.account,
            record,
        })
    }

    /// Reads a document's typed content.
    pub fn read(doc: &AutoCommit) -> Result<Record, ValidationError> {
        let kind: DocKind = match doc.get(automerge::ROOT, "kind") {
            Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
                automerge::ScalarValue::Str(text) => text.parse()?,
                _ => return Err(ValidationError::Malformed("kind is not text".into())),
            },
            Ok(_) => return Err(ValidationError::Required { field: "kind" }),
            Err(e) => return Err(ValidationError::Malformed(e.to_string())),
        };
        Ok(match kind {
            DocKind::Account => Record::Account(autosurgeon::hydrate(doc)?),
            DocKind::Site => Record::Site(autosurgeon::hydrate(doc)?),
            DocKind::Job => Record::Job(autosurgeon::hydrate(doc)?),
            DocKind::Payment => Record::Payment(autosurgeon::hydrate(doc)?),
        })
    }

    /// The document's kind.
    pub fn kind(&self) -> DocKind {
        match self {
            Record::Account(d) => d.kind,
            Record::Site(d) => d.kind,
            Record::Job(d) => d.kind,
            Record::Payment(d) => d.kind,
        }
    }

    /// The account the document belongs to.
    pub fn account(&self) -> AccountId {
        match self {
            Record::Account(d) => d.account,
            Record::Site(d) => d.account,
            Record::Job(d) => d.account,
            Record::Payment(d) => d.account,
        }
    }

    /// The document's notes, for the kinds that have notes.
    pub fn notes(&self) -> Option<&BTreeMap<NoteId, Note>> {
        match self {
            Record::Account(d) => Some(&d.notes),
            Record::Site(d) => Some(&d.notes),
            Record::Job(d) => Some(&d.notes),
            Record::Payment(_) => None,
        }
    }

    /// The document's photos, for the kinds that have photos.
    pub fn photos(&self) -> Option<&BTreeMap<PhotoId, Photo>> {
        match self {
            Record::Site(d) => Some(&d.photos),
            Record::Job(d) => Some(&d.photos),
            Record::Account(_) | Record::Payment(_) => None,
        }
    }

    /// The document's alerts, for an account or a site.
    pub fn alerts(&self) -> Option<&BTreeMap<NoteId, Alert>> {
        match self {
            Record::Account(d) => Some(&d.alerts),
            Record::Site(d) => Some(&d.alerts),
            _ => None,
        }
    }

    /// The files kept on the document, for an account or a site.
    pub fn files(&self) -> Option<&BTreeMap<NoteId, FileEntry>> {
        match self {
            Record::Account(d) => Some(&d.files),
            Record::Site(d) => Some(&d.files),
            _ => None,
        }
    }

    /// The document's contact log, for an account.
    pub fn contact_log(&self) -> Option<&BTreeMap<NoteId, ContactEntry>> {
        match self {
            Record::Account(d) => Some(&d.contact_log),
            _ => None,
        }
    }

    /// The document's contacts, for an account.
    pub fn contacts(&self) -> Option<&BTreeMap<ContactId, Contact>> {
        match self {
            Record::Account(d) => Some(&d.contacts),
            _ => None,
        }
    }

    /// The document's invoices, for a job.
    pub fn invoices(&self) -> Option<&BTreeMap<InvoiceId, Invoice>> {
        match self {
            Record::Job(d) => Some(&d.invoices),
            _ => None,
        }
    }

    /// The document's id (the id of its main record).
    pub fn doc_id(&self) -> DocId {
        match self {
            Record::Account(d) => d.record.id.into(),
            Record::Site(d) => d.record.id.into(),
            Record::Job(d) => d.record.id.into(),
            Record::Payment(d) => d.record.id.into(),
        }
    }

    /// Writes the content into `doc` (as it is; no checks): what [`Writer`] commits, and what
    /// checks compare a document with.
    pub fn write(&self, doc: &mut AutoCommit) -> Result<(), autosurgeon::ReconcileError> {
        match self {
            Record::Account(d) => autosurgeon::reconcile(doc, d),
            Record::Site(d) => autosurgeon::reconcile(doc, d),
            Record::Job(d) => autosurgeon::reconcile(doc, d),
            Record::Payment(d) => autosurgeon::reconcile(doc, d),
        }
    }
}

/// A document edited by [`Writer::edit_known`].
#[derive(Debug)]
pub struct Edited {
    /// The change made.
    pub change: Change,
    /// The document's content now.
    pub record: Record,
    /// The parts of the document the change wrote.
    pub touched: Touched,
}

/// Who is writing, and as which automerge actor: every change a device makes carries its
/// author in the change message and the change time in milliseconds.
#[derive(Clone, Debug)]
pub struct Writer {
    /// The automerge actor of this device.
    pub actor: ActorId,
    /// The signed-in user.
    pub author: Author,
    /// The user's role, checked before a change is made (the server checks again).
    pub role: crate::Role,
}

impl Writer {
    /// `name` (user `user`) writing as `role`, under a new random actor: what a device or an
    /// office sign-in starts with.
    pub fn new(role: crate::Role, user: crate::UserId, name: impl Into<String>) -> Writer {
        Writer {
            actor: ActorId::random(),
            author: Author {
                user,
                name: name.into(),
            },
            role,
        }
    }

    /// This writer under `actor` instead (a seeded run, or an actor already known).
    pub fn with_actor(self, actor: ActorId) -> Writer {
        Writer { actor, ..self }
    }

    /// Creates a new document holding `record`; returns it with its first change.
    pub fn create(
        &self,
        record: &Record,
        now: Timestamp,
    ) -> Result<(AutoCommit, Change), DocumentError> {
        crate::validate::check_record(record)?;
        crate::validate::authorize(self.role, None, record)?;
        let mut doc = AutoCommit::new().with_actor(self.actor.clone());
        record.write(&mut doc)?;
        let change = self.commit(&mut doc, now).ok_or_else(|| {
            DocumentError::Invalid(ValidationError::Malformed("empty document".into()))
        })?;
        Ok((doc, change))
    }

    /// Edits a document through its typed content: reads it, lets `edit` change it, checks the
    /// result against the schema and the writer's role, and commits only what changed.
    /// Returns the new change, or `None` when nothing changed.
    ///
    /// The system notes the change warrants ([`crate::system_notes`]) are added to it, with
    /// users named by id; see [`Writer::edit_named`].
    pub fn edit(
        &self,
        doc: &mut AutoCommit,
        now: Timestamp,
        edit: impl FnOnce(&mut Record) -> Result<(), ValidationError>,
    ) -> Result<Option<Change>, DocumentError> {
        self.edit_named(doc, now, &crate::system_notes::no_names, edit)
    }

    /// As [`Writer::edit`], naming users in system notes with `names` ("Assigned to Tess").
    pub fn edit_named(
        &self,
        doc: &mut AutoCommit,
        now: Timestamp,
        names: crate::system_notes::Names<'_>,
        edit: impl FnOnce(&mut Record) -> Result<(), ValidationError>,
    ) -> Result<Option<Change>, DocumentError> {
        let before = Record::read(doc)?;
        let edited = self.edit_known(doc, &before, now, names, edit)?;
        Ok(edited.map(|edited| edited.change))
    }

    /// As [`Writer::edit_named`], for a document whose content `before` is already known (a
    /// replica keeps it beside the loaded document): nothing else of the document is read, and
    /// only what the edit changed is written ([`Record::write_over`]), so the edit costs what
    /// it changes, however long the document's history. `before` must be `doc`'s content.
    pub fn edit_known(
        &self,
        doc: &mut AutoCommit,
        before: &Record,
        now: Timestamp,
        names: crate::system_notes::Names<'_>,
        edit: impl FnOnce(&mut Record) -> Result<(), ValidationError>,
    ) -> Result<Option<Edited>, DocumentError> {
        let mut after = before.clone();
        edit(&mut after)?;
        if after == *before {
            return Ok(None);
        }
        crate::system_notes::add(before, &mut after, &self.author, now, names);
        let touched = Touched::between(before, &after);
        if touched.whole {
            crate::validate::check_transition(before, &after)?;
            crate::validate::authorize(self.role, Some(before), &after)?;
        } else {
            // The parts changed, with the rules the server applies to a change by its parts
            // (the same verdict as checking the whole content: see `incremental`'s tests).
            let edit = Edit::of(&after, &touched);
            let pusher = crate::validate::Pusher::from(self.role);
            crate::validate::check_edit(before.doc_id(), pusher, before, &edit)?;
        }
        doc.set_actor(self.actor.clone());
        let touched = after.write_over(touched, doc)?;
        Ok(self.commit(doc, now).map(|change| Edited {
            change,
            record: after,
            touched,
        }))
    }

    fn commit(&self, doc: &mut AutoCommit, now: Timestamp) -> Option<Change> {
        let options = CommitOptions::default()
            .with_message(self.author.to_message())
            .with_time(now.millis());
        doc.commit_with(options)?;
        doc.get_last_local_change()
    }
}

#[cfg(test)]
pub(crate) mod tests;
