//! The typed records of Fieldsync, as they are stored in automerge documents.
//!
//! Field names are the document keys; enums are stored as their snake_case names, money as exact
//! decimal text, times as automerge timestamps. [`crate::document`] groups them into documents.

mod account;
mod billing;
mod job;
mod note;

pub use account::{Account, AccountStatus, AccountType, Address, Contact, JobSite, Party};
pub use billing::{CreditApplied, Invoice, InvoiceLine, Payment, PaymentMethod, Signature, Voided};
pub use job::{InventoryItem, Job, JobStatus};
pub use note::{Alert, ContactChannel, ContactEntry, FileEntry, Note, NoteKind, Photo, PhotoTag};

/// Who made a change: stamped on notes, photos and payments, and carried in every automerge
/// change's message so that the change log can say who changed what.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Author {
    /// The user.
    pub user: crate::UserId,
    /// The user's display name at the time of the change.
    pub name: String,
}

impl Author {
    /// The commit message that carries this author: `<user id> <name>`.
    pub fn to_message(&self) -> String {
        format!("{} {}", self.user, self.name)
    }

    /// Parses a commit message written by [`Author::to_message`].
    pub fn from_message(message: &str) -> Option<Author> {
        let (id, name) = message.split_once(' ').unwrap_or((message, ""));
        Some(Author {
            user: id.parse().ok()?,
            name: name.to_string(),
        })
    }
}

/// Declares a string-valued enum: stored and serialized as its snake_case name, parsed strictly.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            autosurgeon::Reconcile, autosurgeon::Hydrate, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[autosurgeon(rename = $text)] #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in lifecycle / display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored name.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(crate::ValidationError::NotAllowed {
                        field: stringify!($name),
                        value: other.to_string(),
                        allowed: &[$($text),+],
                    }),
                }
            }
        }
    };
}
pub(crate) use string_enum;
