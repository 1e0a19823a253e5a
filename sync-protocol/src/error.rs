//! Errors of the protocol crate.

use crate::{DocId, DocKind};

/// A record or a change to it breaks a rule of the schema or of the writer's role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A required field is empty.
    #[error("{field} is required")]
    Required {
        /// The field.
        field: &'static str,
    },
    /// A value is not one of the listed ones.
    #[error("{field} must be one of {allowed:?}, not {value:?}")]
    NotAllowed {
        /// The field.
        field: &'static str,
        /// The value found.
        value: String,
        /// The values allowed.
        allowed: &'static [&'static str],
    },
    /// A payment amount is zero or negative.
    #[error("a payment amount must be positive, not {0}")]
    NotPositive(String),
    /// An amount has more than two decimal places.
    #[error("an amount has at most two decimal places, not {0}")]
    TooPrecise(String),
    /// A money amount that must not be negative is.
    #[error("{field} must not be negative, not {value}")]
    Negative {
        /// The field.
        field: &'static str,
        /// The value found.
        value: String,
    },
    /// An amount or quantity is beyond what any record may hold.
    #[error("{field} may be at most {limit}, not {value}")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// The value found.
        value: String,
        /// The largest allowed.
        limit: String,
    },
    /// A device's change would grow its document past [`crate::validate::MAX_DOCUMENT_BYTES`].
    #[error(
        "the document would hold {bytes} bytes, more than the {limit} one document may hold \
         (the office can start a new job or site for what follows)"
    )]
    DocumentFull {
        /// Its stored bytes with the change.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A text is longer than its field allows.
    #[error("{field} may be at most {limit} characters long, not {chars}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        chars: usize,
        /// The most allowed.
        limit: usize,
    },
    /// A device named someone else as the author of what it added.
    #[error("{what} must be the device's own user, not {named}")]
    NotTheWriter {
        /// Which field.
        what: &'static str,
        /// The user it named.
        named: String,
    },
    /// A device added an invoice numbered other than with its own device number, which would
    /// let its numbers collide with another device's.
    #[error("invoice number {number:?} is not one of this device's (INV-{device}-<n>)")]
    ForeignInvoiceNumber {
        /// The number given.
        number: String,
        /// The pushing device's number.
        device: u32,
    },
    /// A new invoice takes a number another invoice already has (a device that lost count,
    /// or forged it).
    #[error("invoice number {0:?} is already another invoice's")]
    DuplicateInvoiceNumber(String),
    /// Text that should be a decimal number is not one.
    #[error("{0:?} is not a decimal amount such as 120.50")]
    NotADecimal(String),
    /// A record's id disagrees with the id of the document holding it, or a map key with the
    /// id of the entry under it.
    #[error("{what} id {found} does not match {expected}")]
    IdMismatch {
        /// What record.
        what: &'static str,
        /// The id it must have.
        expected: String,
        /// The id it has.
        found: String,
    },
    /// A document's kind was changed.
    #[error("a document's kind never changes (was {was}, now {now})")]
    KindChanged {
        /// Kind before.
        was: DocKind,
        /// Kind after.
        now: DocKind,
    },
    /// A document's account was changed.
    #[error("a document's account never changes")]
    AccountChanged,
    /// A record that may only be added was edited or removed.
    #[error("{0} may be added but never edited or removed")]
    AppendOnly(&'static str),
    /// A scheduled window ends before it starts.
    #[error("the scheduled window ends before it starts")]
    WindowReversed,
    /// A document holds a key that its schema does not declare.
    #[error("{0} is not a field of this record")]
    Undeclared(String),
    /// A job's status may not move this way (the text says where it may go).
    #[error("{0}")]
    Lifecycle(String),
    /// An email address without an `@`.
    #[error("{0:?} is not an email address")]
    NotAnEmail(String),
    /// A custom field's definition or value is not what its type allows.
    #[error("{0}")]
    CustomField(String),
    /// The document is not shaped like any Fieldsync record.
    #[error("malformed document: {0}")]
    Malformed(String),
    /// What a person typed cannot be read as what the field holds (the text says which field
    /// and what it should look like).
    #[error("{0}")]
    Unreadable(String),
    /// The writer's role may not make this change.
    #[error("a {role} may not {action}")]
    Forbidden {
        /// The writer's role.
        role: crate::Role,
        /// What they tried.
        action: String,
    },
}

/// Bytes could not be decoded as a protocol message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is empty.
    #[error("empty frame")]
    Empty,
    /// The frame is larger than allowed.
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Frame size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The frame is not a message of this protocol.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// A document or change could not be loaded or written.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Automerge refused the bytes or the operation.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// The bytes are not an automerge change.
    #[error("not an automerge change: {0}")]
    BadChange(#[from] automerge::LoadChangeError),
    /// The document content is not valid.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A change belongs to a different document than expected.
    #[error("document {0} not found")]
    NotFound(DocId),
}

impl From<autosurgeon::ReconcileError> for DocumentError {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        DocumentError::Invalid(ValidationError::Malformed(e.to_string()))
    }
}

impl From<autosurgeon::HydrateError> for ValidationError {
    fn from(e: autosurgeon::HydrateError) -> Self {
        ValidationError::Malformed(e.to_string())
    }
}
