//! The office page's forms that keep a record up to date: the job's edit form, sites and
//! contacts edited and archived, alerts added and removed (`office/upkeep.rs`), the contact
//! log and its report (`office/contact_log.rs`).

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse as _, Response};
use fieldsync_protocol::{AccountId, ContactId, JobId, NoteId, SiteId};
use serde::Deserialize;

use super::{PageError, Posted, Signed, after, local, page, parse};
use crate::AppState;
use crate::office::accounts::{self, SiteInput};
use crate::office::contact_log::{self, ContactLogInput, ReportFilter};
use crate::office::jobs::{self, JobEdit};
use crate::office::upkeep::{self, ContactEdit};
use crate::office::{OfficeError, OfficeResult, optional_id};

/// `POST /jobs/{id}/edit`: the job's details.
pub(in crate::routes) async fn edit_job(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(input): Posted<JobEdit>,
) -> Result<Response, PageError> {
    let id: JobId = parse("job", &id)?;
    let result = jobs::edit_job(&state, &clerk, id, &input).await;
    Ok(after(&format!("/jobs/{id}#packet"), result))
}

/// `POST /customers/{id}/sites/{site}`: a site's name, address and access instructions.
pub(in crate::routes) async fn edit_site(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((id, site)): Path<(String, String)>,
    Posted(input): Posted<SiteInput>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let site: SiteId = parse("site", &site)?;
    let result = upkeep::edit_site(&state, &clerk, site, &input).await;
    Ok(after(&format!("/customers/{id}#sites"), result))
}

/// An archive or restore button.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct ArchiveForm {
    /// `1` to archive, `0` to restore.
    archived: String,
}

impl ArchiveForm {
    fn archived(&self) -> bool {
        self.archived != "0"
    }
}

/// `POST /customers/{id}/sites/{site}/archive`.
pub(in crate::routes) async fn archive_site(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((id, site)): Path<(String, String)>,
    Posted(form): Posted<ArchiveForm>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let site: SiteId = parse("site", &site)?;
    let result = upkeep::archive_site(&state, &clerk, site, form.archived()).await;
    Ok(after(&format!("/customers/{id}#sites"), result))
}

/// `POST /customers/{id}/contacts/{contact}`: the contact's details and sites (checkboxes
/// named `sites`, so the form is read as pairs).
pub(in crate::routes) async fn edit_contact(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((id, contact)): Path<(String, String)>,
    Posted(pairs): Posted<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let contact: ContactId = parse("contact", &contact)?;
    let mut input = ContactEdit::default();
    for (key, value) in pairs {
        match key.as_str() {
            "name" => input.contact.name = value,
            "role" => input.contact.role = value,
            "email" => input.contact.email = value,
            "phone" => input.contact.phone = value,
            "sites" => input.sites.push(value),
            _ => {}
        }
    }
    let result = upkeep::edit_contact(&state, &clerk, id, contact, &input).await;
    Ok(after(&format!("/customers/{id}#contacts"), result))
}

/// `POST /customers/{id}/contacts/{contact}/archive`.
pub(in crate::routes) async fn archive_contact(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((id, contact)): Path<(String, String)>,
    Posted(form): Posted<ArchiveForm>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let contact: ContactId = parse("contact", &contact)?;
    let result = upkeep::archive_contact(&state, &clerk, id, contact, form.archived()).await;
    Ok(after(&format!("/customers/{id}#contacts"), result))
}

/// An alert form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct AlertForm {
    /// The alert (when adding).
    text: String,
    /// A site of the customer, or empty for the customer itself.
    site: String,
    /// Where to go afterwards (a local path).
    back: String,
}

/// `POST /customers/{id}/alerts`: adds an alert to the customer or one of its sites.
pub(in crate::routes) async fn add_alert(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(form): Posted<AlertForm>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let back = local(&form.back, &format!("/customers/{id}#alerts"));
    let result: OfficeResult<()> = async {
        let site = optional_id::<SiteId>("site", &form.site)?;
        upkeep::add_alert(&state, &clerk, id, site, &form.text).await?;
        Ok(())
    }
    .await;
    Ok(after(&back, result))
}

/// `POST /customers/{id}/alerts/{alert}/remove`.
pub(in crate::routes) async fn remove_alert(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((id, alert)): Path<(String, String)>,
    Posted(form): Posted<AlertForm>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let alert: NoteId = parse("alert", &alert)?;
    let back = local(&form.back, &format!("/customers/{id}#alerts"));
    let result: OfficeResult<()> = async {
        let site = optional_id::<SiteId>("site", &form.site)?;
        upkeep::remove_alert(&state, &clerk, id, site, alert).await
    }
    .await;
    Ok(after(&back, result))
}

/// `POST /customers/{id}/contact-log`: records a call, email or visit.
pub(in crate::routes) async fn log_contact(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(input): Posted<ContactLogInput>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let result = contact_log::log_contact(&state, &clerk, id, &input)
        .await
        .map(|_| ());
    Ok(after(&format!("/customers/{id}#contact-log"), result))
}

/// `GET /reports/contacts?from=&to=&customer=&user=`: the contact report.
pub(in crate::routes) async fn contact_report(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Query(filter): Query<ReportFilter>,
) -> Result<Response, PageError> {
    let report = contact_log::report(&state, &filter, contact_log::REPORT_LINES).await?;
    let people = state
        .db()
        .read(|store| Ok(store.users()?))
        .await
        .map_err(OfficeError::from)?;
    let users: Vec<(String, String)> = people
        .into_iter()
        .map(|p| (p.id.to_string(), p.name))
        .collect();
    let customer_name = match report.customer {
        Some(id) => accounts::account(&state, id).await.ok().map(|a| a.name),
        None => None,
    };
    let query = format!(
        "from={}&to={}&customer={}&user={}",
        report.from,
        report.to,
        report.customer.map(|c| c.to_string()).unwrap_or_default(),
        report.user.map(|u| u.to_string()).unwrap_or_default()
    );
    Ok(page(
        "contacts_report.html",
        minijinja::context! {
            clerk => super::clerk_json(&clerk),
            zone => report.zone,
            report,
            users,
            customer_name,
            query,
        },
    ))
}

/// `GET /reports/contacts.csv?from=&to=&customer=&user=`: the contact report as a CSV
/// download.
pub(in crate::routes) async fn contact_report_csv(
    State(state): State<AppState>,
    Signed(_): Signed,
    Query(filter): Query<ReportFilter>,
) -> Result<Response, PageError> {
    let report = contact_log::report(&state, &filter, contact_log::CSV_LINES).await?;
    let disposition = format!(
        "attachment; filename=\"contacts-{}-to-{}.csv\"",
        report.from, report.to
    );
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        contact_log::csv(&report),
    )
        .into_response())
}
