//! Photo blobs: stored in chunks as they arrive, verified by hash once complete.

use fieldsync_protocol::ContentHash;
use fieldsync_protocol::blob::{BLOB_CHUNK, MAX_BLOB_SIZE};
use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::Result;

/// Where an upload stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobState {
    /// Bytes stored so far: where the upload resumes.
    pub have: u64,
    /// Total size, once known.
    pub size: Option<u64>,
    /// Stored completely and verified.
    pub complete: bool,
}

/// Why a chunk was not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlobRefusal {
    /// Larger than the limit.
    #[error("a blob of {0} bytes exceeds the limit of {MAX_BLOB_SIZE} bytes")]
    TooLarge(u64),
    /// The chunk does not fit the blob's declared size, or is larger than a chunk.
    #[error("chunk at {offset} of {len} bytes does not fit a blob of {total} bytes")]
    BadChunk {
        /// Offset of the chunk.
        offset: u64,
        /// Its length.
        len: u64,
        /// The blob's size.
        total: u64,
    },
    /// The bytes do not hash to the blob's name; everything received was discarded.
    #[error("the received bytes do not match the hash; upload again")]
    HashMismatch,
}

/// The state of a blob, if any of it is stored.
pub(crate) fn state(conn: &Connection, hash: &ContentHash) -> Result<Option<BlobState>> {
    Ok(conn
        .prepare_cached("SELECT size, have, complete FROM blobs WHERE hash = ?1")?
        .query_row([&hash.0[..]], |row| {
            Ok(BlobState {
                size: Some(row.get::<_, i64>(0)? as u64),
                have: row.get::<_, i64>(1)? as u64,
                complete: row.get::<_, i64>(2)? != 0,
            })
        })
        .optional()?)
}

/// Stores one chunk. A chunk at an offset other than the current `have` is ignored (a resend
/// or one that overtook a lost chunk); the answer then says where to resume.
pub(crate) fn put(
    tx: &Transaction<'_>,
    hash: &ContentHash,
    total: u64,
    offset: u64,
    bytes: &[u8],
) -> Result<std::result::Result<BlobState, BlobRefusal>> {
    if total > MAX_BLOB_SIZE {
        return Ok(Err(BlobRefusal::TooLarge(total)));
    }
    let len = bytes.len() as u64;
    if len > BLOB_CHUNK as u64 || offset.checked_add(len).is_none_or(|end| end > total) {
        return Ok(Err(BlobRefusal::BadChunk { offset, len, total }));
    }
    let current = match state(tx, hash)? {
        Some(s) if s.size != Some(total) => {
            return Ok(Err(BlobRefusal::BadChunk {
                offset,
                len,
                total: s.size.unwrap_or(0),
            }));
        }
        Some(s) => s,
        None => {
            tx.prepare_cached(
                "INSERT INTO blobs (hash, size, have, complete) VALUES (?1, ?2, 0, 0)",
            )?
            .execute(rusqlite::params![&hash.0[..], total as i64])?;
            BlobState {
                have: 0,
                size: Some(total),
                complete: false,
            }
        }
    };
    if current.complete || offset != current.have {
        return Ok(Ok(current));
    }
    tx.prepare_cached("INSERT INTO blob_chunks (hash, offset, bytes) VALUES (?1, ?2, ?3)")?
        .execute(rusqlite::params![&hash.0[..], offset as i64, bytes])?;
    let have = offset + len;
    let complete = have == total;
    if complete && ContentHash::of(&read(tx, hash)?.unwrap_or_default()) != *hash {
        tx.prepare_cached("DELETE FROM blob_chunks WHERE hash = ?1")?
            .execute([&hash.0[..]])?;
        tx.prepare_cached("DELETE FROM blobs WHERE hash = ?1")?
            .execute([&hash.0[..]])?;
        return Ok(Err(BlobRefusal::HashMismatch));
    }
    tx.prepare_cached("UPDATE blobs SET have = ?2, complete = ?3 WHERE hash = ?1")?
        .execute(rusqlite::params![&hash.0[..], have as i64, complete as i64])?;
    Ok(Ok(BlobState {
        have,
        size: Some(total),
        complete,
    }))
}

/// All bytes stored for a blob, in order (complete or not).
pub(crate) fn read(conn: &Connection, hash: &ContentHash) -> Result<Option<Vec<u8>>> {
    let mut statement =
        conn.prepare_cached("SELECT bytes FROM blob_chunks WHERE hash = ?1 ORDER BY offset")?;
    let mut rows = statement.query([&hash.0[..]])?;
    let mut out = Vec::new();
    let mut any = false;
    while let Some(row) = rows.next()? {
        any = true;
        out.extend_from_slice(row.get_ref(0)?.as_blob()?);
    }
    Ok(any.then_some(out))
}

/// The complete blob's chunk that starts at or contains `offset`: (chunk offset, bytes, total).
pub(crate) fn chunk_at(
    conn: &Connection,
    hash: &ContentHash,
    offset: u64,
) -> Result<Option<(u64, Vec<u8>, u64)>> {
    let Some(BlobState {
        complete: true,
        size: Some(total),
        ..
    }) = state(conn, hash)?
    else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached(
            "SELECT offset, bytes FROM blob_chunks WHERE hash = ?1 AND offset <= ?2
             ORDER BY offset DESC LIMIT 1",
        )?
        // SQLite integers are signed: an offset past i64::MAX is past every chunk anyway.
        .query_row(
            rusqlite::params![&hash.0[..], offset.min(i64::MAX as u64) as i64],
            |row| {
                Ok((
                    row.get::<_, i64>(0)? as u64,
                    row.get::<_, Vec<u8>>(1)?,
                    total,
                ))
            },
        )
        .optional()?)
}
