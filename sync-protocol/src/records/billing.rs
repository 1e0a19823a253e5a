//! Invoices and payments.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::{
    AccountId, ContentHash, Day, InvoiceId, JobId, Money, PaymentId, Percent, Quantity, Timestamp,
    UserId,
};

string_enum!(
    /// How a payment was made.
    PaymentMethod {
        Cash = "cash",
        Check = "check",
        Card = "card",
        BankTransfer = "bank_transfer",
        Other = "other",
    }
);

impl PaymentMethod {
    /// The method as people say it: "Cash", "Check", "Card", "Bank transfer", "Other".
    pub fn label(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "Cash",
            PaymentMethod::Check => "Check",
            PaymentMethod::Card => "Card",
            PaymentMethod::BankTransfer => "Bank transfer",
            PaymentMethod::Other => "Other",
        }
    }
}

/// One line of an invoice.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// What was sold or done.
    pub description: String,
    /// How many.
    pub quantity: Quantity,
    /// Price of one.
    pub unit_price: Money,
}

impl InvoiceLine {
    /// quantity × unit price, rounded to cents.
    pub fn amount(&self) -> Money {
        Money(self.quantity.0.saturating_mul(self.unit_price.0)).round_cents()
    }
}

/// A customer's signature on an invoice: who signed, when, and the picture of it (a small
/// PNG blob, uploaded as photos are).
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Signature {
    /// The name the signer gave.
    pub signer: String,
    /// When they signed.
    pub signed_at: Timestamp,
    /// The PNG of the signature.
    pub image: ContentHash,
    /// Its size in bytes.
    pub image_size: u64,
}

/// Why and by whom an invoice was voided.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Voided {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub by: UserId,
    /// Why.
    pub reason: String,
}

/// An invoice for a job (stored in the job's document).
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Invoice {
    /// Invoice id (its key in the job document's `invoices` map).
    pub id: InvoiceId,
    /// The job invoiced.
    pub job: JobId,
    /// Human number, unique across devices: see [`crate::InvoiceNumber`].
    pub number: String,
    /// Invoice date.
    pub date: Day,
    /// Line items.
    pub lines: Vec<InvoiceLine>,
    /// Tax rate applied to the subtotal.
    pub tax_rate: Percent,
    /// Set when voided; a void invoice does not count towards the balance.
    pub voided: Option<Voided>,
    /// The customer's signature, taken on the tablet once the invoice is issued. Absent in
    /// invoices stored before signatures were kept.
    #[autosurgeon(missing = "Default::default")]
    #[serde(default)]
    pub signature: Option<Signature>,
    /// Who created it.
    pub created_by: UserId,
    /// When it was created.
    pub created_at: Timestamp,
}

impl Invoice {
    /// Sum of the lines.
    pub fn subtotal(&self) -> Money {
        self.lines.iter().map(InvoiceLine::amount).sum()
    }

    /// Tax on the subtotal, rounded to cents.
    pub fn tax(&self) -> Money {
        let taxed = self.subtotal().0.saturating_mul(self.tax_rate.0);
        Money(taxed / rust_decimal::Decimal::ONE_HUNDRED).round_cents()
    }

    /// Subtotal plus tax.
    pub fn total(&self) -> Money {
        self.subtotal() + self.tax()
    }

    /// Whether the invoice was voided.
    pub fn is_void(&self) -> bool {
        self.voided.is_some()
    }
}

/// A payment received from a customer (a document of its own, so that two payments recorded
/// offline are two documents, and a payment delivered twice is the same document).
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Payment {
    /// Also the id of the payment's document.
    pub id: PaymentId,
    /// The paying account.
    pub account: AccountId,
    /// The job paid for, if any.
    pub job: Option<JobId>,
    /// The invoice paid, if any; payments not applied to an invoice are the account's credit.
    pub invoice: Option<InvoiceId>,
    /// Amount: positive, at most two decimal places.
    pub amount: Money,
    /// Cash, check, card, ...
    pub method: PaymentMethod,
    /// Check number or card transaction id.
    pub reference: String,
    /// When the money was received.
    pub received_at: Timestamp,
    /// Who recorded it.
    pub recorded_by: UserId,
    /// Their display name.
    pub recorded_by_name: String,
    /// What of this payment's credit (what [`Payment::invoice`] did not take) the office applied
    /// later to other invoices, oldest first. Absent in payments stored before credit could be
    /// applied.
    #[autosurgeon(missing = "Vec::new")]
    #[serde(default)]
    pub credit_applied: Vec<CreditApplied>,
}

/// Part of a payment's credit applied to an invoice after the payment was recorded.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct CreditApplied {
    /// The invoice the credit went to.
    pub invoice: InvoiceId,
    /// How much of it.
    pub amount: Money,
    /// When it was applied.
    pub at: Timestamp,
    /// Who applied it.
    pub by: UserId,
}
