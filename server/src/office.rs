//! What office staff do: the operations behind the office JSON API and the office web pages.
//!
//! Every write goes through the same documents as a tablet's: the signed-in user's [`Clerk`]
//! reads the document, edits it through the shared [`Writer`] (schema and role checked), and
//! hands the change to group commit like any device's push, so it is validated again, stored
//! durably, and fanned out live to every tablet and office screen that may see it.
//!
//! The JSON routes (`routes/api.rs`) and the HTML pages (`routes/pages.rs`) are two thin front
//! ends over the same functions here:
//!
//! - [`accounts`]: list, search, detail (sites, contacts, jobs, invoices, payments, balance,
//!   change log), create, edit, merge, delete; sites and contacts;
//! - [`jobs`]: the day's board, job detail, create, assign, status, notes;
//! - [`billing`]: invoices (create, void) and payments (record, once per form).

pub mod accounts;
pub mod billing;
pub mod contact_log;
pub mod custom_fields;
pub mod documents;
pub mod files;
pub mod jobs;
pub mod reports;
pub mod upkeep;

use automerge::ActorId;
use fieldsync_protocol::engine::StoreOutcome;
use fieldsync_protocol::wire::DocData;
use fieldsync_protocol::{
    Author, DocId, DocumentError, Record, Role, Timestamp, UserId, ValidationError, Writer,
};
use fieldsync_store::host::DeviceContext;
use fieldsync_store::{Origin, Scope};

use crate::AppState;
use crate::db::DbError;

/// Why an office operation did not happen. Nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum OfficeError {
    /// The record does not exist (or was deleted).
    #[error("{0} not found")]
    NotFound(String),
    /// The input breaks a rule; the message says which, for the user.
    #[error("{0}")]
    Invalid(String),
    /// The operation conflicts with what is stored (a taken name, an account with jobs).
    #[error("{0}")]
    Conflict(String),
    /// The user's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A sign-in with a wrong name or password (which of the two is not said).
    #[error("wrong name or password")]
    WrongCredentials,
    /// Too many failed sign-ins for this name or from this address lately.
    #[error("too many failed sign-ins: try again in {0} s")]
    TooManyAttempts(u64),
    /// Too many sign-ins are being checked at once.
    #[error("the server is busy checking sign-ins: try again in a few seconds")]
    Busy,
    /// The database failed.
    #[error("database unavailable")]
    Db(#[from] DbError),
}

impl From<ValidationError> for OfficeError {
    fn from(e: ValidationError) -> Self {
        match e {
            ValidationError::Forbidden { .. } => OfficeError::Forbidden(e.to_string()),
            other => OfficeError::Invalid(other.to_string()),
        }
    }
}

impl From<DocumentError> for OfficeError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::Invalid(v) => v.into(),
            other => OfficeError::Invalid(other.to_string()),
        }
    }
}

impl From<fieldsync_store::StoreError> for OfficeError {
    fn from(e: fieldsync_store::StoreError) -> Self {
        OfficeError::Db(e.into())
    }
}

/// Shorthand for office results.
pub type OfficeResult<T> = Result<T, OfficeError>;

/// A signed-in office or admin user, writing as their own automerge actor.
#[derive(Clone, Debug)]
pub struct Clerk {
    /// The user.
    pub user: UserId,
    /// Their display name, stamped on what they write.
    pub name: String,
    /// Office or admin.
    pub role: Role,
    /// The automerge actor of this sign-in.
    pub actor: ActorId,
    /// The token the office page's forms carry in this session (empty outside one; see
    /// [`crate::sessions::form_token`]).
    pub form_token: String,
}

impl Clerk {
    /// A clerk for `user`, with a fresh actor.
    pub fn new(user: UserId, name: String, role: Role) -> Clerk {
        Clerk {
            user,
            name,
            role,
            actor: ActorId::random(),
            form_token: String::new(),
        }
    }

    fn writer(&self) -> Writer {
        Writer::new(self.role, self.user, self.name.clone()).with_actor(self.actor.clone())
    }

    /// The author stamped on notes and payments.
    pub fn author(&self) -> Author {
        Author {
            user: self.user,
            name: self.name.clone(),
        }
    }

    /// Whether the clerk may use the office at all (technicians use tablets).
    pub fn check_office(&self) -> OfficeResult<()> {
        if self.role == Role::Technician {
            return Err(OfficeError::Forbidden(
                "the office is for office and admin users; technicians use the tablet app".into(),
            ));
        }
        Ok(())
    }
}

/// Which page of each of a record's long lists to show (the newest by default).
#[derive(Clone, Copy, Debug, Default, serde::Deserialize)]
pub struct Paging {
    /// The change log: the entries older than this one (its id), from an "older" link.
    pub changes_before: Option<i64>,
    /// Notes: how many of the newest to skip.
    pub notes_from: Option<usize>,
    /// Photos: how many of the newest to skip.
    pub photos_from: Option<usize>,
    /// A customer's jobs: how many of the latest to skip.
    pub jobs_from: Option<usize>,
    /// A customer's invoices: how many of the latest to skip.
    pub invoices_from: Option<usize>,
    /// A customer's payments: how many of the latest to skip.
    pub payments_from: Option<usize>,
}

/// The company's time zone, as the pages and the API read and show times in it.
pub async fn zone(state: &AppState) -> OfficeResult<crate::zone::Zone> {
    Ok(state.zone().await?)
}

/// Entries of a change log shown at once.
pub const LOG_PAGE: usize = 30;

/// A page of the change log of `doc`, newest first, and the id to ask for the next (older)
/// page with, when there is one.
pub fn log_page(
    store: &fieldsync_store::Store,
    doc: DocId,
    page: Paging,
) -> Result<(Vec<fieldsync_store::Logged>, Option<i64>), fieldsync_store::StoreError> {
    let mut entries = store.change_log(doc, page.changes_before, LOG_PAGE + 1)?;
    let more = (entries.len() > LOG_PAGE).then(|| {
        entries.truncate(LOG_PAGE);
        entries[LOG_PAGE - 1].id
    });
    Ok((entries, more))
}

/// Now, as stamped on changes and records.
pub fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

/// Reads a document's typed content; `what` names it in a not-found error.
pub async fn read_record(state: &AppState, doc: DocId, what: &str) -> OfficeResult<Record> {
    let record = state.db().read(move |store| Ok(store.record(doc)?)).await?;
    record.ok_or_else(|| OfficeError::NotFound(what.to_string()))
}

/// Creates a document holding `record`, durably, through group commit.
pub async fn create(state: &AppState, clerk: &Clerk, record: &Record) -> OfficeResult<DocId> {
    let doc = record.doc_id();
    let (_, mut change) = clerk.writer().create(record, now())?;
    push(state, clerk, doc, change.bytes().to_vec()).await?;
    Ok(doc)
}

/// Edits a document through its typed content and stores the change durably; `what` names the
/// document in a not-found error. Returns whether anything changed.
pub async fn edit(
    state: &AppState,
    clerk: &Clerk,
    doc: DocId,
    what: &str,
    change: impl FnOnce(&mut Record) -> Result<(), ValidationError>,
) -> OfficeResult<bool> {
    edit_named(
        state,
        clerk,
        doc,
        what,
        &fieldsync_protocol::system_notes::no_names,
        change,
    )
    .await
}

/// As [`edit`], naming users in the system notes the change writes with `names`.
pub async fn edit_named(
    state: &AppState,
    clerk: &Clerk,
    doc: DocId,
    what: &str,
    names: fieldsync_protocol::system_notes::Names<'_>,
    change: impl FnOnce(&mut Record) -> Result<(), ValidationError>,
) -> OfficeResult<bool> {
    // The document with its content, as a reader keeps them: the edit writes only what it
    // changes, and the commit checks the change by its parts.
    let loaded = state
        .db()
        .read(move |store| Ok(store.load_with_record(doc)?))
        .await?;
    let (mut document, before) = loaded.ok_or_else(|| OfficeError::NotFound(what.to_string()))?;
    let before = match before {
        Some(before) => before,
        None => Record::read(&document).map_err(fieldsync_protocol::DocumentError::from)?,
    };
    match clerk
        .writer()
        .edit_known(&mut document, &before, now(), names, change)?
    {
        None => Ok(false),
        Some(mut edited) => {
            push(state, clerk, doc, edited.change.bytes().to_vec()).await?;
            Ok(true)
        }
    }
}

/// Stores `data` (changes of `doc`) as the clerk, through group commit like a device's push.
async fn push(state: &AppState, clerk: &Clerk, doc: DocId, data: Vec<u8>) -> OfficeResult<()> {
    let mut device = DeviceContext::new(Origin::LOCAL, clerk.role, Scope::All);
    // The clerk's actor is the clerk's: no device may write with it.
    device.owner = Some(clerk.user);
    let outcomes = state
        .commits()
        .store(
            device,
            vec![DocData {
                doc,
                data,
                attested: None,
            }],
        )
        .await?;
    match outcomes.into_iter().next() {
        Some(StoreOutcome::Stored) => Ok(()),
        Some(StoreOutcome::Refused(reason)) => Err(OfficeError::Invalid(reason)),
        Some(StoreOutcome::Deferred) | None => Err(OfficeError::Conflict(
            "the record changed while saving; try again".into(),
        )),
    }
}

/// A required text field: trimmed, and not empty.
pub(crate) fn required(field: &str, value: &str) -> OfficeResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(OfficeError::Invalid(format!("{field} is required")));
    }
    Ok(value.to_string())
}

/// An optional text field: trimmed, `None` when empty.
pub(crate) fn optional(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// An optional id field: `None` when empty, else the id, or a message naming the field.
pub(crate) fn optional_id<T: std::str::FromStr>(
    field: &str,
    text: &str,
) -> OfficeResult<Option<T>> {
    match text.trim() {
        "" => Ok(None),
        text => text
            .parse()
            .map(Some)
            .map_err(|_| OfficeError::Invalid(format!("{field} {text:?} is not a valid id"))),
    }
}

/// A required id field.
pub(crate) fn parse_id<T: std::str::FromStr>(field: &str, text: &str) -> OfficeResult<T> {
    optional_id(field, text)?.ok_or_else(|| OfficeError::Invalid(format!("{field} is required")))
}

/// Parses a field of a string-valued enum, with a message naming the field.
pub(crate) fn parse_field<T: std::str::FromStr>(field: &str, value: &str) -> OfficeResult<T> {
    value
        .trim()
        .parse()
        .map_err(|_| OfficeError::Invalid(format!("{field} {:?} is not one of the choices", value)))
}
