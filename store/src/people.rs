//! Server side: the `users` and `devices` tables. A device is one user's tablet, paired with a
//! bearer token of which only the hash is kept; it is revoked, never deleted, so its number
//! (the origin stamped on its changes) is never given out twice.

use fieldsync_protocol::{DeviceId, Role, UserId};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::{Result, StoreError, codec};

/// A person who uses Fieldsync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Their id.
    pub id: UserId,
    /// Their login name, unique regardless of case.
    pub name: String,
    /// What they may do.
    pub role: Role,
}

/// A registered device (a tablet) of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Its id.
    pub id: DeviceId,
    /// Whose device it is.
    pub user: User,
    /// The number stamped on its changes and invoice numbers: 1, 2, ... (the server is 0).
    pub number: i64,
    /// A name for people ("Tess's tablet").
    pub name: String,
    /// BLAKE3 hash of its bearer token.
    pub token_hash: [u8; 32],
    /// Revoked devices may no longer sync; the caller refuses them.
    pub revoked: bool,
}

const USER_COLUMNS: &str = "id, name, role";

fn user_row(row: &Row<'_>, first: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: codec::id(row, first, UserId::from_slice)?,
        name: row.get(first + 1)?,
        role: codec::parsed(row, first + 2)?,
    })
}

/// Devices joined with their users; the user's columns come after the device's five.
const DEVICE_SELECT: &str = "SELECT d.id, d.number, d.name, d.token_hash, d.revoked_at IS NOT NULL,
            u.id, u.name, u.role
     FROM devices d JOIN users u ON u.id = d.user";

fn device_row(row: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: codec::id(row, 0, DeviceId::from_slice)?,
        number: row.get(1)?,
        name: row.get(2)?,
        token_hash: codec::hash_bytes(row, 3)?,
        revoked: row.get(4)?,
        user: user_row(row, 5)?,
    })
}

/// Adds a user; [`StoreError::NameTaken`] if the name is taken (regardless of case).
pub(crate) fn add_user(
    tx: &Transaction<'_>,
    name: &str,
    role: Role,
    password_hash: Option<&str>,
) -> Result<User> {
    // The transaction holds the write lock, so nobody can take the name in between.
    if let Some((existing, _)) = user_by_name(tx, name)? {
        return Err(StoreError::NameTaken {
            name: existing.name,
        });
    }
    let user = User {
        id: UserId::new(),
        name: name.to_string(),
        role,
    };
    tx.prepare_cached(
        "INSERT INTO users (id, name, role, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        user.id.as_bytes(),
        user.name,
        role.as_str(),
        password_hash,
        codec::now_ms()
    ])?;
    Ok(user)
}

/// A user and their password hash, by name regardless of case.
pub(crate) fn user_by_name(
    conn: &Connection,
    name: &str,
) -> Result<Option<(User, Option<String>)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = ?1"
    ))?;
    Ok(stmt
        .query_row([name], |row| Ok((user_row(row, 0)?, row.get(3)?)))
        .optional()?)
}

fn user_by_id(conn: &Connection, id: UserId) -> Result<Option<User>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?;
    Ok(stmt
        .query_row([id.as_bytes()], |row| user_row(row, 0))
        .optional()?)
}

/// Every user, by name.
pub(crate) fn users(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
    let rows = stmt.query_map([], |row| user_row(row, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Registers a device of `user` with the next free number; [`StoreError::UnknownUser`] if
/// there is no such user.
pub(crate) fn add_device(
    tx: &Transaction<'_>,
    user: UserId,
    name: &str,
    token_hash: [u8; 32],
) -> Result<Device> {
    let user = user_by_id(tx, user)?.ok_or(StoreError::UnknownUser(user))?;
    // Revoked devices keep their rows, so max + 1 never reuses a number; the counter is what a
    // restore moves on (a device paired after the backup had a number the copy lacks).
    let number: i64 = tx
        .prepare_cached(
            "SELECT MAX(COALESCE((SELECT MAX(number) FROM devices), 0),
                        COALESCE((SELECT value FROM meta WHERE key = 'counter:device_number'), 0))
                    + 1",
        )?
        .query_row([], |row| row.get(0))?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('counter:device_number', ?1)",
    )?
    .execute([number])?;
    let device = Device {
        id: DeviceId::new(),
        user,
        number,
        name: name.to_string(),
        token_hash,
        revoked: false,
    };
    tx.prepare_cached(
        "INSERT INTO devices (id, user, number, name, token_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        device.id.as_bytes(),
        device.user.id.as_bytes(),
        number,
        device.name,
        &token_hash[..],
        codec::now_ms()
    ])?;
    Ok(device)
}

/// Revokes a device; `false` if it is unknown or already revoked.
pub(crate) fn revoke_device(tx: &Transaction<'_>, id: DeviceId) -> Result<bool> {
    let changed = tx
        .prepare_cached("UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")?
        .execute(params![id.as_bytes(), codec::now_ms()])?;
    Ok(changed == 1)
}

/// The device whose token hashes to `hash`, revoked or not.
pub(crate) fn device_by_token_hash(conn: &Connection, hash: &[u8; 32]) -> Result<Option<Device>> {
    let mut stmt = conn.prepare_cached(&format!("{DEVICE_SELECT} WHERE d.token_hash = ?1"))?;
    Ok(stmt.query_row([&hash[..]], device_row).optional()?)
}

/// The device with this number, revoked or not.
pub(crate) fn device_by_number(conn: &Connection, number: i64) -> Result<Option<Device>> {
    let mut stmt = conn.prepare_cached(&format!("{DEVICE_SELECT} WHERE d.number = ?1"))?;
    Ok(stmt.query_row([number], device_row).optional()?)
}

/// Every device, revoked ones included, by number.
pub(crate) fn devices(conn: &Connection) -> Result<Vec<Device>> {
    let mut stmt = conn.prepare_cached(&format!("{DEVICE_SELECT} ORDER BY d.number"))?;
    let rows = stmt.query_map([], device_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A signed-in office session as stored (see `office_sessions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeSession {
    /// BLAKE3 of the cookie's secret.
    pub hash: [u8; 32],
    /// Who signed in.
    pub user: User,
    /// When, in milliseconds since the Unix epoch.
    pub created_ms: i64,
}

/// Every stored office session whose user still exists, oldest first.
pub(crate) fn office_sessions(conn: &Connection) -> Result<Vec<OfficeSession>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT s.hash, s.created_ms, {} FROM office_sessions s JOIN users u ON u.id = s.user
         ORDER BY s.created_ms",
        USER_COLUMNS
            .split(',')
            .map(|c| format!("u.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let rows = stmt.query_map([], |row| {
        let hash: Vec<u8> = row.get(0)?;
        Ok((hash, row.get::<_, i64>(1)?, user_row(row, 2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (hash, created_ms, user) = row?;
        if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
            out.push(OfficeSession {
                hash,
                user,
                created_ms,
            });
        }
    }
    Ok(out)
}

/// Stores a new office session.
pub(crate) fn add_office_session(
    tx: &Transaction<'_>,
    hash: &[u8; 32],
    user: UserId,
    created_ms: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO office_sessions (hash, user, created_ms) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![&hash[..], user.as_bytes(), created_ms])?;
    Ok(())
}

/// Ends the office session with this hash, and every one created before `expired_before_ms`.
pub(crate) fn end_office_session(
    tx: &Transaction<'_>,
    hash: Option<&[u8; 32]>,
    expired_before_ms: i64,
) -> Result<()> {
    tx.prepare_cached("DELETE FROM office_sessions WHERE hash = ?1 OR created_ms < ?2")?
        .execute(params![hash.map(|h| h.to_vec()), expired_before_ms])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn add_user(store: &mut Store, name: &str, role: Role, password: Option<&str>) -> Result<User> {
        let tx = store.transaction()?;
        let user = tx.add_user(name, role, password)?;
        tx.commit()?;
        Ok(user)
    }

    fn add_device(store: &mut Store, user: UserId, name: &str, hash: u8) -> Result<Device> {
        let tx = store.transaction()?;
        let device = tx.add_device(user, name, [hash; 32])?;
        tx.commit()?;
        Ok(device)
    }

    #[test]
    fn users_are_found_by_name_regardless_of_case_with_their_password_hash() {
        let mut store = Store::open_in_memory().unwrap();
        let tess = add_user(&mut store, "Tess", Role::Technician, None).unwrap();
        let olga = add_user(&mut store, "olga", Role::Office, Some("$argon2id$x")).unwrap();

        assert_eq!(
            store.user_by_name("tESS").unwrap(),
            Some((tess.clone(), None))
        );
        assert_eq!(
            store.user_by_name("Olga").unwrap(),
            Some((olga.clone(), Some("$argon2id$x".to_string())))
        );
        assert_eq!(store.user_by_name("nobody").unwrap(), None);
        assert_eq!(store.users().unwrap(), vec![olga, tess]);
    }

    #[test]
    fn a_taken_name_is_refused_regardless_of_case_and_nothing_is_written() {
        let mut store = Store::open_in_memory().unwrap();
        add_user(&mut store, "Tess", Role::Technician, None).unwrap();

        let err = add_user(&mut store, "TESS", Role::Admin, None).unwrap_err();

        assert!(
            matches!(&err, StoreError::NameTaken { name } if name == "Tess"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), r#"a user named "Tess" already exists"#);
        assert_eq!(store.users().unwrap().len(), 1);
    }

    #[test]
    fn devices_are_numbered_from_one_and_found_by_token_hash() {
        let mut store = Store::open_in_memory().unwrap();
        let tess = add_user(&mut store, "Tess", Role::Technician, None).unwrap();
        let first = add_device(&mut store, tess.id, "Tess's tablet", 1).unwrap();
        let second = add_device(&mut store, tess.id, "spare", 2).unwrap();

        assert_eq!((first.number, second.number), (1, 2));
        assert_eq!(first.user, tess);
        assert!(!first.revoked);
        assert_eq!(
            store.device_by_token_hash(&[2; 32]).unwrap(),
            Some(second.clone())
        );
        assert_eq!(store.device_by_token_hash(&[3; 32]).unwrap(), None);
        assert_eq!(store.device_by_number(1).unwrap(), Some(first.clone()));
        assert_eq!(store.devices().unwrap(), vec![first, second]);
    }

    #[test]
    fn a_revoked_device_is_still_found_and_its_number_is_never_reused() {
        let mut store = Store::open_in_memory().unwrap();
        let tess = add_user(&mut store, "Tess", Role::Technician, None).unwrap();
        add_device(&mut store, tess.id, "old", 1).unwrap();
        let newest = add_device(&mut store, tess.id, "newer", 2).unwrap();

        let tx = store.transaction().unwrap();
        assert!(tx.revoke_device(newest.id).unwrap());
        assert!(!tx.revoke_device(newest.id).unwrap(), "already revoked");
        assert!(!tx.revoke_device(DeviceId::new()).unwrap(), "unknown");
        tx.commit().unwrap();

        let found = store.device_by_token_hash(&[2; 32]).unwrap().unwrap();
        assert!(found.revoked);
        assert_eq!(found.number, 2);
        assert_eq!(
            add_device(&mut store, tess.id, "next", 3).unwrap().number,
            3
        );
    }

    #[test]
    fn a_device_of_an_unknown_user_or_with_a_used_token_is_refused() {
        let mut store = Store::open_in_memory().unwrap();
        let stranger = UserId::new();
        let err = add_device(&mut store, stranger, "tablet", 1).unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownUser(id) if id == stranger),
            "{err:?}"
        );

        let tess = add_user(&mut store, "Tess", Role::Technician, None).unwrap();
        add_device(&mut store, tess.id, "tablet", 1).unwrap();
        assert!(add_device(&mut store, tess.id, "copy", 1).is_err());
        assert_eq!(store.devices().unwrap().len(), 1);
    }

    #[test]
    fn people_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let device = {
            let mut store = Store::open(&path).unwrap();
            let admin = add_user(&mut store, "Ada", Role::Admin, Some("hash")).unwrap();
            add_device(&mut store, admin.id, "desk", 9).unwrap()
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(store.device_by_token_hash(&[9; 32]).unwrap(), Some(device));
    }
}
