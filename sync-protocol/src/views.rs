//! Views derived from records, computed by the same code on every replica: balances, invoice
//! status, unapplied credit, invoice numbers and the text that search matches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{AccountDoc, Invoice, InvoiceId, JobId, Money, Payment, PaymentId};

/// Where an invoice stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Nothing paid yet.
    Pending,
    /// Some but not all paid.
    PartlyPaid,
    /// Paid in full.
    Paid,
    /// Voided; does not count.
    Void,
}

impl InvoiceStatus {
    /// Display text.
    pub fn label(&self) -> &'static str {
        match self {
            InvoiceStatus::Pending => "pending",
            InvoiceStatus::PartlyPaid => "partly paid",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }

    /// A stable key for it (`pending`, `partly_paid`, `paid`, `void`): what screens colour by,
    /// whatever the label says.
    pub fn key(&self) -> &'static str {
        match self {
            InvoiceStatus::Pending => "pending",
            InvoiceStatus::PartlyPaid => "partly_paid",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }

    /// Whether something is still owed on it: pending or partly paid (what ages and can be
    /// overdue).
    pub fn is_open(self) -> bool {
        matches!(self, InvoiceStatus::Pending | InvoiceStatus::PartlyPaid)
    }
}

/// An invoice with what has been paid against it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceStanding {
    /// The invoice total.
    pub total: Money,
    /// Payments applied to it (never more than the total).
    pub paid: Money,
    /// Its status.
    pub status: InvoiceStatus,
    /// The payments applied to it and how much of each, oldest first.
    pub payments: Vec<(PaymentId, Money)>,
}

/// An account's money: balance, credit and each invoice's standing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Non-void invoice totals minus all payments (negative when the customer is in credit).
    pub balance: Money,
    /// Payments not applied to an invoice: not tied to one, tied to a void or unknown one, or
    /// beyond what the invoice still owed.
    pub unapplied_credit: Money,
    /// Standing of every invoice.
    pub invoices: BTreeMap<InvoiceId, InvoiceStanding>,
    /// What each payment has left as credit (only payments with some left), for applying
    /// credit to an invoice later.
    pub credit_by_payment: BTreeMap<PaymentId, Money>,
}

impl Ledger {
    /// Computes an account's ledger from all its invoices and payments. The result does not
    /// depend on the order of either: payments are applied oldest first (by time received,
    /// then id), each first to its own invoice, then as its credit was applied later, never
    /// beyond what an invoice still owes; whatever is left of a payment is credit.
    pub fn compute<'a>(
        invoices: impl IntoIterator<Item = &'a Invoice>,
        payments: impl IntoIterator<Item = &'a Payment>,
    ) -> Ledger {
        let invoices: BTreeMap<InvoiceId, &Invoice> =
            invoices.into_iter().map(|i| (i.id, i)).collect();
        let mut payments: Vec<&Payment> = payments.into_iter().collect();
        payments.sort_by_key(|p| (p.received_at, p.id));
        payments.dedup_by_key(|p| p.id);
        // What each live invoice still owes while payments are applied.
        let mut owed: BTreeMap<InvoiceId, Money> = invoices
            .iter()
            .filter(|(_, i)| !i.is_void())
            .map(|(id, i)| (*id, i.total().max(Money::ZERO)))
            .collect();
        let mut total_paid = Money::ZERO;
        let mut credit_by_payment = BTreeMap::new();
        let mut applied_to: BTreeMap<InvoiceId, Vec<(PaymentId, Money)>> = BTreeMap::new();
        for payment in payments {
            total_paid = total_paid + payment.amount;
            let mut left = payment.amount;
            let targets = payment.invoice.into_iter().map(|id| (id, payment.amount));
            let later = payment.credit_applied.iter().map(|c| (c.invoice, c.amount));
            for (invoice, wanted) in targets.chain(later) {
                let Some(still_owed) = owed.get_mut(&invoice) else {
                    continue; // void or unknown: the money stays credit
                };
                let applied = wanted.min(left).min(*still_owed).max(Money::ZERO);
                if applied > Money::ZERO {
                    *still_owed = *still_owed - applied;
                    left = left - applied;
                    applied_to
                        .entry(invoice)
                        .or_default()
                        .push((payment.id, applied));
                }
            }
            if left > Money::ZERO {
                credit_by_payment.insert(payment.id, left);
            }
        }
        let mut standing = BTreeMap::new();
        let mut billed = Money::ZERO;
        for (id, invoice) in &invoices {
            let total = invoice.total();
            let (paid, status) = match owed.get(id) {
                None => (Money::ZERO, InvoiceStatus::Void),
                Some(still_owed) => {
                    billed = billed + total;
                    let paid = total.max(Money::ZERO) - *still_owed;
                    let status = if paid <= Money::ZERO {
                        InvoiceStatus::Pending
                    } else if *still_owed > Money::ZERO {
                        InvoiceStatus::PartlyPaid
                    } else {
                        InvoiceStatus::Paid
                    };
                    (paid, status)
                }
            };
            standing.insert(
                *id,
                InvoiceStanding {
                    total,
                    paid,
                    status,
                    payments: applied_to.remove(id).unwrap_or_default(),
                },
            );
        }
        Ledger {
            balance: billed - total_paid,
            unapplied_credit: credit_by_payment.values().copied().sum(),
            invoices: standing,
            credit_by_payment,
        }
    }

    /// The invoice a new payment for `job` goes to by default: the job's oldest invoice that
    /// is still owed something (by date, then number).
    pub fn open_invoice_of<'a>(
        &self,
        invoices: impl IntoIterator<Item = &'a Invoice>,
        job: JobId,
    ) -> Option<&'a Invoice> {
        invoices
            .into_iter()
            .filter(|i| i.job == job)
            .filter(|i| self.owed_on(i.id) > Money::ZERO)
            .min_by(|a, b| (a.date, &a.number).cmp(&(b.date, &b.number)))
    }

    /// What is still owed on invoice `id` (zero for a paid, void or unknown invoice).
    pub fn owed_on(&self, id: InvoiceId) -> Money {
        self.invoices
            .get(&id)
            .filter(|s| s.status.is_open())
            .map_or(Money::ZERO, |s| s.total - s.paid)
    }
}

/// When an invoice dated `date` is due under terms of `net_days` days.
pub fn due_date(date: chrono::NaiveDate, net_days: u32) -> chrono::NaiveDate {
    date + chrono::Days::new(u64::from(net_days))
}

/// How long past its due date an unpaid invoice is, as an aging report groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AgingBucket {
    /// Not due yet, or due today.
    Current,
    /// 1 to 30 days past due.
    Days1To30,
    /// 31 to 60 days past due.
    Days31To60,
    /// 61 to 90 days past due.
    Days61To90,
    /// More than 90 days past due.
    Over90,
}

impl AgingBucket {
    /// Every bucket, from current to oldest.
    pub const ALL: [AgingBucket; 5] = [
        AgingBucket::Current,
        AgingBucket::Days1To30,
        AgingBucket::Days31To60,
        AgingBucket::Days61To90,
        AgingBucket::Over90,
    ];

    /// The bucket of an invoice due on `due`, seen on `today`.
    pub fn of(due: chrono::NaiveDate, today: chrono::NaiveDate) -> AgingBucket {
        match (today - due).num_days() {
            ..=0 => AgingBucket::Current,
            1..=30 => AgingBucket::Days1To30,
            31..=60 => AgingBucket::Days31To60,
            61..=90 => AgingBucket::Days61To90,
            _ => AgingBucket::Over90,
        }
    }

    /// The bucket's heading: `current`, `1-30`, `31-60`, `61-90`, `over 90`.
    pub fn label(self) -> &'static str {
        match self {
            AgingBucket::Current => "current",
            AgingBucket::Days1To30 => "1-30",
            AgingBucket::Days31To60 => "31-60",
            AgingBucket::Days61To90 => "61-90",
            AgingBucket::Over90 => "over 90",
        }
    }
}

/// The company that uses Fieldsync, as its invoices and statements name it. Set on the server
/// (`fieldsync-server company`); tablets learn it when they connect.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    /// Its name.
    pub name: String,
    /// Its postal address, one line each.
    pub address_lines: Vec<String>,
    /// Its phone number (may be empty).
    pub phone: String,
    /// Its time zone, an IANA name (`America/Chicago`): the office page shows and reads times
    /// in it. Empty means UTC (a company set up before zones, or not yet told).
    #[serde(default)]
    pub time_zone: String,
}

/// A human invoice number that cannot collide across devices: every device has its own number
/// (given by the server when it is registered; the server itself is 0) and counts its own
/// invoices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvoiceNumber {
    /// The issuing device's number.
    pub device: u32,
    /// The device's own invoice counter, from 1.
    pub seq: u32,
}

impl std::fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "INV-{}-{:05}", self.device, self.seq)
    }
}

impl std::str::FromStr for InvoiceNumber {
    type Err = ();

    /// Reads `INV-<device>-<seq>` as [`InvoiceNumber`]'s `Display` writes it.
    fn from_str(text: &str) -> Result<Self, ()> {
        let (device, seq) = text
            .strip_prefix("INV-")
            .ok_or(())?
            .split_once('-')
            .ok_or(())?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(device) || !digits(seq) {
            return Err(());
        }
        Ok(InvoiceNumber {
            device: device.parse().map_err(|_| ())?,
            seq: seq.parse().map_err(|_| ())?,
        })
    }
}

/// The contacts to show for `job`: the current ones (not archived), the job's own contact
/// first, then those linked to the job's site, then the rest, each group in the order given.
pub fn contacts_for_job(
    job: &crate::Job,
    mut contacts: Vec<crate::Contact>,
) -> Vec<crate::Contact> {
    contacts.retain(|c| c.archived_at.is_none());
    contacts.sort_by_key(|c| (job.contact != Some(c.id), !c.sites.contains(&job.site)));
    contacts
}

/// The text that account search matches: name, type, number, email, phone, billing address,
/// contact names, emails and phones, lower-cased. Phone numbers are there as typed and as
/// digits only, so that `555-2041` and `5552041` both find `+1 541 555 2041`.
pub fn search_text(doc: &AccountDoc) -> String {
    search_text_of(&doc.record, doc.contacts.values())
}

/// [`search_text`] from the account record and its contacts.
pub fn search_text_of<'a>(
    account: &crate::Account,
    contacts: impl IntoIterator<Item = &'a crate::Contact>,
) -> String {
    let mut parts = vec![
        account.name.clone(),
        account.account_type.to_string(),
        account.party.to_string(),
        account.number.clone(),
    ];
    parts.extend(account.email.clone());
    parts.extend(account.business_type.clone());
    parts.extend(account.phone.iter().flat_map(|p| phone_forms(p)));
    parts.extend(account.billing_address.lines());
    for contact in contacts {
        parts.push(contact.name.clone());
        parts.extend(contact.email.clone());
        parts.extend(contact.phone.iter().flat_map(|p| phone_forms(p)));
    }
    parts.join(" ").to_lowercase()
}

/// The text that finds an account by one of its sites: the site's name and address.
pub fn site_search_text(site: &crate::JobSite) -> String {
    let mut parts = vec![site.name.clone()];
    parts.extend(site.address.lines());
    parts.join(" ").to_lowercase()
}

/// A phone number as typed and as its digits alone.
fn phone_forms(phone: &str) -> [String; 2] {
    [
        phone.to_string(),
        phone.chars().filter(char::is_ascii_digit).collect(),
    ]
}

/// A word of a search as it is looked up: a phone number typed with punctuation
/// (`(541)`, `555-2041`, `+1`) as its digits alone, anything else as typed.
pub fn search_word(word: &str) -> String {
    let phone_like = word
        .chars()
        .all(|c| c.is_ascii_digit() || "+-().".contains(c))
        && word.chars().filter(char::is_ascii_digit).count() >= 3;
    if phone_like {
        word.chars().filter(char::is_ascii_digit).collect()
    } else {
        word.to_string()
    }
}
