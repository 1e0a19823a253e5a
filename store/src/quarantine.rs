//! Server side: changes refused by validation, kept aside (never applied) for review.

use fieldsync_protocol::DocId;
use rusqlite::{Connection, Transaction, params};

use crate::{Result, codec};

/// A refused change kept for review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    /// Row id.
    pub id: i64,
    /// The device that pushed it.
    pub device: i64,
    /// The document it was for.
    pub doc: DocId,
    /// The change bytes, as pushed.
    pub change: Vec<u8>,
    /// Why it was refused.
    pub reason: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
}

/// Most refused changes kept per device: past it, a device's refusals are still answered but
/// no longer kept (a device refusing thousands of changes is broken or hostile; what is kept
/// shows what it did).
pub const MAX_ROWS_PER_DEVICE: i64 = 10_000;
/// Most bytes of refused changes kept per device; past it, the reason is kept without the
/// change's bytes.
pub const MAX_BYTES_PER_DEVICE: i64 = 64 << 20;
/// How long a refused change is kept for review.
pub const RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;

/// What one device has in quarantine, read once per batch and counted as refusals are added.
#[derive(Debug)]
pub(crate) struct Budget {
    device: i64,
    rows: i64,
    bytes: i64,
}

impl Budget {
    /// `device`'s quarantine as stored.
    pub(crate) fn of(conn: &Connection, device: i64) -> Result<Budget> {
        let (rows, bytes) = conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(length(change)), 0) FROM quarantine
                  WHERE device = ?1",
            )?
            .query_row([device], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(Budget {
            device,
            rows,
            bytes,
        })
    }

    /// Keeps a refused change of the device, within [`MAX_ROWS_PER_DEVICE`] and
    /// [`MAX_BYTES_PER_DEVICE`].
    pub(crate) fn add(
        &mut self,
        tx: &Transaction<'_>,
        doc: DocId,
        change: &[u8],
        reason: &str,
    ) -> Result<()> {
        if self.rows >= MAX_ROWS_PER_DEVICE {
            return Ok(());
        }
        let len = i64::try_from(change.len()).unwrap_or(i64::MAX);
        let dropped;
        let (change, reason) = if self.bytes.saturating_add(len) <= MAX_BYTES_PER_DEVICE {
            (change, reason)
        } else {
            dropped = format!(
                "{reason} (its {len} bytes were not kept: this device's quarantine holds \
                 {MAX_BYTES_PER_DEVICE} bytes already)"
            );
            (&[][..], dropped.as_str())
        };
        tx.prepare_cached(
            "INSERT INTO quarantine (device, doc, change, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            self.device,
            doc.as_bytes(),
            change,
            reason,
            codec::now_ms()
        ])?;
        self.rows += 1;
        self.bytes = self.bytes.saturating_add(change.len() as i64);
        Ok(())
    }
}

/// Deletes refused changes kept since before `before_ms`; returns how many.
pub(crate) fn expire(tx: &Transaction<'_>, before_ms: i64) -> Result<usize> {
    Ok(tx
        .prepare_cached("DELETE FROM quarantine WHERE at < ?1")?
        .execute([before_ms])?)
}

/// The most recent quarantined changes, newest first.
pub(crate) fn recent(conn: &Connection, limit: usize) -> Result<Vec<Quarantined>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, device, doc, change, reason, at FROM quarantine ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
        Ok(Quarantined {
            id: row.get(0)?,
            device: row.get(1)?,
            doc: codec::id(row, 2, DocId::from_slice)?,
            change: row.get(3)?,
            reason: row.get(4)?,
            at_ms: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
