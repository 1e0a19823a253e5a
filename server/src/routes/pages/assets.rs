//! Photos by content hash, and the page's stylesheet and script.

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::ContentHash;

use super::{PageError, Signed, parse};
use crate::AppState;
use crate::office::OfficeError;
use crate::templates;

/// `GET /photos/{hash}`: a stored photo or thumbnail, by content hash.
pub(in crate::routes) async fn photo(
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
pub(in crate::routes) async fn app_css() -> Response {
    asset("text/css; charset=utf-8", templates::APP_CSS)
}

/// `GET /assets/app.js`.
pub(in crate::routes) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", templates::APP_JS)
}

pub(super) fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body).into_response()
}
