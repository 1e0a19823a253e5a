//! The `meta` table: this database's epoch, and the tablet's cursor in the server's change
//! sequence.

use fieldsync_protocol::wire::{Cursor, Lineage};
use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::{Result, StoreError};

fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    let mut stmt = conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?;
    Ok(stmt.query_row([key], |row| row.get(0)).optional()?)
}

fn bad(key: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("meta {key} is {value:?}"))
}

/// Reads the epoch, making a random one on the first open.
pub(crate) fn ensure_epoch(conn: &Connection) -> Result<u64> {
    let fresh = uuid::Uuid::new_v4().as_u64_pair().0;
    conn.prepare_cached("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?1)")?
        .execute([fresh.to_string()])?;
    let value = get(conn, "epoch")?.unwrap_or_default();
    value.parse().map_err(|_| bad("epoch", &value))
}

/// The stored cursor and its lineage. A cursor stored before lineages existed has the empty
/// lineage: the server then repairs once rather than trust it.
pub(crate) fn cursor(conn: &Connection) -> Result<Option<(Cursor, Lineage)>> {
    let Some(value) = get(conn, "cursor")? else {
        return Ok(None);
    };
    let parse = |value: &str| {
        let mut parts = value.split(' ');
        let cursor = Cursor {
            epoch: parts.next()?.parse().ok()?,
            seq: parts.next()?.parse().ok()?,
        };
        let lineage = match parts.next() {
            Some(hex) => Lineage::from_hex(hex)?,
            None => Lineage::EMPTY,
        };
        parts.next().is_none().then_some((cursor, lineage))
    };
    parse(&value).map(Some).ok_or_else(|| bad("cursor", &value))
}

/// Stores (or, with `None`, forgets) the cursor and its lineage.
pub(crate) fn set_cursor(tx: &Transaction<'_>, cursor: Option<(Cursor, Lineage)>) -> Result<()> {
    match cursor {
        Some((Cursor { epoch, seq }, lineage)) => {
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?1)")?
                .execute([format!("{epoch} {seq} {}", lineage.to_hex())])?;
        }
        None => {
            tx.prepare_cached("DELETE FROM meta WHERE key = 'cursor'")?
                .execute([])?;
        }
    }
    Ok(())
}

/// Tablet: the furthest acknowledgement received (the server's latest sequence number after
/// the commit, and its lineage); `(0, EMPTY)` before any.
pub(crate) fn acked_at(conn: &Connection) -> Result<(u64, Lineage)> {
    let Some(value) = get(conn, "acked_at")? else {
        return Ok((0, Lineage::EMPTY));
    };
    let parse = |value: &str| {
        let (seq, lineage) = value.split_once(' ')?;
        Some((seq.parse().ok()?, Lineage::from_hex(lineage)?))
    };
    parse(&value).ok_or_else(|| bad("acked_at", &value))
}

/// Tablet: keeps the furthest acknowledgement.
pub(crate) fn set_acked_at(tx: &Transaction<'_>, (seq, lineage): (u64, Lineage)) -> Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('acked_at', ?1)")?
        .execute([format!("{seq} {}", lineage.to_hex())])?;
    Ok(())
}

/// Adds one to the named counter and returns its new value (1 the first time). Used for the
/// device's own invoice numbers, which must never repeat, also across restarts.
/// The counters a server hands numbers out of ([`next_counter`]; device numbers, see
/// `people::add_device`).
pub(crate) const COUNTERS: [&str; 3] = ["invoice", "account_number", "device_number"];

pub(crate) fn next_counter(tx: &Transaction<'_>, name: &str) -> Result<u64> {
    debug_assert!(
        COUNTERS.contains(&name),
        "counter {name} is not in COUNTERS"
    );
    let key = format!("counter:{name}");
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, 1)
         ON CONFLICT (key) DO UPDATE SET value = value + 1",
    )?
    .execute([&key])?;
    let value: i64 = tx
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([&key], |row| row.get(0))?;
    u64::try_from(value).map_err(|_| bad(&key, &value.to_string()))
}

/// The company's name, address and phone (as invoices print them); empty until set.
pub(crate) fn company(conn: &Connection) -> Result<fieldsync_protocol::Company> {
    let json: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'company'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    json.map_or(Ok(fieldsync_protocol::Company::default()), |json| {
        serde_json::from_str(&json).map_err(|e| bad("company", &e.to_string()))
    })
}

/// Sets the company's name, address and phone.
pub(crate) fn set_company(
    tx: &Transaction<'_>,
    company: &fieldsync_protocol::Company,
) -> Result<()> {
    let json = serde_json::to_string(company).map_err(|e| bad("company", &e.to_string()))?;
    tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('company', ?1)")?
        .execute([json])?;
    Ok(())
}

/// The company's custom field definitions, in order (none until the office defines some).
pub(crate) fn custom_fields(
    conn: &Connection,
) -> Result<Vec<fieldsync_protocol::custom_fields::FieldDef>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'custom_fields'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    json.map_or(Ok(Vec::new()), |json| {
        serde_json::from_str(&json).map_err(|e| bad("custom_fields", &e.to_string()))
    })
}

/// Sets the company's custom field definitions (checked by the caller).
pub(crate) fn set_custom_fields(
    tx: &Transaction<'_>,
    defs: &[fieldsync_protocol::custom_fields::FieldDef],
) -> Result<()> {
    let json = serde_json::to_string(defs).map_err(|e| bad("custom_fields", &e.to_string()))?;
    tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('custom_fields', ?1)")?
        .execute([json])?;
    Ok(())
}

/// Up to which sequence number the server has written the system notes of payments recorded
/// on devices (`None` before its first run).
pub(crate) fn payment_notes_upto(conn: &Connection) -> Result<Option<u64>> {
    get(conn, "payment_notes_upto")?
        .map(|value| value.parse().map_err(|_| bad("payment_notes_upto", &value)))
        .transpose()
}

/// Records [`payment_notes_upto`].
pub(crate) fn set_payment_notes_upto(tx: &Transaction<'_>, seq: u64) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('payment_notes_upto', ?1)",
    )?
    .execute([seq.to_string()])?;
    Ok(())
}

/// Whether the change log holds a change with this hash.
pub(crate) fn has_change(conn: &Connection, hash: &[u8; 32]) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM changes WHERE hash = ?1")?
        .exists([&hash[..]])?)
}

/// Whether any job document of `account` is stored (a customer made in the field has none
/// until its first job arrives).
pub(crate) fn account_has_jobs(
    conn: &Connection,
    account: fieldsync_protocol::AccountId,
) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM documents WHERE account = ?1 AND kind = 'job' LIMIT 1")?
        .exists([account.as_bytes()])?)
}

/// The account of a stored document; `None` if unknown (or unreadable, which no scope holds).
pub(crate) fn doc_account(
    conn: &Connection,
    doc: fieldsync_protocol::DocId,
) -> Result<Option<fieldsync_protocol::AccountId>> {
    let account: Option<Option<Vec<u8>>> = conn
        .prepare_cached("SELECT account FROM documents WHERE id = ?1")?
        .query_row([doc.as_bytes()], |row| row.get(0))
        .optional()?;
    match account.flatten() {
        Some(bytes) => fieldsync_protocol::AccountId::from_slice(&bytes)
            .map(Some)
            .map_err(|_| bad("documents.account", "not an id")),
        None => Ok(None),
    }
}
