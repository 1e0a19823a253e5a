//! Photo blobs on the move, for one connection: uploads of the images made on this tablet
//! (from the store's upload queue, resumed where the server stopped after a drop), and
//! downloads of images the tablet lacks (thumbnails after each catch-up, full images on
//! demand), each verified by its hash before it is kept.

use std::collections::{BTreeMap, BTreeSet};

use fieldsync_protocol::ContentHash;
use fieldsync_protocol::blob::BlobUpload;
use fieldsync_protocol::wire::{ClientMessage, ServerMessage};
use fieldsync_store::Store;

use crate::AppError;

/// Uploads running at once: each keeps a few chunks in flight.
const ACTIVE_UPLOADS: usize = 2;

/// The blob transfers of the current connection.
#[derive(Debug, Default)]
pub(crate) struct Transfers {
    uploads: BTreeMap<ContentHash, BlobUpload>,
    downloads: BTreeSet<ContentHash>,
    /// Transfers that failed on this connection, with why; retried on the next one.
    failed: BTreeMap<ContentHash, String>,
}

impl Transfers {
    /// A new connection (or none): nothing is under way.
    pub(crate) fn reset(&mut self) {
        *self = Transfers::default();
    }

    /// Whether nothing is being uploaded or downloaded.
    pub(crate) fn idle(&self) -> bool {
        self.uploads.is_empty() && self.downloads.is_empty()
    }

    /// Transfers that failed on this connection.
    pub(crate) fn failures(&self) -> Vec<(ContentHash, String)> {
        self.failed
            .iter()
            .map(|(hash, why)| (*hash, why.clone()))
            .collect()
    }

    /// Starts queued uploads, up to [`ACTIVE_UPLOADS`] at once: each first asks the server how
    /// much it has.
    pub(crate) fn start_uploads(&mut self, store: &Store) -> Result<Vec<ClientMessage>, AppError> {
        let mut send = Vec::new();
        for hash in store.queued_uploads()? {
            if self.uploads.len() >= ACTIVE_UPLOADS {
                break;
            }
            if self.uploads.contains_key(&hash) || self.failed.contains_key(&hash) {
                continue;
            }
            let Some(bytes) = store.blob(&hash)? else {
                self.failed
                    .insert(hash, "the image is missing on this tablet".into());
                continue;
            };
            match BlobUpload::new(bytes) {
                Ok(mut upload) => {
                    send.push(upload.start());
                    self.uploads.insert(hash, upload);
                }
                Err(e) => {
                    self.failed.insert(hash, e.to_string());
                }
            }
        }
        Ok(send)
    }

    /// Starts downloading `hash` (from what is already stored of it), unless it is here or
    /// on its way.
    pub(crate) fn download(
        &mut self,
        store: &Store,
        hash: ContentHash,
    ) -> Result<Option<ClientMessage>, AppError> {
        let state = store.blob_state(&hash)?;
        if state.is_some_and(|s| s.complete)
            || self.downloads.contains(&hash)
            || self.failed.contains_key(&hash)
        {
            return Ok(None);
        }
        self.downloads.insert(hash);
        Ok(Some(ClientMessage::BlobGet {
            hash,
            offset: state.map_or(0, |s| s.have),
        }))
    }

    /// A blob message from the server: returns what to send next.
    pub(crate) fn received(
        &mut self,
        store: &mut Store,
        message: ServerMessage,
    ) -> Result<Vec<ClientMessage>, AppError> {
        match message {
            ServerMessage::BlobStatus {
                hash,
                have,
                complete,
            } => {
                let Some(upload) = self.uploads.get_mut(&hash) else {
                    return Ok(Vec::new()); // an answer for an upload of an earlier connection
                };
                let mut send = upload.on_status(have, complete);
                if upload.is_done() {
                    self.uploads.remove(&hash);
                    let tx = store.transaction()?;
                    tx.upload_done(&hash)?;
                    tx.commit()?;
                    send.extend(self.start_uploads(store)?);
                }
                Ok(send)
            }
            ServerMessage::BlobChunk {
                hash,
                total,
                offset,
                bytes,
            } => {
                if !self.downloads.contains(&hash) {
                    return Ok(Vec::new());
                }
                let tx = store.transaction()?;
                let stored = tx.put_blob_chunk(&hash, total, offset, &bytes)?;
                tx.commit()?;
                match stored {
                    Ok(state) if state.complete => {
                        self.downloads.remove(&hash);
                        Ok(Vec::new())
                    }
                    Ok(state) => Ok(vec![ClientMessage::BlobGet {
                        hash,
                        offset: state.have,
                    }]),
                    Err(refused) => {
                        self.downloads.remove(&hash);
                        self.failed.insert(hash, refused.to_string());
                        Ok(Vec::new())
                    }
                }
            }
            ServerMessage::BlobError { hash, message } => {
                let uploading = self.uploads.remove(&hash).is_some();
                let downloading = self.downloads.remove(&hash);
                if !(uploading || downloading) {
                    return Ok(Vec::new());
                }
                self.failed.insert(hash, message);
                if uploading {
                    return self.start_uploads(store);
                }
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::Role;
    use fieldsync_protocol::blob::BLOB_CHUNK;
    use fieldsync_store::host::{ConnectionHost, DeviceContext};
    use fieldsync_store::{Origin, Scope};

    use super::*;

    fn server() -> (Store, ConnectionHost) {
        let host = ConnectionHost::new(DeviceContext::new(Origin(1), Role::Technician, Scope::All));
        (Store::open_in_memory().unwrap(), host)
    }

    fn image(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    /// Delivers messages to the server in order, and its answers back, until quiet or until
    /// `budget` chunks were delivered (then the connection drops: the rest is lost).
    fn pump(
        transfers: &mut Transfers,
        tablet: &mut Store,
        server: &mut (Store, ConnectionHost),
        first: Vec<ClientMessage>,
        budget: usize,
    ) -> usize {
        let mut queue = std::collections::VecDeque::from(first);
        let mut chunks = 0;
        while let Some(message) = queue.pop_front() {
            if matches!(message, ClientMessage::BlobPut { .. }) {
                if chunks == budget {
                    return chunks;
                }
                chunks += 1;
            }
            let (store, host) = server;
            if let Some(answer) = host.blob(store, message).unwrap() {
                queue.extend(transfers.received(tablet, answer).unwrap());
            }
        }
        chunks
    }

    fn queue(tablet: &mut Store, bytes: &[u8]) -> ContentHash {
        let tx = tablet.transaction().unwrap();
        let hash = tx.put_blob(bytes).unwrap().unwrap();
        tx.queue_upload(&hash).unwrap();
        tx.commit().unwrap();
        hash
    }

    #[test]
    fn an_upload_cut_by_a_dropped_connection_resumes_on_the_next() {
        let mut tablet = Store::open_in_memory().unwrap();
        let mut server = server();
        let photo = image(5 * BLOB_CHUNK + 7, 1);
        let thumb = image(BLOB_CHUNK / 2, 2);
        let (thumb_hash, photo_hash) = (queue(&mut tablet, &thumb), queue(&mut tablet, &photo));

        let mut transfers = Transfers::default();
        let first = transfers.start_uploads(&tablet).unwrap();
        assert_eq!(first.len(), 2, "both uploads start by asking the server");
        pump(&mut transfers, &mut tablet, &mut server, first, 3);
        assert_eq!(tablet.queued_uploads().unwrap(), [photo_hash]);
        let have = server.0.blob_state(&photo_hash).unwrap().unwrap().have;
        assert!(have > 0 && have < photo.len() as u64, "{have}");

        // The connection drops; on the next one the upload asks and sends only the rest.
        transfers.reset();
        let first = transfers.start_uploads(&tablet).unwrap();
        let sent = pump(&mut transfers, &mut tablet, &mut server, first, usize::MAX);
        let rest = (photo.len() as u64 - have).div_ceil(BLOB_CHUNK as u64);
        assert_eq!(sent as u64, rest);
        assert!(transfers.idle());
        assert!(tablet.queued_uploads().unwrap().is_empty());
        assert_eq!(server.0.blob(&photo_hash).unwrap().unwrap(), photo);
        assert_eq!(server.0.blob(&thumb_hash).unwrap().unwrap(), thumb);
    }

    #[test]
    fn downloads_are_verified_and_unknown_blobs_reported() {
        let mut server = server();
        let photo = image(2 * BLOB_CHUNK + 3, 9);
        let tx = server.0.transaction().unwrap();
        let hash = tx.put_blob(&photo).unwrap().unwrap();
        tx.commit().unwrap();

        let mut tablet = Store::open_in_memory().unwrap();
        let mut transfers = Transfers::default();
        let ask = transfers.download(&tablet, hash).unwrap();
        assert!(
            transfers.download(&tablet, hash).unwrap().is_none(),
            "asked once"
        );
        pump(
            &mut transfers,
            &mut tablet,
            &mut server,
            ask.into_iter().collect(),
            0,
        );
        assert_eq!(tablet.blob(&hash).unwrap().unwrap(), photo);
        assert!(transfers.idle());

        let unknown = ContentHash::of(b"never uploaded");
        let ask = transfers.download(&tablet, unknown).unwrap();
        pump(
            &mut transfers,
            &mut tablet,
            &mut server,
            ask.into_iter().collect(),
            0,
        );
        assert!(transfers.idle());
        assert_eq!(transfers.failures()[0].0, unknown);
        assert!(tablet.blob(&unknown).unwrap().is_none());
    }
}
