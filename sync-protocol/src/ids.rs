//! Identifier newtypes. Every id is a random UUID; the ids of records that are documents
//! of their own (account, job site, job, payment) double as the id of that document.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler, reconcile::NoKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_newtype {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// The id's 16 bytes, as stored in SQLite.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// Rebuilds an id from its 16 bytes.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, uuid::Error> {
                Uuid::from_slice(bytes).map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::from_str(s).map(Self)
            }
        }

        impl Reconcile for $name {
            type Key<'a> = NoKey;
            fn reconcile<R: Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
                self.0.reconcile(reconciler)
            }
        }

        impl Hydrate for $name {
            fn hydrate_bytes(bytes: &[u8]) -> Result<Self, HydrateError> {
                Uuid::hydrate_bytes(bytes).map(Self)
            }
        }
    )*};
}

id_newtype!(
    /// The id of an automerge document (equal to the id of the record it is named after).
    DocId,
    /// A customer account; also the id of its account document.
    AccountId,
    /// A job site; also the id of its site document.
    SiteId,
    /// A contact inside an account document.
    ContactId,
    /// A job; also the id of its job document.
    JobId,
    /// A note inside an account, site or job document.
    NoteId,
    /// A photo's record inside a site or job document.
    PhotoId,
    /// An invoice inside a job document.
    InvoiceId,
    /// A payment; also the id of its payment document.
    PaymentId,
    /// A user of Fieldsync (technician, office or admin).
    UserId,
    /// A registered device (a tablet, or the server itself).
    DeviceId,
);

macro_rules! doc_id_from {
    ($($name:ident),*) => {$(
        impl From<$name> for DocId {
            fn from(id: $name) -> DocId {
                DocId(id.0)
            }
        }
    )*};
}
doc_id_from!(AccountId, SiteId, JobId, PaymentId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_bytes() {
        let id = JobId::new();
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
        assert_eq!(JobId::from_slice(id.as_bytes()).unwrap(), id);
        assert!("not-a-uuid".parse::<JobId>().is_err());
        assert_eq!(DocId::from(id).0, id.0);
    }
}
