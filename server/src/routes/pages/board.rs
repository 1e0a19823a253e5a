//! The dispatch board of a day, and its actions on jobs: create, assign, change status.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::Duration;
use fieldsync_protocol::{AccountId, JobId, UserId};
use minijinja::context;
use serde::Deserialize;

use super::{PageError, Posted, Signed, after, clerk_json, local, page, parse};
use crate::AppState;
use crate::office::OfficeError;
use crate::office::jobs::{self, JobInput};
use crate::templates;

/// `?day=` of the board, and an error to show.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct BoardQuery {
    day: String,
    error: String,
    /// A live refresh's customers whose records changed, by id, comma-separated: only their
    /// cards are sent back (see [`jobs::board_cards`]).
    accounts: String,
}

/// The header of the page script's live refreshes: the latest commit the page was told of.
pub(super) const SEEN: &str = "x-fieldsync-seen";

/// `GET /`: the dispatch board of a day (today by default). A live refresh (with
/// [`SEEN`]) gets the cards of the customers it names (`accounts=`), or else the board region
/// alone, shared with every dispatcher refreshing the same day (see [`crate::live_board`]).
pub(in crate::routes) async fn board(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Query(query): Query<BoardQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    let zone = crate::office::zone(&state).await?;
    let day = jobs::parse_day(Some(&query.day), zone)?;
    let seen = headers
        .get(SEEN)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if seen.is_some() && !query.accounts.trim().is_empty() {
        let accounts = (query.accounts.split(','))
            .map(|id| parse::<AccountId>("customer", id.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        let cards = jobs::board_cards(&state, day, zone, accounts).await?;
        let html = templates::render(
            "board_cards.html",
            context! {
                cards,
                zone,
                day => day.to_string(),
                clerk => context! { form_token => clerk.form_token },
            },
        )
        .map_err(|e| {
            tracing::error!(template = "board_cards.html", error = %e, "template failed");
            PageError(OfficeError::Invalid("the board could not be drawn".into()))
        })?;
        return Ok(Html(html).into_response());
    }
    if let Some(seen) = seen {
        let region = state
            .live_boards()
            .region(
                day,
                seen,
                || state.latest_seq(),
                || async {
                    let board = jobs::board(&state, day, zone).await?;
                    templates::render(
                        "board_region.html",
                        context! {
                            board,
                            zone,
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
    let board = jobs::board(&state, day, zone).await?;
    let technicians = jobs::technicians(&state).await?;
    Ok(page(
        "board.html",
        context! {
            clerk => clerk_json(&clerk),
            zone,
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

/// What the shared board region carries in place of the session's form token, replaced in
/// each copy sent (the region is drawn once for every dispatcher).
pub(super) const FORM_TOKEN_SLOT: &str = "FORM-TOKEN-SLOT";

/// The new-job form of the customer page: `place` is `<account id>:<site id>`; `back` the page
/// to go back to (the board of the job's day when none).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct NewJobForm {
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
pub(in crate::routes) async fn create_job(
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
    let board = format!("/?day={}", crate::routes::percent_encode(form.day.trim()));
    after(&local(&form.back, &board), result)
}

/// An assignment form: one technician, by name or id (empty: unassign), and where to go back
/// to.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct AssignForm {
    technician: String,
    back: String,
}

/// `POST /jobs/{id}/assign`.
pub(in crate::routes) async fn assign(
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
pub(in crate::routes) struct StatusForm {
    status: String,
}

/// `POST /jobs/{id}/status`.
pub(in crate::routes) async fn set_status(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(job): Path<String>,
    Posted(form): Posted<StatusForm>,
) -> Result<Response, PageError> {
    let job: JobId = parse("job", &job)?;
    let result = jobs::set_status(&state, &clerk, job, &form.status).await;
    Ok(after(&format!("/jobs/{job}"), result))
}
