//! Server: the accounts whose documents each device has been given and has not since confirmed
//! dropping (`device_accounts`). They bound what a technician's device may still write after
//! an account left its scope: see [`crate::host::DeviceContext::may_write`].

use std::collections::BTreeSet;

use fieldsync_protocol::AccountId;
use rusqlite::{Connection, Transaction};

use crate::{Result, codec};

/// The accounts recorded for device `number`.
pub(crate) fn get(conn: &Connection, number: i64) -> Result<BTreeSet<AccountId>> {
    let mut stmt = conn.prepare_cached("SELECT account FROM device_accounts WHERE device = ?1")?;
    let rows = stmt.query_map([number], |row| codec::id(row, 0, AccountId::from_slice))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Replaces the accounts recorded for device `number` with `accounts`.
pub(crate) fn set(tx: &Transaction<'_>, number: i64, accounts: &BTreeSet<AccountId>) -> Result<()> {
    let before = get(tx, number)?;
    let mut delete =
        tx.prepare_cached("DELETE FROM device_accounts WHERE device = ?1 AND account = ?2")?;
    for gone in before.difference(accounts) {
        delete.execute(rusqlite::params![number, gone.as_bytes()])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO device_accounts (device, account) VALUES (?1, ?2)",
    )?;
    for new in accounts.difference(&before) {
        insert.execute(rusqlite::params![number, new.as_bytes()])?;
    }
    Ok(())
}
