//! The forms a technician fills in: a payment, a photo.

use fieldsync_protocol::{
    AccountId, DocId, InvoiceId, Job, JobId, PaymentId, PaymentMethod, PhotoId, PhotoTag, SiteId,
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
    /// The invoice paid (one of the job's); `None` leaves the payment as the account's credit.
    /// What is paid beyond what the invoice owes is credit too.
    pub invoice: Option<InvoiceId>,
}

impl PaymentForm {
    /// A new, empty form for `account`, paid in cash and applied to no invoice (the screens
    /// preselect the account's usual method and the job's open invoice).
    pub fn new(account: AccountId, job: Option<JobId>) -> PaymentForm {
        PaymentForm {
            id: PaymentId::new(),
            account,
            job,
            amount: String::new(),
            method: PaymentMethod::Cash,
            reference: String::new(),
            invoice: None,
        }
    }
}

/// One line of an invoice as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvoiceLineForm {
    /// What was done or sold.
    pub description: String,
    /// How many, as typed (1 when empty).
    pub quantity: String,
    /// Price of one, as typed.
    pub unit_price: String,
}

/// An invoice being written on the tablet: editable until it is issued, then kept as issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceForm {
    /// Made when the form opens, so that tapping "Issue" twice issues one invoice.
    pub id: InvoiceId,
    /// The job invoiced.
    pub job: JobId,
    /// The lines, in order; blank lines are left out.
    pub lines: Vec<InvoiceLineForm>,
    /// Tax rate in percent as typed (`8.25`); 0 when empty.
    pub tax_rate: String,
}

impl InvoiceForm {
    /// A form for `job`, with a line for each service asked for and each item used (their
    /// prices to be filled in), or, when the job has a final amount and one service, that
    /// amount on its line.
    pub fn for_job(job: &Job) -> InvoiceForm {
        let one_price = job
            .final_amount
            .filter(|_| job.requested_services.len() == 1)
            .map(|amount| amount.to_string());
        let services = job
            .requested_services
            .iter()
            .map(|service| InvoiceLineForm {
                description: service.clone(),
                quantity: "1".into(),
                unit_price: one_price.clone().unwrap_or_default(),
            });
        let items = job.inventory.iter().map(|item| InvoiceLineForm {
            description: item.description.clone(),
            quantity: item.quantity.to_string(),
            unit_price: String::new(),
        });
        let mut lines: Vec<InvoiceLineForm> = services.chain(items).collect();
        if lines.is_empty() {
            lines.push(InvoiceLineForm {
                description: job.title.clone(),
                quantity: "1".into(),
                unit_price: job
                    .final_amount
                    .map(|amount| amount.to_string())
                    .unwrap_or_default(),
            });
        }
        InvoiceForm {
            id: InvoiceId::new(),
            job: job.id,
            lines,
            tax_rate: String::new(),
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

/// A customer met in the field, with the site where the work is and a job for the technician,
/// as typed on the new-customer form. The ids are made when the form opens, so that saving
/// twice makes one customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCustomerForm {
    /// The new account.
    pub account: AccountId,
    /// Its first job site.
    pub site: SiteId,
    /// The job, assigned to the technician.
    pub job: JobId,
    /// The customer's name (a person or a business).
    pub name: String,
    /// A business (else a person).
    pub business: bool,
    /// Phone, as typed (may be empty).
    pub phone: String,
    /// Email (may be empty).
    pub email: String,
    /// The site's street; also the billing address.
    pub street: String,
    /// City.
    pub city: String,
    /// State or region.
    pub region: String,
    /// Postal code.
    pub postal_code: String,
    /// What the job is.
    pub job_title: String,
}

impl NewCustomerForm {
    /// A new, empty form.
    pub fn new() -> NewCustomerForm {
        NewCustomerForm {
            account: AccountId::new(),
            site: SiteId::new(),
            job: JobId::new(),
            name: String::new(),
            business: false,
            phone: String::new(),
            email: String::new(),
            street: String::new(),
            city: String::new(),
            region: String::new(),
            postal_code: String::new(),
            job_title: String::new(),
        }
    }
}

impl Default for NewCustomerForm {
    fn default() -> Self {
        NewCustomerForm::new()
    }
}
