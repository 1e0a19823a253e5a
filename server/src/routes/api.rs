//! The office JSON API: thin handlers over [`crate::office`]. Every route but sign-in needs an
//! office or admin session cookie; every error is `{"error": "..."}` with a fitting status.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::{AccountId, ContactId, DocId, InvoiceId, JobId, NoteId, SiteId, UserId};
use futures_util::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::office::accounts::{self, AccountInput, ContactInput, SiteInput};
use crate::office::billing::{self, CreditInput, InvoiceInput, PaymentInput};
use crate::office::contact_log::{self, ContactLogInput, ReportFilter};
use crate::office::custom_fields::{self, FieldInput};
use crate::office::jobs::{self, JobEdit, JobFilter, JobInput, NoteInput};
use crate::office::upkeep::{self, ContactEdit};
use crate::office::{Clerk, Paging};
use crate::serving::Peer;
use crate::sessions;

/// The signed-in office or admin user of a request (its session cookie).
pub(crate) struct Signed(pub Clerk);

impl FromRequestParts<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        signed_in(&parts.headers, state)
            .map(Signed)
            .ok_or(ApiError::Unauthorized)
    }
}

/// The clerk of the live session whose cookie is in `headers`, if any.
pub(crate) fn signed_in(headers: &HeaderMap, state: &AppState) -> Option<Clerk> {
    sessions::token(headers).and_then(|token| state.sessions().clerk(&token))
}

/// A JSON request body whose rejection is a JSON error saying what is wrong with it.
pub(crate) struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// Parses an id from a path segment.
pub(crate) fn id<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::BadRequest(format!("{what} id {text:?} is not valid")))
}

/// Sign-in details.
#[derive(Deserialize)]
pub(super) struct Credentials {
    name: String,
    password: String,
}

/// `POST /api/login`: signs in; sets the session cookie.
pub(super) async fn login(
    State(state): State<AppState>,
    peer: Peer,
    Body(credentials): Body<Credentials>,
) -> Result<Response, ApiError> {
    // A wrong name or password is a 401 that says so (ApiError::BadCredentials); too many
    // failures a 429 that says when to try again.
    let clerk =
        sessions::sign_in(&state, &credentials.name, &credentials.password, peer.addr).await?;
    let body = me_json(&clerk);
    let token = state.sessions().start(&state, clerk).await?;
    Ok((
        [(SET_COOKIE, sessions::set_cookie(&token, peer.https))],
        Json(body),
    )
        .into_response())
}

/// `?day=` of a report.
#[derive(Deserialize)]
pub(super) struct DayQuery {
    day: Option<String>,
}

/// `GET /api/reports/aging?day=`: what each customer owes by days past due.
pub(super) async fn aging(
    State(state): State<AppState>,
    Signed(_): Signed,
    Query(query): Query<DayQuery>,
) -> Result<Json<Value>, ApiError> {
    let zone = crate::office::zone(&state).await?;
    let day = crate::office::jobs::parse_day(query.day.as_deref(), zone)?;
    let aging = crate::office::reports::aging(&state, day).await?;
    Ok(Json(json!(aging)))
}

/// `POST /api/logout`: ends the session.
pub(super) async fn logout(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
) -> Response {
    state.sessions().sign_out(&state, &headers).await;
    (
        [(SET_COOKIE, sessions::clear_cookie(peer.https))],
        Json(json!({"signed_out": true})),
    )
        .into_response()
}

fn me_json(clerk: &Clerk) -> Value {
    json!({"id": clerk.user, "name": clerk.name, "role": clerk.role.to_string()})
}

/// `GET /api/me`: who is signed in.
pub(super) async fn me(Signed(clerk): Signed) -> Json<Value> {
    Json(me_json(&clerk))
}

/// `?q=` of account lists.
#[derive(Deserialize)]
pub(super) struct Search {
    q: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

/// `GET /api/accounts?q=&offset=&limit=`: accounts, or those matching `q`, by name: a page of
/// `limit` (100 unless said, at most 500) from `offset`, with `total`, `next` and `previous`.
pub(super) async fn list_accounts(
    State(state): State<AppState>,
    Signed(_): Signed,
    Query(search): Query<Search>,
) -> Result<Json<Value>, ApiError> {
    let found = accounts::list(
        &state,
        search.q,
        search.offset.unwrap_or(0),
        search.limit.unwrap_or(accounts::PAGE),
    )
    .await?;
    Ok(Json(json!(found)))
}

/// `POST /api/accounts`: creates an account.
pub(super) async fn create_account(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Body(input): Body<AccountInput>,
) -> Result<Response, ApiError> {
    let id = accounts::create_account(&state, &clerk, &input).await?;
    Ok(created(json!({ "id": id })))
}

fn created(body: Value) -> Response {
    (axum::http::StatusCode::CREATED, Json(body)).into_response()
}

/// `GET /api/accounts/{id}`: the customer page's data.
pub(super) async fn get_account(
    State(state): State<AppState>,
    Signed(_): Signed,
    Path(account): Path<String>,
    Query(log): Query<Paging>,
) -> Result<Json<accounts::AccountDetail>, ApiError> {
    let account: AccountId = id("account", &account)?;
    Ok(Json(accounts::detail(&state, account, log).await?))
}

/// `PUT /api/accounts/{id}`: edits an account (the whole form).
pub(super) async fn edit_account(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
    Body(input): Body<AccountInput>,
) -> Result<Json<Value>, ApiError> {
    let account: AccountId = id("account", &account)?;
    accounts::edit_account(&state, &clerk, account, &input).await?;
    Ok(Json(json!({ "id": account })))
}

/// `DELETE /api/accounts/{id}`: deletes an account with no jobs or payments.
pub(super) async fn delete_account(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account: AccountId = id("account", &account)?;
    accounts::delete(&state, &clerk, account).await?;
    Ok(Json(json!({ "deleted": account })))
}

/// Body of a merge.
#[derive(Deserialize)]
pub(super) struct MergeInput {
    into: String,
}

/// `POST /api/accounts/{id}/merge`: merges the account into `into`.
pub(super) async fn merge_account(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
    Body(input): Body<MergeInput>,
) -> Result<Json<Value>, ApiError> {
    let source: AccountId = id("account", &account)?;
    let target: AccountId = id("account", &input.into)?;
    accounts::merge(&state, &clerk, source, target).await?;
    Ok(Json(json!({ "merged": source, "into": target })))
}

/// `POST /api/accounts/{id}/sites`: adds a job site.
pub(super) async fn add_site(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
    Body(input): Body<SiteInput>,
) -> Result<Response, ApiError> {
    let account: AccountId = id("account", &account)?;
    let site = accounts::add_site(&state, &clerk, account, &input).await?;
    Ok(created(json!({ "id": site })))
}

/// `POST /api/accounts/{id}/contacts`: adds a contact.
pub(super) async fn add_contact(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
    Body(input): Body<ContactInput>,
) -> Result<Response, ApiError> {
    let account: AccountId = id("account", &account)?;
    let contact = accounts::add_contact(&state, &clerk, account, &input).await?;
    Ok(created(json!({ "id": contact })))
}

/// `GET /api/technicians`: every technician.
pub(super) async fn technicians(
    State(state): State<AppState>,
    Signed(_): Signed,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "technicians": jobs::technicians(&state).await? }),
    ))
}

/// `GET /api/jobs?day=&technician=&status=`: the jobs of a day (today by default).
pub(super) async fn list_jobs(
    State(state): State<AppState>,
    Signed(_): Signed,
    Query(filter): Query<JobFilter>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "jobs": jobs::list(&state, &filter).await? })))
}

/// `GET /api/board?day=`: the dispatch board of a day.
pub(super) async fn board(
    State(state): State<AppState>,
    Signed(_): Signed,
    Query(filter): Query<JobFilter>,
) -> Result<Json<jobs::Board>, ApiError> {
    let zone = crate::office::zone(&state).await?;
    let day = jobs::parse_day(filter.day.as_deref(), zone)?;
    Ok(Json(jobs::board(&state, day, zone).await?))
}

/// `POST /api/jobs`: creates a job.
pub(super) async fn create_job(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Body(input): Body<JobInput>,
) -> Result<Response, ApiError> {
    let job = jobs::create_job(&state, &clerk, &input).await?;
    Ok(created(json!({ "id": job })))
}

/// `GET /api/jobs/{id}`: the job page's data.
pub(super) async fn get_job(
    State(state): State<AppState>,
    Signed(_): Signed,
    Path(job): Path<String>,
    Query(log): Query<Paging>,
) -> Result<Json<jobs::JobDetail>, ApiError> {
    let job: JobId = id("job", &job)?;
    Ok(Json(jobs::detail(&state, job, log).await?))
}

/// Body of an assignment.
#[derive(Deserialize)]
pub(super) struct AssignInput {
    technicians: Vec<String>,
}

/// `POST /api/jobs/{id}/assign`: assigns the job to exactly these technicians.
pub(super) async fn assign_job(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(job): Path<String>,
    Body(input): Body<AssignInput>,
) -> Result<Json<Value>, ApiError> {
    let job: JobId = id("job", &job)?;
    let users = input
        .technicians
        .iter()
        .map(|t| id::<UserId>("technician", t))
        .collect::<Result<Vec<_>, _>>()?;
    jobs::assign(&state, &clerk, job, &users).await?;
    Ok(Json(json!({ "id": job, "technicians": users })))
}

/// Body of a status change.
#[derive(Deserialize)]
pub(super) struct StatusInput {
    status: String,
}

/// `POST /api/jobs/{id}/status`: changes the job's status.
pub(super) async fn set_job_status(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(job): Path<String>,
    Body(input): Body<StatusInput>,
) -> Result<Json<Value>, ApiError> {
    let job: JobId = id("job", &job)?;
    jobs::set_status(&state, &clerk, job, &input.status).await?;
    Ok(Json(json!({ "id": job, "status": input.status.trim() })))
}

/// Body of a new note: what it is on, and the note.
#[derive(Deserialize)]
pub(super) struct NoteTarget {
    /// The account, site or job (its document id).
    on: String,
    #[serde(flatten)]
    note: NoteInput,
}

/// `POST /api/notes`: adds a note to an account, site or job.
pub(super) async fn add_note(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Body(input): Body<NoteTarget>,
) -> Result<Response, ApiError> {
    let doc: DocId = id("record", &input.on)?;
    let note = jobs::add_note(&state, &clerk, doc, &input.note).await?;
    Ok(created(json!({ "id": note })))
}

/// `POST /api/jobs/{id}/invoices`: creates an invoice with lines and tax.
pub(super) async fn create_invoice(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(job): Path<String>,
    Body(input): Body<InvoiceInput>,
) -> Result<Response, ApiError> {
    let job: JobId = id("job", &job)?;
    let invoice = billing::create_invoice(&state, &clerk, job, &input).await?;
    Ok(created(json!({ "id": invoice })))
}

/// Body of a void.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct VoidInput {
    reason: String,
}

/// `POST /api/jobs/{id}/invoices/{invoice}/void`: voids an invoice.
pub(super) async fn void_invoice(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((job, invoice)): Path<(String, String)>,
    Body(input): Body<VoidInput>,
) -> Result<Json<Value>, ApiError> {
    let job: JobId = id("job", &job)?;
    let invoice: InvoiceId = id("invoice", &invoice)?;
    billing::void_invoice(&state, &clerk, job, invoice, &input.reason).await?;
    Ok(Json(json!({ "voided": invoice })))
}

/// `POST /api/accounts/{id}/credit`: applies the customer's unapplied credit to one of its
/// invoices (`{"invoice": id, "amount": "50.00"}`; all it can when `amount` is left out).
pub(super) async fn apply_credit(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
    Body(input): Body<CreditInput>,
) -> Result<Json<Value>, ApiError> {
    let account: AccountId = id("account", &account)?;
    let applied = billing::apply_credit(&state, &clerk, account, &input).await?;
    Ok(Json(json!({ "applied": applied })))
}

/// `POST /api/payments`: records a payment (once per form id).
pub(super) async fn record_payment(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Body(input): Body<PaymentInput>,
) -> Result<Response, ApiError> {
    let payment = billing::record_payment(&state, &clerk, &input).await?;
    Ok(created(json!({ "id": payment })))
}

/// `GET /api/events`: server-sent events, one `change` event per commit seen:
/// `{"seq": n, "changes": [{"doc": id, "account": id}, ...]}`, or `"changes": null` when the
/// reader fell too far behind to be told exactly (reload everything). Ends at shutdown.
pub(super) async fn events(
    State(state): State<AppState>,
    Signed(_): Signed,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut latest = state.latest();
    let seen = *latest.borrow_and_update();
    let stopping = state.stopping();
    let stream = futures_util::stream::unfold(
        (state, latest, stopping, seen),
        |(state, mut latest, mut stopping, seen)| async move {
            if *stopping.borrow() {
                return None;
            }
            tokio::select! {
                changed = latest.changed() => changed.ok()?,
                _ = stopping.changed() => return None,
            }
            let seq = *latest.borrow_and_update();
            let changes = state.recent().touched(seen).map(|(docs, _)| {
                docs.into_iter()
                    .map(|(doc, account)| json!({ "doc": doc, "account": account }))
                    .collect::<Vec<_>>()
            });
            let event = Event::default()
                .event("change")
                .data(json!({ "seq": seq, "changes": changes }).to_string());
            Some((Ok(event), (state, latest, stopping, seq)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// `PUT /api/jobs/{id}`: edits the job's details (every field of the body, as on the page).
pub(super) async fn edit_job(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(job): Path<String>,
    Body(input): Body<JobEdit>,
) -> Result<Json<Value>, ApiError> {
    let job: JobId = id("job", &job)?;
    jobs::edit_job(&state, &clerk, job, &input).await?;
    Ok(Json(json!({ "id": job })))
}

/// `PUT /api/sites/{id}`: edits a site's name, address and access instructions.
pub(super) async fn edit_site(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(site): Path<String>,
    Body(input): Body<SiteInput>,
) -> Result<Json<Value>, ApiError> {
    let site: SiteId = id("site", &site)?;
    upkeep::edit_site(&state, &clerk, site, &input).await?;
    Ok(Json(json!({ "id": site })))
}

/// Body of an archive request.
#[derive(Deserialize)]
pub(super) struct ArchiveInput {
    /// `true` to archive, `false` to restore.
    archived: bool,
}

/// `POST /api/sites/{id}/archive`: archives (or restores) a site.
pub(super) async fn archive_site(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(site): Path<String>,
    Body(input): Body<ArchiveInput>,
) -> Result<Json<Value>, ApiError> {
    let site: SiteId = id("site", &site)?;
    upkeep::archive_site(&state, &clerk, site, input.archived).await?;
    Ok(Json(json!({ "id": site, "archived": input.archived })))
}

/// `PUT /api/accounts/{id}/contacts/{contact}`: edits a contact and the sites it is linked to.
pub(super) async fn edit_contact(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((account, contact)): Path<(String, String)>,
    Body(input): Body<ContactEdit>,
) -> Result<Json<Value>, ApiError> {
    let account: AccountId = id("account", &account)?;
    let contact: ContactId = id("contact", &contact)?;
    upkeep::edit_contact(&state, &clerk, account, contact, &input).await?;
    Ok(Json(json!({ "id": contact })))
}

/// `POST /api/accounts/{id}/contacts/{contact}/archive`: archives (or restores) a contact.
pub(super) async fn archive_contact(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((account, contact)): Path<(String, String)>,
    Body(input): Body<ArchiveInput>,
) -> Result<Json<Value>, ApiError> {
    let account: AccountId = id("account", &account)?;
    let contact: ContactId = id("contact", &contact)?;
    upkeep::archive_contact(&state, &clerk, account, contact, input.archived).await?;
    Ok(Json(json!({ "id": contact, "archived": input.archived })))
}

/// Body of a new alert.
#[derive(Deserialize)]
pub(super) struct AlertInput {
    /// The alert.
    text: String,
    /// A site of the account to put it on, instead of the account.
    #[serde(default)]
    site: Option<String>,
}

/// `POST /api/accounts/{id}/alerts`: adds an alert to the account or one of its sites.
pub(super) async fn add_alert(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
    Body(input): Body<AlertInput>,
) -> Result<Response, ApiError> {
    let account: AccountId = id("account", &account)?;
    let site = input.site.as_deref().map(|s| id("site", s)).transpose()?;
    let alert = upkeep::add_alert(&state, &clerk, account, site, &input.text).await?;
    Ok(created(json!({ "id": alert })))
}

/// `GET /api/custom-fields`: the company's custom field definitions, in order.
pub(super) async fn custom_field_definitions(
    State(state): State<AppState>,
    Signed(clerk): Signed,
) -> Result<Json<Value>, ApiError> {
    clerk.check_office()?;
    Ok(Json(
        json!({ "custom_fields": custom_fields::definitions(&state).await? }),
    ))
}

/// `GET /api/time-zone`: the company's time zone (`{"time_zone": "America/Chicago"}`), which
/// the office's typed days and times are in.
pub(super) async fn time_zone(
    State(state): State<AppState>,
    Signed(_): Signed,
) -> Result<Json<Value>, ApiError> {
    let zone = crate::office::zone(&state).await?;
    Ok(Json(json!({ "time_zone": zone })))
}

/// The body of `PUT /api/time-zone`.
#[derive(Deserialize)]
pub(super) struct TimeZoneInput {
    time_zone: String,
}

/// `PUT /api/time-zone {"time_zone"}`: sets the company's time zone (an IANA name).
pub(super) async fn set_time_zone(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Body(input): Body<TimeZoneInput>,
) -> Result<Json<Value>, ApiError> {
    let zone = custom_fields::set_time_zone(&state, &clerk, &input.time_zone).await?;
    Ok(Json(json!({ "time_zone": zone })))
}

/// `POST /api/custom-fields {"name","kind","choices"}`: adds a custom field (`kind` one of
/// `text`, `number`, `date`, `yes_no`, `choice`; `choices` one per line or comma-separated).
pub(super) async fn add_custom_field(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Body(input): Body<FieldInput>,
) -> Result<Response, ApiError> {
    let def = custom_fields::add(&state, &clerk, &input).await?;
    Ok(created(json!({ "custom_field": def })))
}

/// `PUT /api/custom-fields/{name} {"kind","choices"}`: changes a field's type or choices.
pub(super) async fn change_custom_field(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(name): Path<String>,
    Body(input): Body<FieldInput>,
) -> Result<Json<Value>, ApiError> {
    let def = custom_fields::change(&state, &clerk, &name, &input).await?;
    Ok(Json(json!({ "custom_field": def })))
}

/// `DELETE /api/custom-fields/{name}`: no longer defines the field (accounts keep values).
pub(super) async fn remove_custom_field(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    custom_fields::remove(&state, &clerk, &name).await?;
    Ok(Json(json!({ "removed": name })))
}

/// `PUT /api/accounts/{id}/custom-fields {"<name>": "<value>", …}`: sets custom fields of an
/// account, each checked against its type; an empty value clears the field.
pub(super) async fn set_custom_fields(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
    Body(values): Body<std::collections::BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let account: AccountId = id("account", &account)?;
    custom_fields::set_values(&state, &clerk, account, values.into_iter().collect()).await?;
    let record = accounts::account(&state, account).await?;
    Ok(Json(json!({ "custom_fields": record.custom_fields })))
}

/// Where an alert to remove is: `?site=` for a site's.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AlertPlace {
    site: Option<String>,
}

/// `DELETE /api/accounts/{id}/alerts/{alert}`: removes an alert (`?site=` for a site's).
pub(super) async fn remove_alert(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((account, alert)): Path<(String, String)>,
    Query(place): Query<AlertPlace>,
) -> Result<Json<Value>, ApiError> {
    let account: AccountId = id("account", &account)?;
    let alert: NoteId = id("alert", &alert)?;
    let site = place.site.as_deref().map(|s| id("site", s)).transpose()?;
    upkeep::remove_alert(&state, &clerk, account, site, alert).await?;
    Ok(Json(json!({ "removed": alert })))
}

/// `POST /api/accounts/{id}/contact-log {"channel","summary","contact","day","time"}`: records
/// a call, email or visit with the customer.
pub(super) async fn log_contact(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
    Body(input): Body<ContactLogInput>,
) -> Result<Response, ApiError> {
    let account: AccountId = id("account", &account)?;
    let entry = contact_log::log_contact(&state, &clerk, account, &input).await?;
    Ok(created(json!({ "id": entry })))
}

/// `GET /api/reports/contacts?from=&to=&customer=&user=`: contacts logged over a date range.
pub(super) async fn contact_report(
    State(state): State<AppState>,
    Signed(_): Signed,
    Query(filter): Query<ReportFilter>,
) -> Result<Json<Value>, ApiError> {
    let report = contact_log::report(&state, &filter, contact_log::REPORT_LINES).await?;
    Ok(Json(json!(report)))
}
