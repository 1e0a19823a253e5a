//! Invoice and statement PDFs for the office page, printed by the same code as the tablet's
//! ([`fieldsync_pdf`]).

use chrono::NaiveDate;
use fieldsync_protocol::{AccountId, InvoiceId, Record};

use super::{OfficeError, OfficeResult};
use crate::AppState;

/// The PDF of invoice `id`, and its number (for the file name).
pub async fn invoice_pdf(state: &AppState, id: InvoiceId) -> OfficeResult<(String, Vec<u8>)> {
    state
        .db()
        .read(move |store| {
            let Some(invoice) = store.invoice_with_id(id)?.pop() else {
                return Ok(None);
            };
            let Some(Record::Job(job)) = store.record(invoice.job.into())? else {
                return Ok(None);
            };
            let Some(Record::Account(account)) = store.record(job.account.into())? else {
                return Ok(None);
            };
            let site = match store.record(job.record.site.into())? {
                Some(Record::Site(site)) => Some(site.record),
                _ => None,
            };
            let ledger = store.ledger(job.account)?;
            let Some(standing) = ledger.invoices.get(&id) else {
                return Ok(None);
            };
            let mut payments = Vec::new();
            for (payment, applied) in &standing.payments {
                if let Some(Record::Payment(p)) = store.record((*payment).into())? {
                    payments.push((p.record, *applied));
                }
            }
            let company = store.company()?;
            let due = fieldsync_protocol::due_date(invoice.date.0, account.record.terms_net_days);
            let signature = match &invoice.signature {
                Some(signed) => {
                    let png = store.blob(&signed.image)?;
                    Some(fieldsync_pdf::signature(signed, png.as_deref(), &company))
                }
                None => None,
            };
            let bytes = fieldsync_pdf::invoice(&fieldsync_pdf::InvoiceDocument {
                company: &company,
                account: &account.record,
                site: site.as_ref(),
                job: &job.record,
                invoice: &invoice,
                standing,
                payments: &payments,
                due,
                signature,
            });
            Ok(Some((invoice.number, bytes)))
        })
        .await?
        .ok_or_else(|| OfficeError::NotFound("invoice".into()))
}

/// The statement PDF of `account` for the days `from` to `to`, issued `today`, and the
/// account's name (for the file name).
pub async fn statement_pdf(
    state: &AppState,
    account: AccountId,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> OfficeResult<(String, Vec<u8>)> {
    if to < from {
        return Err(OfficeError::Invalid(format!(
            "the statement's period ends ({to}) before it starts ({from})"
        )));
    }
    state
        .db()
        .read(move |store| {
            let Some(Record::Account(doc)) = store.record(account.into())? else {
                return Ok(None);
            };
            let invoices = store.invoices_for_account(account)?;
            let payments = store.payments_for_account(account)?;
            let ledger = fieldsync_protocol::Ledger::compute(&invoices, &payments);
            let company = store.company()?;
            let bytes = fieldsync_pdf::statement(&fieldsync_pdf::StatementDocument {
                company: &company,
                account: &doc.record,
                invoices: &invoices,
                payments: &payments,
                ledger: &ledger,
                from,
                to,
                today,
            });
            Ok(Some((doc.record.name, bytes)))
        })
        .await?
        .ok_or_else(|| OfficeError::NotFound("account".into()))
}
