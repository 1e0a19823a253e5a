//! Documents the tablet makes from what it holds, offline: an invoice's PDF, printed by the
//! same code as the office page's ([`fieldsync_pdf`]).

use std::path::PathBuf;

use fieldsync_protocol::InvoiceId;
use fieldsync_store::Store;

use crate::{AppError, Tablet, queries};

/// The PDF of invoice `id`, from the tablet's replica: the company the server named, the
/// customer and site, the lines, what was paid against it, the balance due and the customer's
/// signature.
pub fn invoice_pdf(store: &Store, id: InvoiceId) -> Result<Vec<u8>, AppError> {
    let view = queries::invoice_view(store, &id.to_string())?;
    let company = store.company()?;
    let signature = match &view.invoice.signature {
        Some(signed) => {
            let png = store.blob(&signed.image)?;
            Some(fieldsync_pdf::signature(signed, png.as_deref(), &company))
        }
        None => None,
    };
    Ok(fieldsync_pdf::invoice(&fieldsync_pdf::InvoiceDocument {
        company: &company,
        account: &view.account,
        site: view.site.as_ref(),
        job: &view.job,
        invoice: &view.invoice,
        standing: &view.standing,
        payments: &view.payments,
        due: view.due,
        signature,
    }))
}

/// Writes the PDF of invoice `id` beside the tablet's replica (`invoices/<number>.pdf`, made
/// anew each time, so that it shows the latest payments) and returns its path.
pub fn write_invoice_pdf(tablet: &Tablet, id: InvoiceId) -> Result<PathBuf, AppError> {
    let store = tablet.store();
    let bytes = invoice_pdf(store, id)?;
    let number = queries::invoice_view(store, &id.to_string())?
        .invoice
        .number;
    let dir = store
        .path()
        .and_then(|db| db.parent().map(|d| d.join("invoices")))
        .unwrap_or_else(|| std::env::temp_dir().join("fieldsync-invoices"));
    std::fs::create_dir_all(&dir).map_err(AppError::Files)?;
    let path = dir.join(fieldsync_pdf::file_name(&number));
    let partial = path.with_extension("pdf.part");
    std::fs::write(&partial, &bytes).map_err(AppError::Files)?;
    std::fs::rename(&partial, &path).map_err(AppError::Files)?;
    Ok(path)
}
