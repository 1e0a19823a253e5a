//! The office web page: server-rendered HTML over [`crate::office`], with plain forms that post
//! and redirect back (303), and a small script (`assets/app.js`) that refreshes the live parts
//! of a page when `/api/events` says something changed.
//!
//! Every page needs an office or admin session; without one the browser is sent to `/login`.
//! A form whose input is refused comes back with the reason shown (`?error=`, or the form
//! re-rendered with what was typed); nothing of a refused form is stored.
//!
//! This module holds what every page shares (the signed-in clerk, form parsing, rendering,
//! redirects); the pages themselves are one module per resource: [`session`] (sign-in),
//! [`board`], [`customers`], [`jobs`], [`upkeep`] (sites, contacts, alerts, contact log),
//! [`custom_fields`], [`files`], [`assets`] (photos, stylesheet, script).

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use fieldsync_protocol::{JobStatus, NoteKind, PaymentMethod};
use minijinja::context;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::api::signed_in;

pub(super) mod assets;
pub(super) mod board;
pub(super) mod custom_fields;
pub(super) mod customers;
pub(super) mod files;
pub(super) mod jobs;
pub(super) mod session;
pub(super) mod upkeep;
use crate::AppState;
use crate::office::{Clerk, OfficeError, OfficeResult};
use crate::templates;

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

/// A posted form read as its name-value pairs in order, for forms that repeat a field (the rows
/// of an invoice's lines); a body that is not a form is a clear error page.
pub(super) struct PostedPairs(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for PostedPairs {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| PageError(OfficeError::Invalid(rejection.body_text())))?;
        Ok(PostedPairs(
            form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
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

/// A 403 page saying why (a request the guard refused, see `guard.rs`).
pub(super) fn forbidden(why: String) -> Response {
    PageError(OfficeError::Forbidden(why)).into_response()
}

/// The signed-in clerk as the templates show them (name, role, the form token).
fn clerk_json(clerk: &Clerk) -> minijinja::Value {
    context! {
        name => clerk.name.clone(),
        role => clerk.role.to_string(),
        form_token => clerk.form_token.clone(),
    }
}
