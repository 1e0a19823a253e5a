//! `GET /healthz`: is the server up and its database answering?

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Health {
    /// Everything checked answered: `{"status":"ok","db":"ok"}`.
    Ok { db: &'static str },
    /// A check failed: `{"status":"error","error":"..."}` with a fixed, detail-free message.
    Error { error: String },
    /// The database answers but the last write failed for lack of space (and none succeeded
    /// since): `{"status":"degraded","db":"ok","storage":"full","error":"..."}`, with 503.
    Degraded {
        db: &'static str,
        storage: &'static str,
        error: String,
    },
}

/// Runs `SELECT 1` on the database; 200 when it answers, 503 when it does not or when the disk
/// is full (writes refused, reads go on).
pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    match state.db().ping().await {
        Ok(()) => match state.db().storage_full() {
            None => Json(Health::Ok { db: "ok" }).into_response(),
            Some(why) => (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(Health::Degraded {
                    db: "ok",
                    storage: "full",
                    error: format!("the disk is full: writes are refused ({why}); reads go on"),
                }),
            )
                .into_response(),
        },
        Err(err) => {
            let err = ApiError::from(err);
            err.log();
            let body = Health::Error {
                error: err.public_message(),
            };
            (err.status(), Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    async fn check(state: AppState) -> (StatusCode, serde_json::Value) {
        let response = healthz(State(state)).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn healthy_database_is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(dir.path().join("db.sqlite3")).unwrap();

        let (status, body) = check(state).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, serde_json::json!({"status": "ok", "db": "ok"}));
    }

    #[tokio::test]
    async fn failing_database_is_503_without_details() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(dir.path().join("db.sqlite3")).unwrap();
        state.db().drop_table("meta").await;

        let (status, body) = check(state).await;

        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            serde_json::json!({"status": "error", "error": "database unavailable"})
        );
    }
}
