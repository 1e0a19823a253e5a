//! Conversions between Rust values and SQLite columns: ids as 16-byte blobs, heads as
//! concatenated 32-byte hashes, sequence numbers as integers.

use automerge::ChangeHash;
use rusqlite::Row;
use rusqlite::types::Type;

/// Reads a 16-byte id column (any of the protocol's id newtypes).
pub(crate) fn id<T>(
    row: &Row<'_>,
    idx: usize,
    parse: fn(&[u8]) -> Result<T, uuid::Error>,
) -> rusqlite::Result<T> {
    let bytes = row.get_ref(idx)?.as_blob()?;
    parse(bytes).map_err(|e| conversion(idx, Type::Blob, e))
}

/// Reads a 32-byte change hash column.
pub(crate) fn hash(row: &Row<'_>, idx: usize) -> rusqlite::Result<ChangeHash> {
    let bytes = row.get_ref(idx)?.as_blob()?;
    ChangeHash::try_from(bytes).map_err(|e| conversion(idx, Type::Blob, e))
}

/// Reads a 32-byte hash column as plain bytes.
pub(crate) fn hash_bytes(row: &Row<'_>, idx: usize) -> rusqlite::Result<[u8; 32]> {
    let bytes = row.get_ref(idx)?.as_blob()?;
    <[u8; 32]>::try_from(bytes).map_err(|e| conversion(idx, Type::Blob, e))
}

/// Reads a JSON text column into a record.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<T> {
    let text = row.get_ref(idx)?.as_str()?;
    serde_json::from_str(text).map_err(|e| conversion(idx, Type::Text, e))
}

/// Reads a text column through `FromStr` (the protocol's string enums).
pub(crate) fn parsed<T>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text = row.get_ref(idx)?.as_str()?;
    text.parse().map_err(|e| conversion(idx, Type::Text, e))
}

fn conversion(
    idx: usize,
    ty: Type,
    e: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, Box::new(e))
}

/// Heads as stored: sorted hashes, concatenated.
pub(crate) fn heads_blob(heads: &[ChangeHash]) -> Vec<u8> {
    let mut sorted = heads.to_vec();
    sorted.sort_unstable();
    sorted.iter().flat_map(|h| h.0).collect()
}

/// Heads from their stored form.
pub(crate) fn heads_from_blob(blob: &[u8]) -> Option<Vec<ChangeHash>> {
    if !blob.len().is_multiple_of(32) {
        return None;
    }
    blob.chunks_exact(32)
        .map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

/// A sequence number as stored (SQLite integers are signed; seqs never reach 2^63).
pub(crate) fn seq(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A sequence number read back.
pub(crate) fn seq_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
