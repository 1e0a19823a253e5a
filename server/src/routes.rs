//! The route table: every route the server answers, in one place.

mod health;
mod metrics;
mod sync;

use axum::Router;
use axum::routing::get;

use crate::AppState;
use crate::error::ApiError;

/// All routes, with a JSON 404 for anything else.
pub(crate) fn table() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/sync", get(sync::upgrade))
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
