//! Photo blobs: stored in chunks as they arrive, verified by hash once complete.

use fieldsync_protocol::ContentHash;
use fieldsync_protocol::blob::{BLOB_CHUNK, MAX_BLOB_SIZE};
use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::{Result, codec};

/// Most bytes of blobs one device may have uploaded that no record names yet (images whose
/// photo records have not arrived): a device cannot fill the server's disk with bytes nothing
/// refers to. Honest tablets push their records as they upload, so little is ever unnamed.
pub const MAX_UNNAMED_BYTES_PER_DEVICE: u64 = 256 << 20;

/// How long a blob no record names is kept before it is collected (its record may be on its
/// way from a tablet that lost its connection mid-sync).
pub const UNNAMED_GRACE_MS: i64 = 7 * 24 * 3600 * 1000;

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
    /// The device has uploaded as much as it may that no record names yet.
    #[error(
        "this device has uploaded {unnamed} bytes of images no record names yet, and may keep \
         at most {limit}: sync the photos' records first, then upload again"
    )]
    Quota {
        /// The device's unnamed bytes, this blob's included.
        unnamed: u64,
        /// [`MAX_UNNAMED_BYTES_PER_DEVICE`].
        limit: u64,
    },
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

/// Stores one chunk, uploaded by `device` (`None`: this replica's own, or the office). A
/// chunk at an offset other than the current `have` is ignored (a resend or one that overtook
/// a lost chunk); the answer then says where to resume. A device's new blob is refused when
/// it would take the device past [`MAX_UNNAMED_BYTES_PER_DEVICE`].
pub(crate) fn put(
    tx: &Transaction<'_>,
    hash: &ContentHash,
    total: u64,
    offset: u64,
    bytes: &[u8],
    device: Option<i64>,
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
            if let Some(device) = device {
                let unnamed = unnamed_bytes(tx, device)?.saturating_add(total);
                if unnamed > MAX_UNNAMED_BYTES_PER_DEVICE {
                    return Ok(Err(BlobRefusal::Quota {
                        unnamed,
                        limit: MAX_UNNAMED_BYTES_PER_DEVICE,
                    }));
                }
            }
            tx.prepare_cached(
                "INSERT INTO blobs (hash, size, have, complete, device, at)
                 VALUES (?1, ?2, 0, 0, ?3, ?4)",
            )?
            .execute(rusqlite::params![
                &hash.0[..],
                total as i64,
                device,
                codec::now_ms()
            ])?;
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
        delete(tx, &hash.0)?;
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

/// Deletes a blob's chunks and its row (`hash` as stored); returns whether there was one.
pub(crate) fn delete(tx: &Transaction<'_>, hash: &[u8]) -> Result<bool> {
    tx.prepare_cached("DELETE FROM blob_chunks WHERE hash = ?1")?
        .execute([hash])?;
    Ok(tx
        .prepare_cached("DELETE FROM blobs WHERE hash = ?1")?
        .execute([hash])?
        > 0)
}

/// Whether a record names the blob (a photo's image or thumbnail, an invoice's signature, a
/// file); once seen so, the blob is marked named for good.
fn named(tx: &Transaction<'_>, hash: &ContentHash) -> Result<bool> {
    if crate::queries::photo_accounts(tx, hash)?.is_empty() {
        return Ok(false);
    }
    tx.prepare_cached("UPDATE blobs SET named = 1 WHERE hash = ?1")?
        .execute([&hash.0[..]])?;
    Ok(true)
}

/// The bytes of the blobs `device` uploaded that no record names yet.
fn unnamed_bytes(tx: &Transaction<'_>, device: i64) -> Result<u64> {
    let blobs: Vec<(Vec<u8>, i64)> = tx
        .prepare_cached("SELECT hash, size FROM blobs WHERE device = ?1 AND named = 0")?
        .query_map([device], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut unnamed = 0u64;
    for (hash, size) in blobs {
        let Ok(hash) = <[u8; 32]>::try_from(hash) else {
            continue;
        };
        if !named(tx, &ContentHash(hash))? {
            unnamed = unnamed.saturating_add(u64::try_from(size).unwrap_or(0));
        }
    }
    Ok(unnamed)
}

/// Deletes blobs that no record names and that arrived before `before_ms`, at most `most`
/// of them; returns how many and their bytes. Blobs found named on the way are marked so.
pub(crate) fn collect_unnamed(
    tx: &Transaction<'_>,
    before_ms: i64,
    most: usize,
) -> Result<(usize, u64)> {
    let candidates: Vec<(Vec<u8>, i64)> = tx
        .prepare_cached(
            "SELECT hash, size FROM blobs WHERE named = 0 AND at < ?1 ORDER BY at LIMIT ?2",
        )?
        .query_map(
            rusqlite::params![before_ms, i64::try_from(most).unwrap_or(i64::MAX)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let (mut count, mut bytes) = (0, 0u64);
    for (raw, size) in candidates {
        let hash = <[u8; 32]>::try_from(raw.as_slice()).map(ContentHash);
        if let Ok(hash) = hash
            && named(tx, &hash)?
        {
            continue;
        }
        delete(tx, &raw)?;
        count += 1;
        bytes = bytes.saturating_add(u64::try_from(size).unwrap_or(0));
    }
    Ok((count, bytes))
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

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{Photo, PhotoId, PhotoTag, Record, Role};

    use super::*;
    use crate::fixtures::*;

    #[test]
    fn a_devices_unnamed_uploads_are_bounded_and_collected_unless_a_record_names_them() {
        let mut server = Company::harbor_alone();
        let device = 7;
        let (full, thumb, stray) = (b"full image".to_vec(), b"thumb".to_vec(), b"stray".to_vec());
        let tx = server.store.transaction().unwrap();
        for bytes in [&full, &thumb, &stray] {
            let hash = ContentHash::of(bytes);
            let state = tx
                .put_device_blob_chunk(device, &hash, bytes.len() as u64, 0, bytes)
                .unwrap()
                .unwrap();
            assert!(state.complete);
        }
        // Blobs declaring 16 MiB each, one byte sent: what they declare is reserved, and past
        // the quota a new one is refused, for this device only.
        let declared = |n: u8| ContentHash::of(&[n, 0xb1]);
        for n in 0..15 {
            let put = tx.put_device_blob_chunk(device, &declared(n), MAX_BLOB_SIZE, 0, b"b");
            assert!(put.unwrap().is_ok(), "blob {n}");
        }
        let refused = tx
            .put_device_blob_chunk(device, &declared(15), MAX_BLOB_SIZE, 0, b"b")
            .unwrap();
        let Err(BlobRefusal::Quota { unnamed, limit }) = refused else {
            panic!("{refused:?}");
        };
        assert_eq!(limit, MAX_UNNAMED_BYTES_PER_DEVICE);
        assert_eq!(unnamed, 16 * MAX_BLOB_SIZE + 20);
        let other = tx.put_device_blob_chunk(8, &declared(15), MAX_BLOB_SIZE, 0, b"b");
        assert!(other.unwrap().is_ok());
        tx.commit().unwrap();

        // A photo record names two of them.
        let (job_doc, mut job) = (server.job.0, server.job.1.clone());
        let office = writer(Role::Office, "Dana");
        let change = edit(&mut job, &office, |r| {
            let Record::Job(j) = r else { unreachable!() };
            let photo = Photo {
                id: PhotoId::new(),
                caption: "Boiler".into(),
                tag: PhotoTag::Before,
                taken_at: now(),
                author: office.author.user,
                author_name: "dana".into(),
                width: 10,
                height: 10,
                full_hash: ContentHash::of(&full),
                full_size: full.len() as u64,
                thumb_hash: ContentHash::of(&thumb),
                thumb_size: thumb.len() as u64,
            };
            j.photos.insert(photo.id, photo);
        });
        let tx = server.store.transaction().unwrap();
        tx.record_local(job_doc, &mut job, &change, false).unwrap();
        // Now the device has room again: what the record names no longer counts.
        assert!(
            tx.put_device_blob_chunk(device, &ContentHash::of(b"x"), 1, 0, b"x")
                .unwrap()
                .is_ok()
        );
        // Within the week nothing goes; after it, the blobs no record names do.
        let wall = codec::now_ms();
        let week_on = wall + UNNAMED_GRACE_MS + 1;
        assert_eq!(tx.collect_unnamed_blobs(wall, 100).unwrap(), (0, 0));
        let (count, _) = tx.collect_unnamed_blobs(week_on, 100).unwrap();
        assert_eq!(count, 18, "the stray one, the 16 half-uploaded ones, x");
        tx.commit().unwrap();
        for bytes in [&full, &thumb] {
            assert!(
                server
                    .store
                    .blob(&ContentHash::of(bytes))
                    .unwrap()
                    .is_some()
            );
        }
        assert!(
            server
                .store
                .blob(&ContentHash::of(&stray))
                .unwrap()
                .is_none()
        );
        assert!(server.store.blob_state(&declared(0)).unwrap().is_none());
    }
}
