//! Notes and photos, attached to an account, a job site or a job.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::{ContentHash, NoteId, PhotoId, Timestamp, UserId};

string_enum!(
    /// What a note is about.
    NoteKind {
        /// About the site (access, hazards).
        Site = "site",
        /// What the customer asked for.
        ServiceRequest = "service_request",
        /// What the technician did.
        ServicePerformed = "service_performed",
        /// Internal only.
        Private = "private",
        /// Written by Fieldsync itself.
        System = "system",
    }
);

string_enum!(
    /// Before / after tag of a photo.
    PhotoTag { Before = "before", After = "after", Other = "other" }
);

/// A note. Notes are only ever added (each under its own key), so adding never conflicts.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Note {
    /// Note id (its key in the document's `notes` map).
    pub id: NoteId,
    /// Kind of note.
    pub kind: NoteKind,
    /// The text.
    pub text: String,
    /// Who wrote it.
    pub author: UserId,
    /// The author's display name.
    pub author_name: String,
    /// When it was written.
    pub created_at: Timestamp,
}

/// A photo's record; the image bytes are blobs addressed by content hash.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Photo {
    /// Photo id (its key in the document's `photos` map).
    pub id: PhotoId,
    /// Caption.
    pub caption: String,
    /// Before / after.
    pub tag: PhotoTag,
    /// When it was taken.
    pub taken_at: Timestamp,
    /// Who took it.
    pub author: UserId,
    /// The author's display name.
    pub author_name: String,
    /// Width of the full image in pixels.
    pub width: u32,
    /// Height of the full image in pixels.
    pub height: u32,
    /// Content hash of the full JPEG.
    pub full_hash: ContentHash,
    /// Size of the full JPEG in bytes.
    pub full_size: u64,
    /// Content hash of the thumbnail JPEG.
    pub thumb_hash: ContentHash,
    /// Size of the thumbnail in bytes.
    pub thumb_size: u64,
}

/// An alert ("pop-up note") on an account or a job site: something everyone must see before
/// working for the customer ("dog in the yard", "pays by card only, no checks"). Shown
/// prominently whenever the customer or a job there is opened, on the tablet and the office
/// page, until the office removes it.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Alert {
    /// Identifier (the key in the document's `alerts` map).
    pub id: NoteId,
    /// What to know.
    pub text: String,
    /// Who added it.
    pub author: UserId,
    /// Their display name then.
    pub author_name: String,
    /// When.
    pub created_at: Timestamp,
}

/// A file kept on an account or a job site: a site plan, a contract, a manual, a spreadsheet
/// of equipment, a picture from the customer. Its bytes are a content-hashed blob, stored and
/// moved like a photo's; the record names it. Added and removed by the office.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct FileEntry {
    /// Identifier (the key in the document's `files` map).
    pub id: NoteId,
    /// The file's name as uploaded (`site-plan.pdf`).
    pub name: String,
    /// Its media type (`application/pdf`).
    pub content_type: String,
    /// The content hash of its bytes.
    pub hash: ContentHash,
    /// Its size in bytes.
    pub size: u64,
    /// Who added it.
    pub added_by: UserId,
    /// Their name then.
    pub added_by_name: String,
    /// When.
    pub added_at: Timestamp,
}

string_enum!(
    /// How a customer was reached (or reached us).
    ContactChannel { Call = "call", Email = "email", Visit = "visit", Text = "text", Other = "other" }
);

impl ContactChannel {
    /// As people say it ("Call").
    pub fn label(self) -> &'static str {
        match self {
            ContactChannel::Call => "Call",
            ContactChannel::Email => "Email",
            ContactChannel::Visit => "Visit",
            ContactChannel::Text => "Text message",
            ContactChannel::Other => "Other",
        }
    }
}

/// One entry of a customer's contact log: a call, email or visit, who made it, when, with
/// whom, and what it was about. Kept in the account's document; like a note, added and never
/// edited or removed.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct ContactEntry {
    /// Identifier (the key in the account document's `contact_log` map).
    pub id: NoteId,
    /// When the contact happened.
    pub at: Timestamp,
    /// How.
    pub channel: ContactChannel,
    /// The customer's contact spoken to, if one of theirs.
    pub contact: Option<crate::ContactId>,
    /// What it was about.
    pub summary: String,
    /// Who made or took it.
    pub user: UserId,
    /// Their name then.
    pub user_name: String,
}
