//! The lineage of the change sequence ([`Lineage`]): written with every change, read to check
//! a device's cursor and to tell a device where it stands.

use fieldsync_protocol::wire::Lineage;
use rusqlite::{Connection, OptionalExtension};

use crate::{Result, codec};

/// Reads a lineage column; `NULL` (never left by the migration) reads as empty.
fn column(value: Option<Vec<u8>>) -> Lineage {
    value
        .and_then(|bytes| <[u8; 16]>::try_from(bytes.as_slice()).ok())
        .map_or(Lineage::EMPTY, Lineage)
}

/// The latest sequence number and its lineage; `(0, EMPTY)` for an empty log.
pub(crate) fn latest(conn: &Connection) -> Result<(u64, Lineage)> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, lineage FROM changes ORDER BY seq DESC LIMIT 1")?;
    let row = stmt
        .query_row([], |row| Ok((row.get::<_, i64>(0)?, row.get(1)?)))
        .optional()?;
    Ok(row.map_or((0, Lineage::EMPTY), |(seq, lineage)| {
        (codec::seq_of(seq), column(lineage))
    }))
}

/// The lineage at `seq`: `None` when this database has no change numbered `seq`.
pub(crate) fn at(conn: &Connection, seq: u64) -> Result<Option<Lineage>> {
    if seq == 0 {
        return Ok(Some(Lineage::EMPTY));
    }
    let mut stmt = conn.prepare_cached("SELECT lineage FROM changes WHERE seq = ?1")?;
    Ok(stmt
        .query_row([codec::seq(seq)], |row| row.get(0))
        .optional()?
        .map(column))
}

/// Migration hook: the lineage of every change already stored, in sequence order.
pub(crate) fn fill(tx: &rusqlite::Transaction<'_>) -> rusqlite_migration::HookResult {
    let changes: Vec<(i64, Vec<u8>)> = tx
        .prepare("SELECT seq, hash FROM changes ORDER BY seq")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = tx.prepare("UPDATE changes SET lineage = ?2 WHERE seq = ?1")?;
    let mut lineage = Lineage::EMPTY;
    for (seq, hash) in changes {
        // A hash column of another size cannot be in this table (it is checked on insert).
        let Ok(hash) = automerge::ChangeHash::try_from(hash.as_slice()) else {
            continue;
        };
        lineage = lineage.then(&hash);
        update.execute(rusqlite::params![seq, &lineage.0[..]])?;
    }
    Ok(())
}
