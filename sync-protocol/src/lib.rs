//! Fieldsync's shared core: typed records on automerge documents, the wire protocol, and the
//! sans-I/O sync engine used by both the server and the tablet.
//!
//! # Model
//! Every customer-facing record lives in an automerge document ([`document`]): one document per
//! account (with its contacts and account notes), per job site, per job (with its notes, photos
//! and invoices) and per payment. Records are typed structs ([`records`]) read and written with
//! autosurgeon, so concurrent edits merge field by field. Every change is checked by the same
//! rules on every replica ([`validate`]), and money and search are derived by the same code
//! everywhere ([`views`]).
//!
//! # A typical flow
//! 1. A technician records a payment: the app builds a [`Payment`], calls [`Writer::create`],
//!    and stores the returned document and change locally (the outbox).
//! 2. The [`engine::ClientSession`] pushes the change ([`wire::ClientMessage::Push`]) as soon as
//!    there is a connection.
//! 3. The server's [`engine::ServerSession`] asks its host to validate and store it, and
//!    acknowledges only once the host reports the commit durable.
//! 4. Other sessions are notified of the new sequence number and send the change to their
//!    devices ([`wire::ServerMessage::Changes`]); each device applies it and advances its cursor.

pub mod blob;
pub mod changelog;
pub mod chunks;
pub mod custom_fields;
pub mod document;
pub mod engine;
mod error;
mod fingerprint;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
mod ids;
pub mod incremental;
pub mod records;
pub mod system_notes;
pub mod validate;
mod values;
pub mod views;
pub mod wire;

pub use blob::ContentHash;
pub use document::{AccountDoc, DocKind, Edited, JobDoc, PaymentDoc, Record, SiteDoc, Writer};
pub use error::{DecodeError, DocumentError, ValidationError};
pub use fingerprint::Fingerprint;
pub use ids::{
    AccountId, ContactId, DeviceId, DocId, InvoiceId, JobId, NoteId, PaymentId, PhotoId, SiteId,
    UserId,
};
pub use records::*;
pub use validate::Role;
pub use values::{Day, Money, Percent, Quantity, Timestamp};
pub use views::{AgingBucket, Company, InvoiceNumber, InvoiceStatus, Ledger, due_date};

pub use automerge;
