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

pub(crate) fn add(
    tx: &Transaction<'_>,
    device: i64,
    doc: DocId,
    change: &[u8],
    reason: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO quarantine (device, doc, change, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        device,
        doc.as_bytes(),
        change,
        reason,
        codec::now_ms()
    ])?;
    Ok(())
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
