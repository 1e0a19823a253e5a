//! The office page's custom fields: the company's definitions (`/settings/custom-fields`) and
//! an account's values (the customer page's "Custom fields" form); `office/custom_fields.rs`
//! does the work.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use fieldsync_protocol::AccountId;
use fieldsync_protocol::custom_fields::{FieldDef, FieldKind, FieldValue};
use serde::Serialize;

use super::{Notice, PageError, Posted, Signed, after, parse};
use crate::AppState;
use crate::office::custom_fields::{self, FieldInput};
use crate::zone::Zone;

/// The form key of a field's value on the customer page: `field:<name>`.
const FIELD_KEY: &str = "field:";

/// A field as the customer page's form shows it.
#[derive(Serialize)]
pub(super) struct FieldRow {
    name: String,
    /// The stored value.
    value: String,
    /// As a person reads it.
    shown: String,
    /// `text`, `number`, `date`, `yes_no`, `choice`, or "" for a field no longer defined.
    kind: &'static str,
    choices: Vec<String>,
}

/// The rows of an account's custom fields: see `custom_fields::shown`.
pub(super) fn rows(fields: Vec<FieldValue>) -> Vec<FieldRow> {
    fields
        .into_iter()
        .map(|f| FieldRow {
            shown: f.shown(),
            kind: f.def.as_ref().map_or("", |d| d.kind.as_str()),
            choices: f
                .def
                .as_ref()
                .map(|d| d.choices.clone())
                .unwrap_or_default(),
            name: f.name,
            value: f.value,
        })
        .collect()
}

/// A definition as the settings page lists it.
#[derive(Serialize)]
struct DefRow {
    name: String,
    kind: &'static str,
    label: &'static str,
    choices: String,
}

fn def_row(d: &FieldDef) -> DefRow {
    DefRow {
        name: d.name.clone(),
        kind: d.kind.as_str(),
        label: d.kind.label(),
        choices: d.choices.join(", "),
    }
}

/// `GET /settings/custom-fields`: the company's custom fields, with forms to add, change and
/// remove them.
pub(in crate::routes) async fn page(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Query(notice): Query<Notice>,
) -> Result<Response, PageError> {
    clerk.check_office()?;
    let defs = custom_fields::definitions(&state).await?;
    let zone = crate::office::zone(&state).await?;
    let kinds: Vec<(&str, &str)> = FieldKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label()))
        .collect();
    Ok(super::page(
        "custom_fields.html",
        minijinja::context! {
            clerk => super::clerk_json(&clerk),
            fields => defs.iter().map(def_row).collect::<Vec<_>>(),
            kinds,
            zone,
            zones => Zone::names().collect::<Vec<_>>(),
            error => notice.error,
        },
    ))
}

const BACK: &str = "/settings/custom-fields";

/// The form of the settings page's time zone.
#[derive(serde::Deserialize)]
pub(in crate::routes) struct TimeZoneForm {
    time_zone: String,
}

/// `POST /settings/time-zone`: sets the company's time zone.
pub(in crate::routes) async fn set_time_zone(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Posted(form): Posted<TimeZoneForm>,
) -> Result<Response, PageError> {
    let result = custom_fields::set_time_zone(&state, &clerk, &form.time_zone)
        .await
        .map(|_| ());
    Ok(after(BACK, result))
}

/// `POST /settings/custom-fields`: adds a field.
pub(in crate::routes) async fn add(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Posted(input): Posted<FieldInput>,
) -> Result<Response, PageError> {
    let result = custom_fields::add(&state, &clerk, &input).await.map(|_| ());
    Ok(after(BACK, result))
}

/// `POST /settings/custom-fields/{name}`: changes a field's type or choices.
pub(in crate::routes) async fn change(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(name): Path<String>,
    Posted(input): Posted<FieldInput>,
) -> Result<Response, PageError> {
    let result = custom_fields::change(&state, &clerk, &name, &input)
        .await
        .map(|_| ());
    Ok(after(BACK, result))
}

/// `POST /settings/custom-fields/{name}/remove`.
pub(in crate::routes) async fn remove(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let result = custom_fields::remove(&state, &clerk, &name).await;
    Ok(after(BACK, result))
}

/// `POST /customers/{id}/custom-fields`: the customer's values (`field:<name>` keys).
pub(in crate::routes) async fn set_values(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(id): Path<String>,
    Posted(pairs): Posted<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let id: AccountId = parse("account", &id)?;
    let typed: Vec<(String, String)> = pairs
        .into_iter()
        .filter_map(|(key, value)| Some((key.strip_prefix(FIELD_KEY)?.to_string(), value)))
        .collect();
    let result = custom_fields::set_values(&state, &clerk, id, typed)
        .await
        .map(|_| ());
    Ok(after(&format!("/customers/{id}#custom-fields"), result))
}
