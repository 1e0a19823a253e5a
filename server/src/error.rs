//! The one error type of the HTTP API.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::db::DbError;

/// An error a handler returns to the client.
///
/// The client gets the status code and a short message as `{"error": "..."}`: a fixed text for
/// server errors, whose details (paths, SQLite messages) are logged with `tracing` and never
/// sent, and the reason itself for the client's own mistakes (bad input, a conflict).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route matches the request's path.
    #[error("not found")]
    NotFound,
    /// The named record does not exist.
    #[error("{0} not found")]
    Missing(String),
    /// The request's input is not valid; the message says why.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with what is stored; the message says why.
    #[error("{0}")]
    Conflict(String),
    /// No valid session: sign in first.
    #[error("sign in first")]
    Unauthorized,
    /// Sign-in refused: the name or the password is wrong (the message does not say which).
    #[error("wrong name or password")]
    BadCredentials,
    /// The signed-in user's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many requests of this kind lately; try again after the given number of seconds.
    #[error("{0}")]
    TooMany(String, u64),
    /// The server is too busy for this now.
    #[error("{0}")]
    Busy(String),
    /// The database could not be reached or did not answer.
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] DbError),
}

impl ApiError {
    /// The HTTP status this error is sent with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::Missing(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthorized | Self::BadCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooMany(..) => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::DatabaseUnavailable(e) if e.is_storage_full() => StatusCode::INSUFFICIENT_STORAGE,
            Self::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The message sent to the client: the reason for client errors, a fixed text with no
    /// internal details for server errors.
    pub fn public_message(&self) -> String {
        match self {
            Self::DatabaseUnavailable(e) if e.is_storage_full() => {
                "the server's disk is full: nothing was saved. Try again once an administrator has freed space".to_string()
            }
            Self::DatabaseUnavailable(_) => "database unavailable".to_string(),
            other => other.to_string(),
        }
    }

    /// The seconds to wait before trying again (`Retry-After`), for errors that have one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooMany(_, secs) => Some(*secs),
            Self::Busy(_) => Some(5),
            _ => None,
        }
    }

    /// Logs the error with its full chain of causes: server errors at `error`, client
    /// errors at `debug`.
    pub fn log(&self) {
        let detail = error_chain(self);
        if self.status().is_server_error() {
            tracing::error!(status = %self.status(), error = %detail, "request failed");
        } else {
            tracing::debug!(status = %self.status(), error = %detail, "request refused");
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        Self::DatabaseUnavailable(err)
    }
}

impl From<crate::office::OfficeError> for ApiError {
    fn from(err: crate::office::OfficeError) -> Self {
        use crate::office::OfficeError;
        match err {
            OfficeError::NotFound(what) => Self::Missing(what),
            OfficeError::Invalid(why) => Self::BadRequest(why),
            OfficeError::Conflict(why) => Self::Conflict(why),
            OfficeError::Forbidden(why) => Self::Forbidden(why),
            OfficeError::WrongCredentials => Self::BadCredentials,
            e @ OfficeError::TooManyAttempts(secs) => Self::TooMany(e.to_string(), secs),
            e @ OfficeError::Busy => Self::Busy(e.to_string()),
            OfficeError::Db(e) => Self::DatabaseUnavailable(e),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let body = ErrorBody {
            error: self.public_message(),
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// `err` and each of its sources, joined with ": ".
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A response body as text (tests of handlers and errors).
#[cfg(test)]
pub(crate) async fn body_text(response: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::error::body_text;

    fn open_error() -> DbError {
        let dir = tempfile::tempdir().unwrap();
        crate::db::Db::open(dir.path().join("secret-dir").join("db.sqlite3")).unwrap_err()
    }

    #[tokio::test]
    async fn not_found_is_a_404_with_a_json_message() {
        let response = ApiError::NotFound.into_response();

        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(body_text(response).await, r#"{"error":"not found"}"#);
    }

    #[tokio::test]
    async fn database_errors_are_a_503_without_internal_details() {
        let err = ApiError::from(open_error());
        assert!(error_chain(&err).contains("secret-dir"));

        let response = err.into_response();

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body_text(response).await,
            r#"{"error":"database unavailable"}"#
        );
    }

    #[tokio::test]
    async fn an_office_write_on_a_full_disk_is_a_507_saying_nothing_was_saved() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(dir.path().join("db.sqlite3")).unwrap();
        db.cap_size(Some(0)).await.unwrap();
        let big = "x".repeat(64 * 1024);
        let err = db
            .run(move |store| {
                store.conn().execute_batch(&format!(
                    "CREATE TABLE filler (t TEXT); INSERT INTO filler VALUES ('{big}');"
                ))?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(err.is_storage_full(), "{err}");
        assert!(db.storage_full().is_some(), "the database knows");
        let response = ApiError::from(err).into_response();
        assert_eq!(response.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert!(body_text(response).await.contains("disk is full"));

        db.cap_size(None).await.unwrap();
        db.run(|store| {
            store.conn().execute_batch(
                "CREATE TABLE IF NOT EXISTS filler (t TEXT); INSERT INTO filler VALUES ('room');",
            )?;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(db.storage_full(), None, "a write succeeded: room again");
    }

    #[test]
    fn error_chain_includes_every_source() {
        let chain = error_chain(&ApiError::from(open_error()));

        // ApiError, then DbError::Open with the path, then SQLite's own message.
        assert!(
            chain.starts_with("database unavailable: cannot open database "),
            "{chain}"
        );
        assert!(chain.contains("secret-dir"), "{chain}");
        assert!(chain.contains("unable to open database file"), "{chain}");
    }
}
