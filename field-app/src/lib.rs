//! The core of the technician's tablet app, with no UI types in it: a local replica on the
//! tablet's own SQLite file that never waits for the network.
//!
//! # Model
//! - [`Tablet`] holds the replica ([`fieldsync_store::Store`]) and the sans-I/O sync session.
//!   Every action (change a job's status, add a note, record a payment, add a photo) is checked
//!   by the shared rules, saved locally and put in the outbox in one transaction; the outbox
//!   keeps it, across restarts, until the server acknowledges it. A refused change stays in
//!   the outbox with the server's reason.
//! - The tablet is paired with one server: its address and device token, and the technician
//!   using it, kept in the replica file ([`Tablet::pair`], [`Tablet::open_paired`]); signing
//!   out ([`Tablet::sign_out`]) is refused while changes wait to be sent.
//! - [`photo`] turns a picture into a downscaled, upright JPEG and a thumbnail; both are kept as
//!   blobs on the tablet and queued for a resumable upload ([`Tablet::add_photo`]).
//! - [`net`] is the only part that touches the network: a WebSocket client (tokio-tungstenite)
//!   that drives the session, reconnecting with jittered exponential backoff. It syncs once
//!   until caught up ([`net::sync_until_caught_up`], the command line's `sync`) or keeps the
//!   tablet in sync in the background ([`net::SyncService`], the UI).
//! - [`SyncStatus`] is what the sync bar shows; [`queries`] are the read-side view models of the
//!   screens.
//! - The `fieldsync` binary (`src/bin/fieldsync/`) is the headless front end on this core,
//!   for scripts and tests; the Slint UI is the `fieldsync-app-ui` package.
//!
//! # A typical flow
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use fieldsync_app::{Tablet, net};
//! use fieldsync_protocol::{Author, JobId, NoteKind, Timestamp, UserId};
//!
//! let path = std::path::Path::new("tablet.sqlite3");
//! let author = Author { user: UserId::new(), name: "Tess".into() };
//! let tablet = Tablet::pair(path, "http://10.0.0.5:8080", "fsd_...", author)?;
//! let shared = net::shared(tablet);
//! net::sync_until_caught_up(&shared, net::SyncLimits::default()).await?; // first download
//! // Later, with no network at all: saved locally, queued in the outbox.
//! let job: JobId = "6f1d0c8e-0000-4000-8000-000000000000".parse()?;
//! let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis()).unwrap();
//! net::lock(&shared).add_job_note(now, job, NoteKind::ServicePerformed, "Replaced the pump")?;
//! // Back in coverage: pushed, acknowledged, and the office's changes come down.
//! net::sync_until_caught_up(&shared, net::SyncLimits::default()).await?;
//! # Ok(())
//! # }
//! ```

pub mod documents;
pub mod files;
pub mod net;
pub mod photo;
pub mod queries;
pub mod signature;
mod status;
mod tablet;
mod transfer;

pub use status::{RefusedChange, SyncStatus};
pub use tablet::{
    InvoiceForm, InvoiceLineForm, NewCustomerForm, PaymentForm, PhotoForm, PhotoTarget, Tablet,
    check_device_token,
};

use fieldsync_protocol::ValidationError;
use fieldsync_store::StoreError;

/// What can go wrong with a tablet action.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input breaks a rule (shown to the technician as is).
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The record is not on this tablet.
    #[error("{0} is not on this tablet")]
    NotFound(String),
    /// The local store failed.
    #[error("local storage: {0}")]
    Store(#[from] StoreError),
    /// A document operation failed.
    #[error("{0}")]
    Document(#[from] fieldsync_protocol::DocumentError),
    /// The picture cannot be made into a photo.
    #[error("{0}")]
    Photo(#[from] photo::PhotoError),
    /// The tablet is not paired with a server yet.
    #[error(
        "this tablet is not paired with a server yet: pair it with the server's address and a device token"
    )]
    NotPaired,
    /// The pairing details are not usable.
    #[error("cannot pair: {0}")]
    BadPairing(String),
    /// Signing out (or pairing as another technician) is refused while changes wait to be
    /// sent.
    #[error("{0} changes are not on the server yet: sync them first")]
    UnsentChanges(usize),
    /// The tablet cannot number an invoice: the server has not told it its device number yet.
    #[error(
        "this tablet has no invoice numbers yet: connect to the server once (sync) so that it \
         gives this tablet its number"
    )]
    NoDeviceNumber,
    /// A file the tablet writes (a PDF) could not be written.
    #[error("cannot write the file: {0}")]
    Files(#[source] std::io::Error),
    /// The tablet's files could not be removed when signing out.
    #[error("cannot remove the tablet's data: {0}")]
    SignOut(#[source] std::io::Error),
}
