//! Sign-in: the login form, signing in and out.

use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::{PageError, Posted, page, render_page};
use crate::AppState;
use crate::office::OfficeError;
use crate::serving::Peer;
use crate::sessions;

/// `GET /login`.
pub(in crate::routes) async fn login_page() -> Response {
    page("login.html", context! { error => "", name => "" })
}

/// The sign-in form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct LoginForm {
    name: String,
    password: String,
}

/// `POST /login`: a session cookie and the board, or the form again with the reason.
pub(in crate::routes) async fn login(
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
pub(in crate::routes) async fn logout(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
) -> Response {
    state.sessions().sign_out(&state, &headers).await;
    (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, "/login".to_string()),
            (SET_COOKIE, sessions::clear_cookie(peer.https)),
        ],
    )
        .into_response()
}
