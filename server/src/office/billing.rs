//! Invoices (create with lines and tax, void) and payments (record once, however often the form
//! is sent).

use fieldsync_protocol::validate::{parse_invoice_line, parse_payment_amount, parse_tax_rate};
use fieldsync_protocol::{
    AccountId, Day, Invoice, InvoiceId, InvoiceLine, JobId, Money, Payment, PaymentId,
    PaymentMethod, Record, Voided,
};
use serde::Deserialize;

use super::{
    Clerk, OfficeError, OfficeResult, create, edit, now, optional_id, parse_field, parse_id,
};
use crate::AppState;

/// One invoice line as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LineInput {
    /// What was done or sold.
    pub description: String,
    /// How many (a decimal; 1 when empty).
    pub quantity: String,
    /// Price of one (a decimal amount).
    pub unit_price: String,
}

/// A new invoice as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceInput {
    /// The lines; at least one.
    pub lines: Vec<LineInput>,
    /// Tax rate in percent (`8.25`); 0 when empty.
    pub tax_rate: String,
}

impl InvoiceInput {
    /// Lines from the web form's rows, in order: one description, quantity and unit price
    /// per row (`rows`), rows left empty skipped; a row partly filled in is refused, naming it.
    pub fn from_rows(rows: &[(String, String, String)]) -> OfficeResult<Vec<LineInput>> {
        rows.iter()
            .enumerate()
            .filter(|(_, (d, q, p))| {
                !(d.trim().is_empty() && q.trim().is_empty() && p.trim().is_empty())
            })
            .map(|(i, (description, quantity, unit_price))| {
                let (description, unit_price) = (description.trim(), unit_price.trim());
                if description.is_empty() || unit_price.is_empty() {
                    return Err(OfficeError::Invalid(format!(
                        "invoice line {} needs a description and a unit price",
                        i + 1
                    )));
                }
                Ok(LineInput {
                    description: description.to_string(),
                    quantity: quantity.trim().to_string(),
                    unit_price: unit_price.to_string(),
                })
            })
            .collect()
    }
}

fn line(input: &LineInput) -> OfficeResult<InvoiceLine> {
    Ok(parse_invoice_line(
        &input.description,
        &input.quantity,
        &input.unit_price,
    )?)
}

/// Creates an invoice for job `job`; returns its id. Office invoices are numbered
/// `INV-0-<n>` (device 0 is the server), so they never collide with a tablet's.
pub async fn create_invoice(
    state: &AppState,
    clerk: &Clerk,
    job: JobId,
    input: &InvoiceInput,
) -> OfficeResult<InvoiceId> {
    clerk.check_office()?;
    let today = state.zone().await?.today();
    let lines = input
        .lines
        .iter()
        .map(line)
        .collect::<OfficeResult<Vec<_>>>()?;
    if lines.is_empty() {
        return Err(OfficeError::Invalid(
            "an invoice needs at least one line".into(),
        ));
    }
    let tax_rate = parse_tax_rate(&input.tax_rate)?;
    super::read_record(state, job.into(), "job").await?;
    let seq = state
        .db()
        .run(|store| Ok(store.write(|tx| tx.next_counter("invoice"))?))
        .await?;
    let number = fieldsync_protocol::InvoiceNumber {
        device: 0,
        seq: u32::try_from(seq)
            .map_err(|_| OfficeError::Conflict("invoice numbers ran out".into()))?,
    };
    let invoice = Invoice {
        id: InvoiceId::new(),
        job,
        number: number.to_string(),
        date: Day(today),
        lines,
        tax_rate,
        voided: None,
        signature: None,
        created_by: clerk.user,
        created_at: now(),
    };
    let id = invoice.id;
    edit(state, clerk, job.into(), "job", move |record| {
        if let Record::Job(d) = record {
            d.invoices.insert(invoice.id, invoice);
        }
        Ok(())
    })
    .await?;
    Ok(id)
}

/// Voids invoice `invoice` of job `job`, saying why. Voiding a void invoice changes nothing.
pub async fn void_invoice(
    state: &AppState,
    clerk: &Clerk,
    job: JobId,
    invoice: InvoiceId,
    reason: &str,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let Record::Job(doc) = super::read_record(state, job.into(), "job").await? else {
        return Err(OfficeError::NotFound("job".into()));
    };
    if !doc.invoices.contains_key(&invoice) {
        return Err(OfficeError::NotFound("invoice".into()));
    }
    let voided = Voided {
        at: now(),
        by: clerk.user,
        reason: match reason.trim() {
            "" => "voided by the office".to_string(),
            text => text.to_string(),
        },
    };
    edit(state, clerk, job.into(), "job", move |record| {
        if let Record::Job(d) = record
            && let Some(found) = d.invoices.get_mut(&invoice)
            && found.voided.is_none()
        {
            found.voided = Some(voided);
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// A payment as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PaymentInput {
    /// The form's id, made when the form was shown: sending the same form twice records one
    /// payment. A new id when empty.
    pub id: String,
    /// The paying account (an account id).
    pub account: String,
    /// The job paid for (a job id, or empty).
    pub job: String,
    /// The invoice paid (an invoice id, or empty).
    pub invoice: String,
    /// The amount: a positive decimal with at most two places.
    pub amount: String,
    /// `cash`, `check`, `card`, `bank_transfer` or `other`.
    pub method: String,
    /// Check number or transaction id.
    pub reference: String,
}

/// Records a payment; returns its id. Recording the same form (same id) again changes nothing.
pub async fn record_payment(
    state: &AppState,
    clerk: &Clerk,
    input: &PaymentInput,
) -> OfficeResult<PaymentId> {
    clerk.check_office()?;
    let amount = parse_payment_amount(&input.amount)?;
    let method: PaymentMethod = parse_field(
        "method",
        if input.method.trim().is_empty() {
            "check"
        } else {
            &input.method
        },
    )?;
    let account: AccountId = parse_id("customer", &input.account)?;
    let mut job: Option<JobId> = optional_id("job", &input.job)?;
    let invoice: Option<InvoiceId> = optional_id("invoice", &input.invoice)?;
    if let (None, Some(invoice)) = (job, invoice) {
        // The customer page offers the invoice alone: its job is the invoice's.
        let of_account = state
            .db()
            .read(move |store| Ok(store.invoices_for_account(account)?))
            .await?;
        job = Some(
            of_account
                .iter()
                .find(|i| i.id == invoice)
                .map(|i| i.job)
                .ok_or_else(|| {
                    OfficeError::Invalid("the invoice is not one of the customer's".into())
                })?,
        );
    }
    let id: PaymentId = optional_id("payment id", &input.id)?.unwrap_or_else(PaymentId::new);
    let payer = super::accounts::account(state, account).await?;
    if let Some(job) = job {
        match super::read_record(state, job.into(), "job").await? {
            Record::Job(d) if d.account == account => {
                if let Some(invoice) = invoice
                    && !d.invoices.contains_key(&invoice)
                {
                    return Err(OfficeError::Invalid(
                        "the invoice is not one of the job's".into(),
                    ));
                }
            }
            _ => {
                return Err(OfficeError::Invalid(format!(
                    "the job is not one of {}'s",
                    payer.name
                )));
            }
        }
    } else if invoice.is_some() {
        return Err(OfficeError::Invalid(
            "an invoice payment needs its job".into(),
        ));
    }
    let exists = state
        .db()
        .read(move |store| Ok(store.record(id.into())?.is_some()))
        .await?;
    if exists {
        return Ok(id);
    }
    let payment = Payment {
        id,
        account,
        job,
        invoice,
        amount,
        method,
        reference: input.reference.trim().to_string(),
        received_at: now(),
        recorded_by: clerk.user,
        recorded_by_name: clerk.name.clone(),
        credit_applied: Vec::new(),
    };
    create(state, clerk, &Record::new_payment(payment.clone())).await?;
    crate::payment_notes::note_payment(state, clerk, &payment).await;
    Ok(id)
}

/// Credit to apply to an invoice, as typed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreditInput {
    /// The invoice (an invoice id of the customer's).
    pub invoice: String,
    /// How much; all the invoice still owes, up to the credit, when empty.
    pub amount: String,
}

/// Applies `account`'s unapplied credit to one of its open invoices: the credit of its oldest
/// payments first, each payment's share recorded on that payment (who and when). Returns the
/// amount applied. Refused when the customer has no credit or the invoice owes nothing.
pub async fn apply_credit(
    state: &AppState,
    clerk: &Clerk,
    account: AccountId,
    input: &CreditInput,
) -> OfficeResult<Money> {
    clerk.check_office()?;
    let invoice: InvoiceId = parse_id("invoice", &input.invoice)?;
    let (ledger, invoices, payments) = state
        .db()
        .read(move |store| {
            Ok((
                store.ledger(account)?,
                store.invoices_for_account(account)?,
                store.payments_for_account(account)?,
            ))
        })
        .await?;
    let target = invoices
        .iter()
        .find(|i| i.id == invoice)
        .ok_or_else(|| OfficeError::Invalid("the invoice is not one of the customer's".into()))?;
    let owed = ledger.owed_on(invoice);
    if owed <= Money::ZERO {
        return Err(OfficeError::Invalid(format!(
            "invoice {} owes nothing",
            target.number
        )));
    }
    if ledger.unapplied_credit <= Money::ZERO {
        return Err(OfficeError::Invalid(
            "the customer has no unapplied credit".into(),
        ));
    }
    let most = owed.min(ledger.unapplied_credit);
    let amount = match input.amount.trim() {
        "" => most,
        text => parse_payment_amount(text)?,
    };
    if amount > most {
        return Err(OfficeError::Invalid(format!(
            "at most {} can be applied to {}: it owes {} and the credit is {}",
            most.grouped(),
            target.number,
            owed.grouped(),
            ledger.unapplied_credit.grouped()
        )));
    }
    let mut left = amount;
    // Oldest payment first (the store lists them by time received).
    let credits = payments
        .iter()
        .filter_map(|p| Some((p.id, ledger.credit_by_payment.get(&p.id)?)));
    for (payment, credit) in credits {
        if left <= Money::ZERO {
            break;
        }
        let share = left.min(*credit);
        left = left - share;
        let applied = fieldsync_protocol::CreditApplied {
            invoice,
            amount: share,
            at: now(),
            by: clerk.user,
        };
        edit(state, clerk, payment.into(), "payment", move |record| {
            if let Record::Payment(p) = record {
                p.record.credit_applied.push(applied);
            }
            Ok(())
        })
        .await?;
    }
    Ok(amount)
}

/// A payment amount shown as money, with two places.
pub fn format_money(amount: Money) -> String {
    format!("{:.2}", amount.0)
}
