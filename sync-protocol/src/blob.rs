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
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
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
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(BadContentHash);
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| BadContentHash)?;
            out[i] = u8::from_str_radix(text, 16).map_err(|_| BadContentHash)?;
        }
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
