//! A job's page and its forms: notes, invoices created and voided.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use fieldsync_protocol::{InvoiceId, JobId, PaymentId};
use minijinja::context;
use serde::Deserialize;

use super::{
    Notice, PageError, Posted, PostedPairs, Signed, after, clerk_json, local, next_statuses,
    note_kinds, page, parse, payment_methods, typed_note_kinds,
};
use crate::AppState;
use crate::office::Paging;
use crate::office::billing::{self, InvoiceInput};
use crate::office::jobs::{self, NoteInput};

/// `GET /jobs/{id}`: the job page.
pub(in crate::routes) async fn job(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
    Query(log): Query<Paging>,
) -> Result<Response, PageError> {
    let id: JobId = parse("job", &id)?;
    let detail = jobs::detail(&state, id, log).await?;
    let technicians = jobs::technicians(&state).await?;
    let zone = crate::office::zone(&state).await?;
    Ok(page(
        "job.html",
        context! {
            clerk => clerk_json(&clerk),
            zone,
            id => id.to_string(),
            detail,
            technicians,
            statuses => next_statuses(detail.row.job.status),
            note_kinds => note_kinds(),
            typed_note_kinds => typed_note_kinds(),
            form => jobs::JobEdit::from_job(&detail.row.job, zone),
            payment_id => PaymentId::new().to_string(),
            methods => payment_methods(),
            changes_before => log.changes_before,
            error => notice.error,
        },
    ))
}

/// `POST /jobs/{id}/notes`.
pub(in crate::routes) async fn add_job_note(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(input): Posted<NoteInput>,
) -> Result<Response, PageError> {
    let id: JobId = parse("job", &id)?;
    let result = jobs::add_note(&state, &clerk, id.into(), &input)
        .await
        .map(|_| ());
    Ok(after(&format!("/jobs/{id}#notes"), result))
}

/// `POST /jobs/{id}/invoices`: the new-invoice form, its lines as rows (`description`,
/// `quantity` and `unit_price` repeated, one of each per row, in order) and `tax_rate`.
pub(in crate::routes) async fn create_invoice(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    PostedPairs(pairs): PostedPairs,
) -> Result<Response, PageError> {
    let id: JobId = parse("job", &id)?;
    let result = async {
        let field = |name: &'static str| {
            pairs
                .iter()
                .filter(move |(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut quantities = field("quantity");
        let mut prices = field("unit_price");
        let rows: Vec<(String, String, String)> = field("description")
            .map(|d| {
                (
                    d,
                    quantities.next().unwrap_or_default(),
                    prices.next().unwrap_or_default(),
                )
            })
            .collect();
        let input = InvoiceInput {
            lines: InvoiceInput::from_rows(&rows)?,
            tax_rate: field("tax_rate").next().unwrap_or_default(),
        };
        billing::create_invoice(&state, &clerk, id, &input).await
    }
    .await
    .map(|_| ());
    Ok(after(&format!("/jobs/{id}#invoices"), result))
}

/// The void form: why, and where to go back to.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct VoidForm {
    reason: String,
    back: String,
}

/// `POST /jobs/{id}/invoices/{invoice}/void`.
pub(in crate::routes) async fn void_invoice(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((id, invoice)): Path<(String, String)>,
    Posted(form): Posted<VoidForm>,
) -> Result<Response, PageError> {
    let id: JobId = parse("job", &id)?;
    let invoice: InvoiceId = parse("invoice", &invoice)?;
    let back = local(&form.back, &format!("/jobs/{id}#invoices"));
    let result = billing::void_invoice(&state, &clerk, id, invoice, &form.reason).await;
    Ok(after(&back, result))
}
