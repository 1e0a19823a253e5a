//! Customers: the list, a customer's page and its forms (edit, merge, delete, sites, contacts, notes, payments, credit), statements, invoices as PDF and the aging report.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::{AccountId, InvoiceId, PaymentId};
use minijinja::context;
use serde::Deserialize;

use super::{
    Notice, PageError, Posted, Signed, after, clerk_json, local, page, parse, payment_methods,
    render_page, see_other, typed_note_kinds,
};
use crate::AppState;
use crate::office::accounts::{self, AccountInput, ContactInput, SiteInput};
use crate::office::billing::{self, CreditInput, PaymentInput};
use crate::office::jobs::{self, NoteInput};
use crate::office::{Clerk, OfficeError, Paging};

/// `?q=&from=` of the customer list.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct SearchQuery {
    q: String,
    from: usize,
    error: String,
}

/// `GET /customers?q=`: customers, or those matching the search.
pub(in crate::routes) async fn customers(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Query(query): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let found = accounts::list(&state, Some(query.q.clone()), query.from, accounts::PAGE).await?;
    Ok(page(
        "customers.html",
        context! { clerk => clerk_json(&clerk), q => query.q, found, error => query.error },
    ))
}

/// `?day=` of the aging report.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct DayQuery {
    day: String,
}

/// `GET /reports/aging?day=`: what customers owe by days past due, as of a day (today by
/// default).
pub(in crate::routes) async fn aging(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, PageError> {
    let zone = crate::office::zone(&state).await?;
    let day = jobs::parse_day(Some(&query.day), zone)?;
    let aging = crate::office::reports::aging(&state, day).await?;
    Ok(page(
        "aging.html",
        context! { clerk => clerk_json(&clerk), aging },
    ))
}

/// `GET /reports/aging.csv?day=`: the aging report as a CSV download.
pub(in crate::routes) async fn aging_csv(
    State(state): State<AppState>,
    Signed(_): Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, PageError> {
    let zone = crate::office::zone(&state).await?;
    let day = jobs::parse_day(Some(&query.day), zone)?;
    let aging = crate::office::reports::aging(&state, day).await?;
    let disposition = format!("attachment; filename=\"aging-{day}.csv\"");
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        crate::office::reports::aging_csv(&aging),
    )
        .into_response())
}

/// A PDF, shown in the browser (`inline`) under `name`.
pub(super) fn pdf(name: &str, bytes: Vec<u8>) -> Response {
    let file = fieldsync_pdf::file_name(name);
    (
        [
            (CONTENT_TYPE, "application/pdf".to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{file}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /invoices/{id}.pdf`: the invoice as a PDF.
pub(in crate::routes) async fn invoice_pdf(
    State(state): State<AppState>,
    Signed(_): Signed,
    Path(file): Path<String>,
) -> Result<Response, PageError> {
    let id: InvoiceId = parse("invoice", file.strip_suffix(".pdf").unwrap_or(&file))?;
    let (number, bytes) = crate::office::documents::invoice_pdf(&state, id).await?;
    Ok(pdf(&number, bytes))
}

/// The period of a statement: `from` and `to` as `YYYY-MM-DD`; the last 90 days when left out.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(in crate::routes) struct Period {
    from: String,
    to: String,
}

/// `GET /customers/{id}/statement.pdf?from=&to=`: the customer's statement as a PDF.
pub(in crate::routes) async fn statement_pdf(
    State(state): State<AppState>,
    Signed(_): Signed,
    Path(id): Path<String>,
    Query(period): Query<Period>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let zone = crate::office::zone(&state).await?;
    let today = zone.today();
    let day = |text: &str, default: chrono::NaiveDate| match text.trim() {
        "" => Ok(default),
        text => jobs::parse_day(Some(text), zone),
    };
    let to = day(&period.to, today)?;
    let from = day(&period.from, to - chrono::Days::new(90))?;
    let (name, bytes) =
        crate::office::documents::statement_pdf(&state, id, from, to, today).await?;
    Ok(pdf(&format!("statement-{name}-{to}"), bytes))
}

/// `GET /customers/new`.
pub(in crate::routes) async fn new_customer(Signed(clerk): Signed) -> Response {
    customer_form(&clerk, &AccountInput::default(), None, "", StatusCode::OK)
}

pub(super) fn customer_form(
    clerk: &Clerk,
    input: &AccountInput,
    id: Option<AccountId>,
    error: &str,
    status: StatusCode,
) -> Response {
    let input = context! {
        name => input.name.clone(), party => input.party.clone(),
        account_type => input.account_type.clone(), status => input.status.clone(),
        number => input.number.clone(), phone => input.phone.clone(), email => input.email.clone(),
        website => input.website.clone(), business_type => input.business_type.clone(),
        terms_net_days => input.terms_net_days.clone(), credit_hold => input.credit_hold,
        billing_line1 => input.billing_line1.clone(), billing_line2 => input.billing_line2.clone(),
        billing_city => input.billing_city.clone(), billing_region => input.billing_region.clone(),
        billing_postal_code => input.billing_postal_code.clone(),
        billing_country => input.billing_country.clone(),
        shipping_line1 => input.shipping_line1.clone(), shipping_line2 => input.shipping_line2.clone(),
        shipping_city => input.shipping_city.clone(), shipping_region => input.shipping_region.clone(),
        shipping_postal_code => input.shipping_postal_code.clone(),
        shipping_country => input.shipping_country.clone(),
        rep => input.rep.clone(), comments => input.comments.clone(),
    };
    render_page(
        status,
        "customer_form.html",
        context! {
            clerk => clerk_json(clerk),
            input,
            id => id.map(|i| i.to_string()),
            methods => payment_methods(),
            error,
        },
    )
}

/// `POST /customers`: creates a customer, or shows the form again with what was typed.
pub(in crate::routes) async fn create_customer(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Posted(input): Posted<AccountInput>,
) -> Response {
    match accounts::create_account(&state, &clerk, &input).await {
        Ok(id) => see_other(&format!("/customers/{id}")),
        Err(OfficeError::Db(e)) => PageError(OfficeError::Db(e)).into_response(),
        Err(refused) => customer_form(
            &clerk,
            &input,
            None,
            &refused.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

/// `?merge_q=` of the customer page: the search for a customer to merge into.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct MergeSearch {
    merge_q: String,
}

/// Customers offered to merge into at once.
pub(super) const MERGE_CHOICES: usize = 20;

/// `GET /customers/{id}`: the customer page.
pub(in crate::routes) async fn customer(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
    Query(log): Query<Paging>,
    Query(merge): Query<MergeSearch>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let detail = accounts::detail(&state, id, log).await?;
    // A customer of many years has hundreds of jobs, invoices and payments: the page shows a
    // page of each, latest (and unscheduled leads) first, with links to older ones.
    let (jobs_shown, jobs_pager) = newest_first(&detail.jobs, log.jobs_from, accounts::JOBS_PAGE);
    let (invoices_shown, invoices_pager) =
        newest_first(&detail.invoices, log.invoices_from, accounts::INVOICES_PAGE);
    let (payments, payments_pager) =
        newest_first(&detail.payments, log.payments_from, accounts::PAYMENTS_PAGE);
    let (notes_shown, notes_pager) = newest_first(&detail.notes, log.notes_from, jobs::NOTES_PAGE);
    let job_titles: std::collections::HashMap<_, _> = detail
        .jobs
        .iter()
        .map(|j| (j.id, j.title.as_str()))
        .collect();
    let payments_shown: Vec<_> = payments
        .into_iter()
        .map(|p| context! { payment => p, job_title => p.job.and_then(|j| job_titles.get(&j)) })
        .collect();
    // The payment form offers the latest jobs that were not cancelled (an older job's payment
    // is recorded on that job's page), never a list of every job of many years.
    let payment_jobs: Vec<_> = detail
        .jobs
        .iter()
        .rev()
        .filter(|j| j.status != fieldsync_protocol::JobStatus::Cancelled)
        .take(accounts::JOBS_PAGE)
        .collect();
    let older_jobs = detail.jobs.len() > payment_jobs.len();
    // Customers to merge into: those found by the merge form's search, else those sharing the
    // first word of this one's name (where duplicates are); never a list of the whole company.
    let merge_q = match merge.merge_q.trim() {
        "" => detail
            .account
            .name
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        q => q.to_string(),
    };
    let others: Vec<_> = accounts::search(&state, &merge_q, MERGE_CHOICES + 1)
        .await?
        .into_iter()
        .filter(|a| a.id != id)
        .take(MERGE_CHOICES)
        .collect();
    let technicians = jobs::technicians(&state).await?;
    let defs = crate::office::custom_fields::definitions(&state).await?;
    let sites: Vec<(fieldsync_protocol::SiteId, String)> = detail
        .sites
        .iter()
        .map(|s| (s.id, s.name.clone()))
        .collect();
    let files = state
        .db()
        .read(move |store| {
            let mut files = Vec::new();
            for entry in store.files(id.into())? {
                files.push(context! { file => entry, site => "", site_name => "" });
            }
            for (site, name) in sites {
                for entry in store.files(site.into())? {
                    files.push(context! { file => entry, site => site.to_string(), site_name => name.clone() });
                }
            }
            Ok(files)
        })
        .await
        .map_err(OfficeError::from)?;
    let fields = super::custom_fields::rows(fieldsync_protocol::custom_fields::shown(
        &defs,
        &detail.account.custom_fields,
    ));
    let zone = crate::office::zone(&state).await?;
    Ok(page(
        "customer.html",
        context! {
            clerk => clerk_json(&clerk),
            zone,
            id => id.to_string(),
            fields,
            files,
            jobs_shown,
            jobs_pager,
            invoices_shown,
            invoices_pager,
            payments_shown,
            payments_pager,
            notes_shown,
            notes_pager,
            payment_jobs,
            older_jobs,
            detail,
            others,
            merge_q => merge.merge_q,
            technicians,
            today => zone.today().to_string(),
            statement_from => (zone.today() - chrono::Days::new(90)).to_string(),
            payment_id => PaymentId::new().to_string(),
            methods => payment_methods(),
            note_kinds => typed_note_kinds(),
            changes_before => log.changes_before,
            error => notice.error,
        },
    ))
}

/// A page of `items` (kept oldest first), newest first: `per_page` of them from `from`, and
/// where that page is in the list.
fn newest_first<T>(items: &[T], from: Option<usize>, per_page: usize) -> (Vec<&T>, jobs::Shown) {
    let from = from.unwrap_or(0).min(items.len());
    let shown: Vec<&T> = items.iter().rev().skip(from).take(per_page).collect();
    let pager = jobs::Shown::new(from, shown.len(), items.len(), per_page);
    (shown, pager)
}

/// `GET /customers/{id}/edit`.
pub(in crate::routes) async fn edit_customer_page(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let account = accounts::account(&state, id).await?;
    Ok(customer_form(
        &clerk,
        &AccountInput::from_account(&account),
        Some(id),
        "",
        StatusCode::OK,
    ))
}

/// `POST /customers/{id}`: saves the edit form.
pub(in crate::routes) async fn edit_customer(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(input): Posted<AccountInput>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    Ok(
        match accounts::edit_account(&state, &clerk, id, &input).await {
            Ok(()) => see_other(&format!("/customers/{id}")),
            Err(OfficeError::Db(e)) => PageError(OfficeError::Db(e)).into_response(),
            Err(refused) => customer_form(
                &clerk,
                &input,
                Some(id),
                &refused.to_string(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        },
    )
}

/// The merge form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct MergeForm {
    into: String,
}

/// `POST /customers/{id}/merge`: merges this customer into another; shows the other.
pub(in crate::routes) async fn merge_customer(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(form): Posted<MergeForm>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let result = async {
        let into: AccountId = form
            .into
            .trim()
            .parse()
            .map_err(|_| OfficeError::Invalid("choose the customer to merge into".into()))?;
        accounts::merge(&state, &clerk, id, into).await?;
        Ok(into)
    }
    .await;
    Ok(match result {
        Ok(into) => see_other(&format!("/customers/{into}")),
        Err(e) => after(&format!("/customers/{id}"), Err(e)),
    })
}

/// `POST /customers/{id}/delete`.
pub(in crate::routes) async fn delete_customer(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    Ok(match accounts::delete(&state, &clerk, id).await {
        Ok(()) => see_other("/customers"),
        Err(e) => after(&format!("/customers/{id}"), Err(e)),
    })
}

/// `POST /customers/{id}/sites`.
pub(in crate::routes) async fn add_site(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(input): Posted<SiteInput>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let result = accounts::add_site(&state, &clerk, id, &input)
        .await
        .map(|_| ());
    Ok(after(&format!("/customers/{id}#sites"), result))
}

/// `POST /customers/{id}/contacts`.
pub(in crate::routes) async fn add_contact(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(input): Posted<ContactInput>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let result = accounts::add_contact(&state, &clerk, id, &input)
        .await
        .map(|_| ());
    Ok(after(&format!("/customers/{id}#contacts"), result))
}

/// `POST /customers/{id}/notes`.
pub(in crate::routes) async fn add_customer_note(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(input): Posted<NoteInput>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let result = jobs::add_note(&state, &clerk, id.into(), &input)
        .await
        .map(|_| ());
    Ok(after(&format!("/customers/{id}#notes"), result))
}

/// The payment form of the customer and job pages: the payment, and the page to go back to.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(in crate::routes) struct PaymentForm {
    #[serde(flatten)]
    payment: PaymentInput,
    back: String,
}

/// `POST /customers/{id}/payments`: records a payment (once per form).
pub(in crate::routes) async fn record_payment(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(form): Posted<PaymentForm>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let mut input = form.payment;
    input.account = id.to_string();
    let result = billing::record_payment(&state, &clerk, &input)
        .await
        .map(|_| ());
    let back = local(&form.back, &format!("/customers/{id}#payments"));
    Ok(after(&back, result))
}

/// `POST /customers/{id}/credit`: applies the customer's unapplied credit to an invoice.
pub(in crate::routes) async fn apply_credit(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(input): Posted<CreditInput>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let result = billing::apply_credit(&state, &clerk, id, &input)
        .await
        .map(|_| ());
    Ok(after(&format!("/customers/{id}#invoices"), result))
}
