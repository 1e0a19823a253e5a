//! Photo blobs: addressed by the BLAKE3 hash of their bytes, moved in resumable chunks.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler, reconcile::NoKey};
use serde::{Deserialize, Serialize};

/// Largest chunk of blob bytes in one message.
pub const BLOB_CHUNK: usize = 64 * 1024;

/// Largest blob accepted (a downscaled 2,048 px JPEG is far below this).
pub const MAX_BLOB_SIZE: u64 = 16 * 1024 * 1024;

/// The BLAKE3 hash of a blob's bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// Hashes bytes.
    pub fn of(bytes: &[u8]) -> ContentHash {
        ContentHash(*blake3::hash(bytes).as_bytes())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

/// The text is not 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a content hash is 64 hexadecimal digits")]
pub struct BadContentHash;

impl FromStr for ContentHash {
    type Err = BadContentHash;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| BadContentHash)?;
        Ok(ContentHash(out))
    }
}

impl Reconcile for ContentHash {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_string())
    }
}

impl Hydrate for ContentHash {
    fn hydrate_string(s: &str) -> Result<Self, HydrateError> {
        s.parse()
            .map_err(|_| HydrateError::unexpected("a content hash", s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_print_and_parse() {
        let h = ContentHash::of(b"photo bytes");
        assert_eq!(h.to_string().parse::<ContentHash>().unwrap(), h);
        assert!("zz".repeat(32).parse::<ContentHash>().is_err());
        assert!("ab".parse::<ContentHash>().is_err());
    }
}

/// Chunks sent ahead of the server's acknowledgement during an upload.
const WINDOW: u64 = 4;

/// Why a blob cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// Larger than [`MAX_BLOB_SIZE`].
    #[error("a photo of {0} bytes is larger than the limit of {MAX_BLOB_SIZE} bytes")]
    TooLarge(u64),
}

/// The device side of one blob upload (sans I/O). It asks the server how much it already has,
/// then sends chunks from there, a few ahead of the server's acknowledgements; after a dropped
/// connection it starts again with a query and resumes where the server stopped.
#[derive(Debug, Clone)]
pub struct BlobUpload {
    hash: ContentHash,
    bytes: std::sync::Arc<[u8]>,
    next: u64,
    done: bool,
}

impl BlobUpload {
    /// An upload of `bytes`.
    pub fn new(bytes: impl Into<std::sync::Arc<[u8]>>) -> Result<BlobUpload, BlobError> {
        let bytes = bytes.into();
        if bytes.len() as u64 > MAX_BLOB_SIZE {
            return Err(BlobError::TooLarge(bytes.len() as u64));
        }
        Ok(BlobUpload {
            hash: ContentHash::of(&bytes),
            bytes,
            next: 0,
            done: false,
        })
    }

    /// The blob's hash.
    pub fn hash(&self) -> ContentHash {
        self.hash
    }

    /// Whether the server has confirmed the whole blob.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// First message on a (new) connection: how much does the server have?
    pub fn start(&mut self) -> crate::wire::ClientMessage {
        self.next = 0;
        crate::wire::ClientMessage::BlobQuery { hash: self.hash }
    }

    /// The server reported its progress: the chunks to send next.
    pub fn on_status(&mut self, have: u64, complete: bool) -> Vec<crate::wire::ClientMessage> {
        if complete {
            self.done = true;
            return Vec::new();
        }
        let total = self.bytes.len() as u64;
        let chunk = BLOB_CHUNK as u64;
        // Anything before `have` is stored; anything sent beyond it may have been lost.
        self.next = self.next.max(have);
        if self.next < have || self.next > have + WINDOW * chunk {
            self.next = have;
        }
        let mut out = Vec::new();
        while self.next < total && self.next < have + WINDOW * chunk {
            let end = (self.next + chunk).min(total);
            out.push(crate::wire::ClientMessage::BlobPut {
                hash: self.hash,
                total,
                offset: self.next,
                bytes: self.bytes[self.next as usize..end as usize].to_vec(),
            });
            self.next = end;
        }
        if total == 0 && have == 0 {
            out.push(crate::wire::ClientMessage::BlobPut {
                hash: self.hash,
                total,
                offset: 0,
                bytes: Vec::new(),
            });
        }
        out
    }
}
