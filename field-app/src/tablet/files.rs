//! Files on the tablet: keeping them within the storage budget, and opening one.

use std::collections::BTreeSet;
use std::path::PathBuf;

use fieldsync_protocol::{AccountId, ContentHash, NoteId, Timestamp};

use super::Tablet;
use crate::AppError;
use crate::files::{file_rows, wanted};

impl Tablet {
    /// Keeps the tablet's files within `budget`: drops the bytes of files no longer wanted
    /// (see [`wanted`]) and returns the hashes of wanted files whose bytes are not here yet,
    /// in the order to download them.
    pub fn keep_files(
        &mut self,
        now: Timestamp,
        budget: u64,
    ) -> Result<Vec<ContentHash>, AppError> {
        let wanted = wanted(&self.store, now, budget)?;
        let keep: BTreeSet<ContentHash> = wanted.iter().map(|f| f.hash).collect();
        let unwanted: BTreeSet<ContentHash> = self
            .store
            .all_files()?
            .into_iter()
            .map(|(_, f)| f.hash)
            .filter(|h| !keep.contains(h))
            .collect();
        let tx = self.store.transaction()?;
        for hash in &unwanted {
            tx.drop_blob(hash)?;
        }
        tx.commit()?;
        let mut missing = Vec::new();
        for file in wanted {
            if !self.store.has_blob(&file.hash)? {
                missing.push(file.hash);
            }
        }
        Ok(missing)
    }

    /// The local copy of file `id` (kept on `account` or one of its sites), written out beside
    /// the replica (`files/<id>/<name>`) for the device's viewer to open. Offline: only from
    /// the bytes on the tablet.
    pub fn open_file(&self, account: AccountId, id: NoteId) -> Result<PathBuf, AppError> {
        let store = &self.store;
        let entry = file_rows(store, account)?
            .into_iter()
            .find(|row| row.file.id == id)
            .map(|row| row.file)
            .ok_or_else(|| AppError::NotFound(format!("file {id}")))?;
        let bytes = store
            .blob(&entry.hash)?
            .filter(|b| ContentHash::of(b) == entry.hash);
        let Some(bytes) = bytes else {
            return Err(AppError::NotFound(format!(
                "{} (not downloaded yet: it comes with the next sync)",
                entry.name
            )));
        };
        let dir = store
            .path()
            .and_then(|db| db.parent().map(|d| d.join("files")))
            .unwrap_or_else(|| std::env::temp_dir().join("fieldsync-files"))
            .join(id.to_string());
        std::fs::create_dir_all(&dir).map_err(AppError::Files)?;
        let name: String = entry
            .name
            .chars()
            .map(|c| {
                if matches!(c, '/' | '\\' | '\0') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let path = dir.join(if name.is_empty() { "file".into() } else { name });
        let partial = dir.join(".partial");
        std::fs::write(&partial, &bytes).map_err(AppError::Files)?;
        std::fs::rename(&partial, &path).map_err(AppError::Files)?;
        Ok(path)
    }
}
