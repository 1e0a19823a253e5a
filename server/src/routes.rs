//! The route table: every route the server answers, in one place.

mod api;
mod guard;
mod health;
mod metrics;
mod pages;
mod sync;
mod websocket;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post, put};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::error::ApiError;

/// Longest a request may take to be answered (its handler, until the response starts; a
/// WebSocket or an event stream runs on after that), and to send its body.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// All routes, with a JSON 404 for anything else, behind the guards (`guard.rs`), the request
/// timeouts and request tracing (`RUST_LOG=tower_http=debug`).
pub(crate) fn table(state: AppState) -> Router {
    routes()
        .layer(from_fn_with_state(state.clone(), guard::form_token))
        .layer(from_fn(guard::same_site))
        .layer(from_fn(guard::security_headers))
        .layer(RequestBodyTimeoutLayer::new(REQUEST_TIMEOUT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/sync", get(sync::upgrade))
        // The office JSON API (routes/api.rs).
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/me", get(api::me))
        .route("/api/events", get(api::events))
        .route(
            "/api/accounts",
            get(api::list_accounts).post(api::create_account),
        )
        .route(
            "/api/accounts/{id}",
            get(api::get_account)
                .put(api::edit_account)
                .delete(api::delete_account),
        )
        .route("/api/accounts/{id}/merge", post(api::merge_account))
        .route("/api/accounts/{id}/sites", post(api::add_site))
        .route("/api/accounts/{id}/contacts", post(api::add_contact))
        .route("/api/accounts/{id}/credit", post(api::apply_credit))
        .route("/api/technicians", get(api::technicians))
        .route("/api/board", get(api::board))
        .route("/api/jobs", get(api::list_jobs).post(api::create_job))
        .route("/api/jobs/{id}", get(api::get_job).put(api::edit_job))
        .route("/api/sites/{id}", put(api::edit_site))
        .route("/api/sites/{id}/archive", post(api::archive_site))
        .route(
            "/api/accounts/{id}/contacts/{contact}",
            put(api::edit_contact),
        )
        .route(
            "/api/accounts/{id}/contacts/{contact}/archive",
            post(api::archive_contact),
        )
        .route("/api/accounts/{id}/alerts", post(api::add_alert))
        .route("/api/accounts/{id}/contact-log", post(api::log_contact))
        .route(
            "/api/accounts/{id}/custom-fields",
            put(api::set_custom_fields),
        )
        .route(
            "/api/time-zone",
            get(api::time_zone).put(api::set_time_zone),
        )
        .route(
            "/api/custom-fields",
            get(api::custom_field_definitions).post(api::add_custom_field),
        )
        .route(
            "/api/accounts/{id}/files",
            post(pages::files::api_upload).layer(DefaultBodyLimit::max(pages::files::MAX_UPLOAD)),
        )
        .route(
            "/api/accounts/{id}/files/{file}",
            get(pages::files::api_download).delete(pages::files::api_remove),
        )
        .route(
            "/customers/{id}/files",
            post(pages::files::page_upload).layer(DefaultBodyLimit::max(pages::files::MAX_UPLOAD)),
        )
        .route(
            "/customers/{id}/files/{file}",
            get(pages::files::page_download),
        )
        .route(
            "/customers/{id}/files/{file}/remove",
            post(pages::files::page_remove),
        )
        .route(
            "/api/custom-fields/{name}",
            put(api::change_custom_field).delete(api::remove_custom_field),
        )
        .route("/api/reports/contacts", get(api::contact_report))
        .route(
            "/api/accounts/{id}/alerts/{alert}",
            delete(api::remove_alert),
        )
        .route("/api/jobs/{id}/assign", post(api::assign_job))
        .route("/api/jobs/{id}/status", post(api::set_job_status))
        .route("/api/jobs/{id}/invoices", post(api::create_invoice))
        .route(
            "/api/jobs/{id}/invoices/{invoice}/void",
            post(api::void_invoice),
        )
        .route("/api/notes", post(api::add_note))
        .route("/api/payments", post(api::record_payment))
        .route("/api/reports/aging", get(api::aging))
        // The office web page (routes/pages.rs).
        .route("/", get(pages::board::board))
        .route(
            "/login",
            get(pages::session::login_page).post(pages::session::login),
        )
        .route("/logout", post(pages::session::logout))
        .route("/assets/app.css", get(pages::assets::app_css))
        .route("/assets/app.js", get(pages::assets::app_js))
        .route("/photos/{hash}", get(pages::assets::photo))
        .route(
            "/customers",
            get(pages::customers::customers).post(pages::customers::create_customer),
        )
        .route("/customers/new", get(pages::customers::new_customer))
        .route("/reports/aging", get(pages::customers::aging))
        .route("/reports/aging.csv", get(pages::customers::aging_csv))
        .route(
            "/customers/{id}",
            get(pages::customers::customer).post(pages::customers::edit_customer),
        )
        .route(
            "/customers/{id}/edit",
            get(pages::customers::edit_customer_page),
        )
        .route(
            "/customers/{id}/merge",
            post(pages::customers::merge_customer),
        )
        .route(
            "/customers/{id}/delete",
            post(pages::customers::delete_customer),
        )
        .route("/customers/{id}/sites", post(pages::customers::add_site))
        .route(
            "/customers/{id}/contacts",
            post(pages::customers::add_contact),
        )
        .route(
            "/customers/{id}/notes",
            post(pages::customers::add_customer_note),
        )
        .route(
            "/customers/{id}/payments",
            post(pages::customers::record_payment),
        )
        .route(
            "/customers/{id}/credit",
            post(pages::customers::apply_credit),
        )
        .route(
            "/customers/{id}/statement.pdf",
            get(pages::customers::statement_pdf),
        )
        .route("/invoices/{file}", get(pages::customers::invoice_pdf))
        .route("/jobs", post(pages::board::create_job))
        .route("/jobs/{id}", get(pages::jobs::job))
        .route("/jobs/{id}/edit", post(pages::upkeep::edit_job))
        .route(
            "/customers/{id}/sites/{site}",
            post(pages::upkeep::edit_site),
        )
        .route(
            "/customers/{id}/sites/{site}/archive",
            post(pages::upkeep::archive_site),
        )
        .route(
            "/customers/{id}/contacts/{contact}",
            post(pages::upkeep::edit_contact),
        )
        .route(
            "/customers/{id}/contacts/{contact}/archive",
            post(pages::upkeep::archive_contact),
        )
        .route("/customers/{id}/alerts", post(pages::upkeep::add_alert))
        .route(
            "/customers/{id}/custom-fields",
            post(pages::custom_fields::set_values),
        )
        .route(
            "/settings/custom-fields",
            get(pages::custom_fields::page).post(pages::custom_fields::add),
        )
        .route(
            "/settings/time-zone",
            post(pages::custom_fields::set_time_zone),
        )
        .route(
            "/settings/custom-fields/{name}",
            post(pages::custom_fields::change),
        )
        .route(
            "/settings/custom-fields/{name}/remove",
            post(pages::custom_fields::remove),
        )
        .route(
            "/customers/{id}/contact-log",
            post(pages::upkeep::log_contact),
        )
        .route("/reports/contacts", get(pages::upkeep::contact_report))
        .route(
            "/reports/contacts.csv",
            get(pages::upkeep::contact_report_csv),
        )
        .route(
            "/customers/{id}/alerts/{alert}/remove",
            post(pages::upkeep::remove_alert),
        )
        .route("/jobs/{id}/assign", post(pages::board::assign))
        .route("/jobs/{id}/status", post(pages::board::set_status))
        .route("/jobs/{id}/notes", post(pages::jobs::add_job_note))
        .route("/jobs/{id}/invoices", post(pages::jobs::create_invoice))
        .route(
            "/jobs/{id}/invoices/{invoice}/void",
            post(pages::jobs::void_invoice),
        )
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Percent-encodes every byte of `text` that is not an ASCII letter or digit (for query
/// strings and header values).
pub(crate) fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
