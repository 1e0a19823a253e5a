//! Files kept on a customer or one of its sites: site plans, contracts, manuals, spreadsheets,
//! pictures. Uploaded from the office page; the bytes are a content-hashed blob stored like a
//! photo's (and downloaded by the tablets the same way), the record (`FileEntry`) lives in the
//! account's or the site's document. Removing a file takes it off the record (its history
//! keeps it); the bytes stay while any record names them.

use fieldsync_protocol::blob::MAX_BLOB_SIZE;
use fieldsync_protocol::{AccountId, FileEntry, NoteId, Record, SiteId, ValidationError};

use super::upkeep::account_or_site_doc;
use super::{Clerk, OfficeError, OfficeResult, edit, now};
use crate::AppState;

/// The media type of a file by its name's extension, for the kinds offices keep; the
/// browser's word otherwise, or `application/octet-stream`.
pub fn content_type(name: &str, given: Option<&str>) -> String {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let known = match extension.as_deref() {
        Some("pdf") => "application/pdf",
        Some("doc") => "application/msword",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("xls") => "application/vnd.ms-excel",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("csv") => "text/csv",
        Some("txt") => "text/plain",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("dwg") => "image/vnd.dwg",
        _ => "",
    };
    match (known, given.map(str::trim)) {
        ("", Some(given)) if !given.is_empty() && given.len() <= 100 => given.to_string(),
        ("", _) => "application/octet-stream".into(),
        (known, _) => known.into(),
    }
}

/// The name to keep for an uploaded file: its last path part (browsers on some systems send
/// the whole path), trimmed.
fn file_name(name: &str) -> OfficeResult<String> {
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(OfficeError::Invalid("choose a file to upload".into()));
    }
    Ok(name.chars().take(200).collect())
}

/// Keeps `bytes` as the file `name` on account `id`, or on its site `site`; returns the record.
pub async fn add_file(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    site: Option<SiteId>,
    name: &str,
    given_type: Option<&str>,
    bytes: Vec<u8>,
) -> OfficeResult<FileEntry> {
    clerk.check_office()?;
    let name = file_name(name)?;
    if bytes.is_empty() {
        return Err(OfficeError::Invalid(format!("{name} is empty")));
    }
    if bytes.len() as u64 > MAX_BLOB_SIZE {
        return Err(OfficeError::Invalid(format!(
            "{name} is larger than {} MiB, the most a file may be",
            MAX_BLOB_SIZE >> 20
        )));
    }
    let doc = account_or_site_doc(state, id, site).await?;
    let size = bytes.len() as u64;
    let hash = state
        .db()
        .run(move |store| Ok(store.write(|tx| tx.put_blob(&bytes))?))
        .await?
        .map_err(|refused| OfficeError::Invalid(refused.to_string()))?;
    let file = FileEntry {
        id: NoteId::new(),
        content_type: content_type(&name, given_type),
        name,
        hash,
        size,
        added_by: clerk.user,
        added_by_name: clerk.name.clone(),
        added_at: now(),
    };
    let kept = file.clone();
    edit(state, clerk, doc, "record", move |record| {
        match record {
            Record::Account(d) => d.files.insert(file.id, file),
            Record::Site(d) => d.files.insert(file.id, file),
            _ => return Err(ValidationError::Malformed("not an account or site".into())),
        };
        Ok(())
    })
    .await?;
    Ok(kept)
}

/// Takes file `file` off account `id` or its site `site`.
pub async fn remove_file(
    state: &AppState,
    clerk: &Clerk,
    id: AccountId,
    site: Option<SiteId>,
    file: NoteId,
) -> OfficeResult<()> {
    clerk.check_office()?;
    let doc = account_or_site_doc(state, id, site).await?;
    let files = state.db().read(move |store| Ok(store.files(doc)?)).await?;
    if !files.iter().any(|f| f.id == file) {
        return Err(OfficeError::NotFound("file".into()));
    }
    edit(state, clerk, doc, "record", move |record| {
        match record {
            Record::Account(d) => d.files.remove(&file),
            Record::Site(d) => d.files.remove(&file),
            _ => return Err(ValidationError::Malformed("not an account or site".into())),
        };
        Ok(())
    })
    .await?;
    Ok(())
}

/// File `file` of account `id` (on the account or one of its sites) and its bytes.
pub async fn file_bytes(
    state: &AppState,
    id: AccountId,
    file: NoteId,
) -> OfficeResult<(FileEntry, Vec<u8>)> {
    let found = state
        .db()
        .read(move |store| {
            let mut docs = vec![fieldsync_protocol::DocId::from(id)];
            docs.extend(
                store
                    .sites_for_account(id)?
                    .into_iter()
                    .map(|s| fieldsync_protocol::DocId::from(s.id)),
            );
            for doc in docs {
                if let Some(entry) = store.files(doc)?.into_iter().find(|f| f.id == file) {
                    let bytes = store.blob(&entry.hash)?;
                    return Ok(Some((entry, bytes)));
                }
            }
            Ok(None)
        })
        .await?;
    match found {
        Some((entry, Some(bytes))) => Ok((entry, bytes)),
        Some((entry, None)) => Err(OfficeError::NotFound(format!(
            "the bytes of {} (the file was not fully uploaded)",
            entry.name
        ))),
        None => Err(OfficeError::NotFound("file".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_type_follows_its_extension_and_its_name_loses_any_path() {
        assert_eq!(content_type("Plan.PDF", None), "application/pdf");
        assert_eq!(
            content_type("equipment.xlsx", Some("application/octet-stream")),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(
            content_type("notes.odt", Some("application/vnd.oasis.opendocument.text")),
            "application/vnd.oasis.opendocument.text"
        );
        assert_eq!(content_type("blob", None), "application/octet-stream");
        assert_eq!(
            file_name("C:\\Users\\dana\\site plan.pdf").unwrap(),
            "site plan.pdf"
        );
        assert!(file_name("  ").is_err());
    }
}
