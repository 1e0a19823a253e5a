//! The forms a technician fills in: a payment, a photo.

use fieldsync_protocol::{
    AccountId, DocId, JobId, PaymentId, PaymentMethod, PhotoId, PhotoTag, SiteId,
};

/// A payment as typed on the payment form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentForm {
    /// Made when the form opens, so that tapping "Record" twice records one payment.
    pub id: PaymentId,
    /// The paying account.
    pub account: AccountId,
    /// The job paid for, if any.
    pub job: Option<JobId>,
    /// The amount as typed.
    pub amount: String,
    /// How it was paid.
    pub method: PaymentMethod,
    /// Check number or card transaction id.
    pub reference: String,
}

impl PaymentForm {
    /// A new, empty form for `account`.
    pub fn new(account: AccountId, job: Option<JobId>) -> PaymentForm {
        PaymentForm {
            id: PaymentId::new(),
            account,
            job,
            amount: String::new(),
            method: PaymentMethod::Cash,
            reference: String::new(),
        }
    }
}

/// What a photo is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoTarget {
    /// A job (its document holds the photo).
    Job(JobId),
    /// A job site.
    Site(SiteId),
}

impl PhotoTarget {
    pub(super) fn doc(self) -> DocId {
        match self {
            PhotoTarget::Job(job) => job.into(),
            PhotoTarget::Site(site) => site.into(),
        }
    }
}

/// A photo as described on the photo form (the picture itself is passed separately).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoForm {
    /// Made when the form opens, so that saving twice adds one photo.
    pub id: PhotoId,
    /// The job or site the photo belongs to.
    pub target: PhotoTarget,
    /// Caption as typed.
    pub caption: String,
    /// Before / after.
    pub tag: PhotoTag,
}

impl PhotoForm {
    /// A new form for a photo of `target`.
    pub fn new(target: PhotoTarget) -> PhotoForm {
        PhotoForm {
            id: PhotoId::new(),
            target,
            caption: String::new(),
            tag: PhotoTag::Other,
        }
    }
}

impl std::fmt::Display for PhotoTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhotoTarget::Job(job) => write!(f, "job {job}"),
            PhotoTarget::Site(site) => write!(f, "site {site}"),
        }
    }
}
