//! Which user each automerge actor belongs to (the server's record): the user whose device
//! first had a change with it stored. A device's change written with another user's actor is
//! refused (`host::store_checked`).

use automerge::ActorId;
use fieldsync_protocol::UserId;
use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::{Result, codec};

/// The user `actor` belongs to, if any change with it was stored since actors were recorded.
pub(crate) fn owner(conn: &Connection, actor: &ActorId) -> Result<Option<UserId>> {
    Ok(conn
        .prepare_cached("SELECT user FROM actors WHERE actor = ?1")?
        .query_row([actor.to_bytes()], |row| {
            codec::id(row, 0, UserId::from_slice)
        })
        .optional()?)
}

/// Records that `actor` belongs to `user`, unless it belongs to someone already.
pub(crate) fn claim(tx: &Transaction<'_>, actor: &ActorId, user: UserId) -> Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO actors (actor, user, since) VALUES (?1, ?2, ?3)")?
        .execute(rusqlite::params![
            actor.to_bytes(),
            user.as_bytes(),
            codec::now_ms()
        ])?;
    Ok(())
}
