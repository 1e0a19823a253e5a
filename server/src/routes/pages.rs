//! The office web page: server-rendered HTML over [`crate::office`], with plain forms that post
//! and redirect back (303), and a small script (`assets/app.js`) that refreshes the live parts
//! of a page when `/api/events` says something changed.
//!
//! Every page needs an office or admin session; without one the browser is sent to `/login`.
//! A form whose input is refused comes back with the reason shown (`?error=`, or the form
//! re-rendered with what was typed); nothing of a refused form is stored.

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Duration;
use fieldsync_protocol::{
    AccountId, ContentHash, InvoiceId, JobId, JobStatus, NoteKind, PaymentId, PaymentMethod, UserId,
};
use minijinja::context;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::api::{session_token, signed_in};

pub(super) mod custom_fields;
pub(super) mod files;
pub(super) mod upkeep;
use crate::AppState;
use crate::office::accounts::{self, AccountInput, ContactInput, SiteInput};
use crate::office::billing::{self, CreditInput, InvoiceInput, PaymentInput};
use crate::office::jobs::{self, JobInput, NoteInput};
use crate::office::{Clerk, OfficeError, OfficeResult, Paging};
use crate::serving::Peer;
use crate::{sessions, templates};

/// The signed-in office or admin user of a page; without a session, a redirect to `/login`.
pub(super) struct Signed(Clerk);

impl FromRequestParts<AppState> for Signed {
    type Rejection = Redirect;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Redirect> {
        signed_in(&parts.headers, state)
            .map(Signed)
            .ok_or_else(|| Redirect::to("/login"))
    }
}

/// A posted form; a body that is not a form is a clear error page.
pub(super) struct Posted<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(value)) => Ok(Posted(value)),
            Err(rejection) => Err(PageError(OfficeError::Invalid(rejection.body_text()))),
        }
    }
}

/// A page that could not be shown: an error page with a fitting status.
pub(super) struct PageError(OfficeError);

impl From<OfficeError> for PageError {
    fn from(e: OfficeError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let api = crate::error::ApiError::from(self.0);
        api.log();
        let status = api.status();
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            s if s.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        let message = api.public_message();
        render_page(status, "error.html", context! { title, message })
    }
}

fn render_page(status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    match templates::render(name, ctx) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Something went wrong</h1><p>The page could not be drawn.</p>"),
            )
                .into_response()
        }
    }
}

fn page(name: &str, ctx: minijinja::Value) -> Response {
    render_page(StatusCode::OK, name, ctx)
}

/// `?error=` shown on a page after a refused form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Notice {
    error: String,
}

/// After a form: back to `to` when it worked; back to `to` with the reason when the input was
/// refused; an error page when the server failed.
fn after(to: &str, result: OfficeResult<()>) -> Response {
    match result {
        Ok(()) => see_other(to),
        Err(OfficeError::Db(e)) => PageError(OfficeError::Db(e)).into_response(),
        Err(refused) => {
            let (path, fragment) = to.split_once('#').unwrap_or((to, ""));
            let joiner = if path.contains('?') { '&' } else { '?' };
            let mut target = format!(
                "{path}{joiner}error={}",
                super::percent_encode(&refused.to_string())
            );
            if !fragment.is_empty() {
                target.push('#');
                target.push_str(fragment);
            }
            see_other(&target)
        }
    }
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

/// A local path to go back to (never another site): a path from the root, without `//` at
/// its start, backslashes or control characters (browsers drop tabs and newlines from a URL,
/// so `/<tab>/evil.example` would be `//evil.example`).
fn local(back: &str, default: &str) -> String {
    if back.starts_with('/')
        && !back.starts_with("//")
        && !back.contains('\\')
        && !back.chars().any(char::is_control)
    {
        back.to_string()
    } else {
        default.to_string()
    }
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, PageError> {
    text.parse()
        .map_err(|_| PageError(OfficeError::NotFound(what.to_string())))
}

fn choices(values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|v| (v.to_string(), v.replace('_', " ")))
        .collect()
}

/// The statuses a job that is `status` may be given: its own, then those it may move to.
fn next_statuses(status: JobStatus) -> Vec<(String, String)> {
    std::iter::once(status)
        .chain(status.next().iter().copied())
        .map(|s| (s.as_str().to_string(), s.label().to_string()))
        .collect()
}

/// The kinds of note a person may type (system notes are the system's).
fn typed_note_kinds() -> Vec<(String, String)> {
    let mut kinds = note_kinds();
    kinds.retain(|(kind, _)| kind != NoteKind::System.as_str());
    kinds
}

fn note_kinds() -> Vec<(String, String)> {
    choices(&[
        NoteKind::ServiceRequest.as_str(),
        NoteKind::ServicePerformed.as_str(),
        NoteKind::Site.as_str(),
        NoteKind::Private.as_str(),
        NoteKind::System.as_str(),
    ])
}

fn payment_methods() -> Vec<(String, String)> {
    choices(&[
        PaymentMethod::Check.as_str(),
        PaymentMethod::Cash.as_str(),
        PaymentMethod::Card.as_str(),
        PaymentMethod::BankTransfer.as_str(),
        PaymentMethod::Other.as_str(),
    ])
}

// ---- Sign-in -------------------------------------------------------------------------------

/// `GET /login`.
pub(super) async fn login_page() -> Response {
    page("login.html", context! { error => "", name => "" })
}

/// The sign-in form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct LoginForm {
    name: String,
    password: String,
}

/// `POST /login`: a session cookie and the board, or the form again with the reason.
pub(super) async fn login(
    State(state): State<AppState>,
    peer: Peer,
    Posted(form): Posted<LoginForm>,
) -> Response {
    match sessions::sign_in(&state, &form.name, &form.password, peer.addr).await {
        Ok(clerk) => match state.sessions().start(&state, clerk).await {
            Ok(token) => (
                StatusCode::SEE_OTHER,
                [
                    (LOCATION, "/".to_string()),
                    (SET_COOKIE, sessions::set_cookie(&token, peer.https)),
                ],
            )
                .into_response(),
            Err(e) => PageError(OfficeError::Db(e)).into_response(),
        },
        Err(OfficeError::Db(e)) => PageError(OfficeError::Db(e)).into_response(),
        Err(refused) => {
            let api = crate::error::ApiError::from(refused);
            let mut response = render_page(
                api.status(),
                "login.html",
                context! { error => api.public_message(), name => form.name },
            );
            if let Some(secs) = api.retry_after() {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, secs.into());
            }
            response
        }
    }
}

/// `POST /logout`.
pub(super) async fn logout(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = session_token(&headers) {
        state.sessions().end(&state, token).await;
    }
    (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, "/login".to_string()),
            (SET_COOKIE, sessions::clear_cookie(peer.https)),
        ],
    )
        .into_response()
}

// ---- Board ---------------------------------------------------------------------------------

/// `?day=` of the board, and an error to show.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct BoardQuery {
    day: String,
    error: String,
}

/// The header of the page script's live refreshes: the latest commit the page was told of.
const SEEN: &str = "x-fieldsync-seen";

/// `GET /`: the dispatch board of a day (today by default). A live refresh (with
/// [`SEEN`]) gets the board region alone, shared with every dispatcher refreshing the same day
/// (see [`crate::live_board`]).
pub(super) async fn board(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Query(query): Query<BoardQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    let day = jobs::parse_day(Some(&query.day))?;
    let seen = headers
        .get(SEEN)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(seen) = seen {
        let region = state
            .live_boards()
            .region(
                day,
                seen,
                || state.latest_seq(),
                || async {
                    let board = jobs::board(&state, day).await?;
                    templates::render(
                        "board_region.html",
                        context! {
                            board,
                            day => day.to_string(),
                            clerk => context! { form_token => FORM_TOKEN_SLOT },
                        },
                    )
                    .map_err(|e| {
                        tracing::error!(template = "board_region.html", error = %e, "template failed");
                        PageError(OfficeError::Invalid("the board could not be drawn".into()))
                    })
                },
            )
            .await?;
        let region = region.replace(FORM_TOKEN_SLOT, &clerk.form_token);
        return Ok(Html(region).into_response());
    }
    let board = jobs::board(&state, day).await?;
    let technicians = jobs::technicians(&state).await?;
    Ok(page(
        "board.html",
        context! {
            clerk => clerk_json(&clerk),
            board,
            day => day.to_string(),
            weekday => day.format("%A %-d %B %Y").to_string(),
            prev => (day - Duration::days(1)).to_string(),
            next => (day + Duration::days(1)).to_string(),
            technicians,
            error => query.error,
        },
    ))
}

fn clerk_json(clerk: &Clerk) -> minijinja::Value {
    context! {
        name => clerk.name.clone(),
        role => clerk.role.to_string(),
        form_token => clerk.form_token.clone(),
    }
}

/// What the shared board region carries in place of the session's form token, replaced in
/// each copy sent (the region is drawn once for every dispatcher).
const FORM_TOKEN_SLOT: &str = "FORM-TOKEN-SLOT";

/// A 403 page saying why (a request the guard refused, see `guard.rs`).
pub(super) fn forbidden(why: String) -> Response {
    PageError(OfficeError::Forbidden(why)).into_response()
}

/// The new-job form of the customer page: `place` is `<account id>:<site id>`; `back` the page
/// to go back to (the board of the job's day when none).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct NewJobForm {
    place: String,
    back: String,
    title: String,
    requested_services: String,
    day: String,
    start: String,
    end: String,
    technician: String,
    estimate: String,
}

/// `POST /jobs`: creates a job.
pub(super) async fn create_job(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Posted(form): Posted<NewJobForm>,
) -> Response {
    let (account, site) = form.place.split_once(':').unwrap_or(("", ""));
    let input = JobInput {
        account: account.to_string(),
        site: site.to_string(),
        title: form.title,
        requested_services: form.requested_services,
        day: form.day.clone(),
        start: form.start,
        end: form.end,
        technician: form.technician,
        estimate: form.estimate,
    };
    let result = jobs::create_job(&state, &clerk, &input).await.map(|_| ());
    let board = format!("/?day={}", super::percent_encode(form.day.trim()));
    after(&local(&form.back, &board), result)
}

/// An assignment form: one technician, by name or id (empty: unassign), and where to go back
/// to.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AssignForm {
    technician: String,
    back: String,
}

/// `POST /jobs/{id}/assign`.
pub(super) async fn assign(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(job): Path<String>,
    Posted(form): Posted<AssignForm>,
) -> Result<Response, PageError> {
    let job: JobId = parse("job", &job)?;
    let back = local(&form.back, &format!("/jobs/{job}"));
    let result = async {
        let technicians: Vec<UserId> = match form.technician.trim() {
            "" => Vec::new(),
            text => match text.parse() {
                Ok(id) => vec![id],
                Err(_) => vec![jobs::technician_named(&state, text).await?],
            },
        };
        jobs::assign(&state, &clerk, job, &technicians).await
    }
    .await;
    Ok(after(&back, result))
}

/// A status form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct StatusForm {
    status: String,
}

/// `POST /jobs/{id}/status`.
pub(super) async fn set_status(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(job): Path<String>,
    Posted(form): Posted<StatusForm>,
) -> Result<Response, PageError> {
    let job: JobId = parse("job", &job)?;
    let result = jobs::set_status(&state, &clerk, job, &form.status).await;
    Ok(after(&format!("/jobs/{job}"), result))
}

// ---- Customers -----------------------------------------------------------------------------

/// `?q=` of the customer list.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SearchQuery {
    q: String,
    error: String,
}

/// `GET /customers?q=`: customers, or those matching the search.
pub(super) async fn customers(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Query(query): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let found = accounts::list(&state, Some(query.q.clone())).await?;
    Ok(page(
        "customers.html",
        context! { clerk => clerk_json(&clerk), q => query.q, accounts => found, error => query.error },
    ))
}

/// `?day=` of the aging report.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DayQuery {
    day: String,
}

/// `GET /reports/aging?day=`: what customers owe by days past due, as of a day (today by
/// default).
pub(super) async fn aging(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, PageError> {
    let day = jobs::parse_day(Some(&query.day))?;
    let aging = crate::office::reports::aging(&state, day).await?;
    Ok(page(
        "aging.html",
        context! { clerk => clerk_json(&clerk), aging },
    ))
}

/// `GET /reports/aging.csv?day=`: the aging report as a CSV download.
pub(super) async fn aging_csv(
    State(state): State<AppState>,
    Signed(_): Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, PageError> {
    let day = jobs::parse_day(Some(&query.day))?;
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
fn pdf(name: &str, bytes: Vec<u8>) -> Response {
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
pub(super) async fn invoice_pdf(
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
pub(super) struct Period {
    from: String,
    to: String,
}

/// `GET /customers/{id}/statement.pdf?from=&to=`: the customer's statement as a PDF.
pub(super) async fn statement_pdf(
    State(state): State<AppState>,
    Signed(_): Signed,
    Path(id): Path<String>,
    Query(period): Query<Period>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let today = chrono::Utc::now().date_naive();
    let day = |text: &str, default: chrono::NaiveDate| match text.trim() {
        "" => Ok(default),
        text => jobs::parse_day(Some(text)),
    };
    let to = day(&period.to, today)?;
    let from = day(&period.from, to - chrono::Days::new(90))?;
    let (name, bytes) =
        crate::office::documents::statement_pdf(&state, id, from, to, today).await?;
    Ok(pdf(&format!("statement-{name}-{to}"), bytes))
}

/// `GET /customers/new`.
pub(super) async fn new_customer(Signed(clerk): Signed) -> Response {
    customer_form(&clerk, &AccountInput::default(), None, "", StatusCode::OK)
}

fn customer_form(
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
pub(super) async fn create_customer(
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
pub(super) struct MergeSearch {
    merge_q: String,
}

/// Customers offered to merge into at once.
const MERGE_CHOICES: usize = 20;

/// `GET /customers/{id}`: the customer page.
pub(super) async fn customer(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
    Query(log): Query<Paging>,
    Query(merge): Query<MergeSearch>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let detail = accounts::detail(&state, id, log).await?;
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
    let fields = custom_fields::rows(fieldsync_protocol::custom_fields::shown(
        &defs,
        &detail.account.custom_fields,
    ));
    Ok(page(
        "customer.html",
        context! {
            clerk => clerk_json(&clerk),
            id => id.to_string(),
            fields,
            files,
            detail,
            others,
            merge_q => merge.merge_q,
            technicians,
            today => chrono::Utc::now().date_naive().to_string(),
            statement_from => (chrono::Utc::now().date_naive() - chrono::Days::new(90)).to_string(),
            payment_id => PaymentId::new().to_string(),
            methods => payment_methods(),
            note_kinds => typed_note_kinds(),
            changes_before => log.changes_before,
            error => notice.error,
        },
    ))
}

/// `GET /customers/{id}/edit`.
pub(super) async fn edit_customer_page(
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
pub(super) async fn edit_customer(
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
pub(super) struct MergeForm {
    into: String,
}

/// `POST /customers/{id}/merge`: merges this customer into another; shows the other.
pub(super) async fn merge_customer(
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
pub(super) async fn delete_customer(
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
pub(super) async fn add_site(
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
pub(super) async fn add_contact(
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
pub(super) async fn add_customer_note(
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
pub(super) struct PaymentForm {
    #[serde(flatten)]
    payment: PaymentInput,
    back: String,
}

/// `POST /customers/{id}/payments`: records a payment (once per form).
pub(super) async fn record_payment(
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
pub(super) async fn apply_credit(
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

// ---- Jobs ----------------------------------------------------------------------------------

/// `GET /jobs/{id}`: the job page.
pub(super) async fn job(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
    Query(log): Query<Paging>,
) -> Result<Response, PageError> {
    let id: JobId = parse("job", &id)?;
    let detail = jobs::detail(&state, id, log).await?;
    let technicians = jobs::technicians(&state).await?;
    Ok(page(
        "job.html",
        context! {
            clerk => clerk_json(&clerk),
            id => id.to_string(),
            detail,
            technicians,
            statuses => next_statuses(detail.row.job.status),
            note_kinds => note_kinds(),
            typed_note_kinds => typed_note_kinds(),
            form => jobs::JobEdit::from_job(&detail.row.job),
            payment_id => PaymentId::new().to_string(),
            methods => payment_methods(),
            changes_before => log.changes_before,
            error => notice.error,
        },
    ))
}

/// `POST /jobs/{id}/notes`.
pub(super) async fn add_job_note(
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

/// The new-invoice form: lines as `description; quantity; unit price`, one per line.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct InvoiceForm {
    lines: String,
    tax_rate: String,
}

/// `POST /jobs/{id}/invoices`.
pub(super) async fn create_invoice(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(form): Posted<InvoiceForm>,
) -> Result<Response, PageError> {
    let id: JobId = parse("job", &id)?;
    let result = async {
        let input = InvoiceInput {
            lines: InvoiceInput::parse_lines(&form.lines)?,
            tax_rate: form.tax_rate,
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
pub(super) struct VoidForm {
    reason: String,
    back: String,
}

/// `POST /jobs/{id}/invoices/{invoice}/void`.
pub(super) async fn void_invoice(
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

// ---- Photos and assets ---------------------------------------------------------------------

/// `GET /photos/{hash}`: a stored photo or thumbnail, by content hash.
pub(super) async fn photo(
    State(state): State<AppState>,
    Signed(_): Signed,
    Path(hash): Path<String>,
) -> Result<Response, PageError> {
    let hash: ContentHash = parse("photo", &hash)?;
    let bytes = state
        .db()
        .read(move |store| Ok(store.blob(&hash)?))
        .await
        .map_err(OfficeError::from)?
        .ok_or_else(|| OfficeError::NotFound("photo".into()))?;
    let kind = if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    };
    Ok((
        [
            (CONTENT_TYPE, kind),
            // Content-addressed: the bytes under a hash never change.
            (CACHE_CONTROL, "private, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /assets/app.css`.
pub(super) async fn app_css() -> Response {
    asset("text/css; charset=utf-8", templates::APP_CSS)
}

/// `GET /assets/app.js`.
pub(super) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", templates::APP_JS)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body).into_response()
}
