//! Files kept on a customer or its sites, over HTTP: uploaded from the office page (a
//! multipart form) or the API (the bytes as the body), downloaded by both, removed. The work
//! is `office/files.rs`.

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::{AccountId, FileEntry, NoteId};
use serde::Deserialize;
use serde_json::json;

use super::super::api::{Signed as ApiSigned, id};
use super::{PageError, Posted, Signed, after, parse};
use crate::AppState;
use crate::error::ApiError;
use crate::office::files;
use crate::office::{OfficeError, optional_id};

/// Largest request body of an upload: the largest file and room for the form around it.
pub(in crate::routes) const MAX_UPLOAD: usize =
    fieldsync_protocol::blob::MAX_BLOB_SIZE as usize + (64 << 10);

/// Where a file goes or is: `?site=` for one of the customer's sites; `name` for an upload
/// through the API.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct Place {
    site: String,
    name: String,
}

/// A file's bytes as a download, named as it was uploaded.
fn download(entry: &FileEntry, bytes: Vec<u8>) -> Response {
    let name: String = entry
        .name
        .chars()
        .map(|c| if c == '"' || c.is_control() { '_' } else { c })
        .collect();
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        super::super::percent_encode(&name)
    );
    (
        [
            (CONTENT_TYPE, entry.content_type.clone()),
            (CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// `POST /api/accounts/{id}/files?name=&site=`: keeps the body as a file (its type from the
/// `Content-Type` header or the name), on the customer or one of its sites.
pub(in crate::routes) async fn api_upload(
    State(state): State<AppState>,
    ApiSigned(clerk): ApiSigned,
    Path(account): Path<String>,
    Query(place): Query<Place>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let account: AccountId = id("account", &account)?;
    let body = body.map_err(|refused| {
        ApiError::BadRequest(
            if refused.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "the file is larger than {} MiB, the most a file may be",
                    fieldsync_protocol::blob::MAX_BLOB_SIZE >> 20
                )
            } else {
                format!("the file did not arrive whole: {}", refused.body_text())
            },
        )
    })?;
    let given = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let entry = files::add_file(
        &state,
        &clerk,
        account,
        optional_id("site", &place.site)?,
        &place.name,
        given,
        body.to_vec(),
    )
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(json!({ "file": entry })),
    )
        .into_response())
}

/// `GET /api/accounts/{id}/files/{file}`: the file's bytes.
pub(in crate::routes) async fn api_download(
    State(state): State<AppState>,
    ApiSigned(clerk): ApiSigned,
    Path((account, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    clerk.check_office()?;
    let (entry, bytes) =
        files::file_bytes(&state, id("account", &account)?, id("file", &file)?).await?;
    Ok(download(&entry, bytes))
}

/// `DELETE /api/accounts/{id}/files/{file}?site=`: takes the file off the record.
pub(in crate::routes) async fn api_remove(
    State(state): State<AppState>,
    ApiSigned(clerk): ApiSigned,
    Path((account, file)): Path<(String, String)>,
    Query(place): Query<Place>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let file: NoteId = id("file", &file)?;
    files::remove_file(
        &state,
        &clerk,
        id("account", &account)?,
        optional_id("site", &place.site)?,
        file,
    )
    .await?;
    Ok(axum::Json(json!({ "removed": file })))
}

/// `POST /customers/{id}/files?form_token=`: the upload form (`file`, `site`), multipart; its
/// token comes in the address, as the body is not a plain form.
pub(in crate::routes) async fn page_upload(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path(account): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let account: AccountId = parse("account", &account)?;
    let result = async {
        let mut multipart =
            multipart.map_err(|e| OfficeError::Invalid(format!("not an upload form: {e}")))?;
        let (mut name, mut given, mut bytes, mut place) = (String::new(), None, None, None);
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| OfficeError::Invalid(format!("the upload did not arrive whole: {e}")))?
        {
            match field.name() {
                Some("file") => {
                    name = field.file_name().unwrap_or_default().to_string();
                    given = field.content_type().map(str::to_string);
                    bytes = Some(field.bytes().await.map_err(|e| {
                        OfficeError::Invalid(format!("the file did not arrive whole: {e}"))
                    })?);
                }
                Some("site") => {
                    place = Some(field.text().await.unwrap_or_default());
                }
                _ => {}
            }
        }
        let bytes = bytes.ok_or_else(|| OfficeError::Invalid("choose a file to upload".into()))?;
        files::add_file(
            &state,
            &clerk,
            account,
            optional_id("site", place.as_deref().unwrap_or_default())?,
            &name,
            given.as_deref(),
            bytes.to_vec(),
        )
        .await
        .map(|_| ())
    }
    .await;
    Ok(after(&format!("/customers/{account}#files"), result))
}

/// `GET /customers/{id}/files/{file}`: the file, downloaded.
pub(in crate::routes) async fn page_download(
    State(state): State<AppState>,
    Signed(_): Signed,
    Path((account, file)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (entry, bytes) =
        files::file_bytes(&state, parse("account", &account)?, parse("file", &file)?).await?;
    Ok(download(&entry, bytes))
}

/// A remove button: which site's file, if a site's.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::routes) struct RemoveForm {
    site: String,
}

/// `POST /customers/{id}/files/{file}/remove`.
pub(in crate::routes) async fn page_remove(
    State(state): State<AppState>,
    Signed(clerk): Signed,
    Path((account, file)): Path<(String, String)>,
    Posted(form): Posted<RemoveForm>,
) -> Result<Response, PageError> {
    let account: AccountId = parse("account", &account)?;
    let file: NoteId = parse("file", &file)?;
    let result = async {
        files::remove_file(
            &state,
            &clerk,
            account,
            optional_id("site", &form.site)?,
            file,
        )
        .await
    }
    .await;
    Ok(after(&format!("/customers/{account}#files"), result))
}
