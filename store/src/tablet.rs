//! The tablet's own state: the pairing with a server (its address, the device token, the
//! technician using the tablet, the automerge actor of its edits), the time of the last
//! successful sync, the queue of photo blobs waiting to be uploaded, and the photos whose
//! thumbnails are still to be downloaded.

use fieldsync_protocol::{AccountId, ContentHash, Photo, UserId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::{Result, Store, StoreError, StoreTx, codec};

/// The server a tablet syncs with, and who uses the tablet.
#[derive(Clone, PartialEq, Eq)]
pub struct Pairing {
    /// The server's address as entered (`http://host:port` or `ws://host:port`).
    pub server_url: String,
    /// The device token (`fsd_...`), presented on every connection.
    pub token: String,
    /// The technician using the tablet.
    pub user: UserId,
    /// Their display name, stamped on what they write.
    pub user_name: String,
    /// The automerge actor id of this tablet's edits.
    pub actor: Vec<u8>,
    /// When the tablet was paired (ms since the Unix epoch).
    pub paired_at_ms: i64,
    /// The SHA-256 fingerprint of the server's TLS certificate, pinned at pairing (a server
    /// with a self-signed certificate); `None` trusts the system's root certificates.
    pub tls_fingerprint: Option<String>,
}

impl std::fmt::Debug for Pairing {
    /// Everything but the token, which is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pairing")
            .field("server_url", &self.server_url)
            .field("user", &self.user)
            .field("user_name", &self.user_name)
            .field("paired_at_ms", &self.paired_at_ms)
            .field("tls_fingerprint", &self.tls_fingerprint)
            .finish_non_exhaustive()
    }
}

fn pairing(conn: &Connection) -> Result<Option<Pairing>> {
    Ok(conn
        .prepare_cached(
            "SELECT server_url, token, user, user_name, actor, paired_at, tls_fingerprint
             FROM pairing WHERE id = 1",
        )?
        .query_row([], |row| {
            Ok(Pairing {
                server_url: row.get(0)?,
                token: row.get(1)?,
                user: codec::id(row, 2, UserId::from_slice)?,
                user_name: row.get(3)?,
                actor: row.get(4)?,
                paired_at_ms: row.get(5)?,
                tls_fingerprint: row.get(6)?,
            })
        })
        .optional()?)
}

fn set_pairing(tx: &Transaction<'_>, pairing: &Pairing) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO pairing
             (id, server_url, token, user, user_name, actor, paired_at, tls_fingerprint)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        pairing.server_url,
        pairing.token,
        pairing.user.as_bytes(),
        pairing.user_name,
        pairing.actor,
        pairing.paired_at_ms,
        pairing.tls_fingerprint
    ])?;
    Ok(())
}

fn device_number(conn: &Connection) -> Result<Option<u32>> {
    let value: Option<i64> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'device_number'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    value
        .map(|v| {
            u32::try_from(v)
                .map_err(|_| StoreError::Corrupt(format!("meta device_number is {v:?}")))
        })
        .transpose()
}

fn last_sync(conn: &Connection) -> Result<Option<i64>> {
    let value: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'last_sync'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    value
        .map(|v| {
            v.parse()
                .map_err(|_| StoreError::Corrupt(format!("meta last_sync is {v:?}")))
        })
        .transpose()
}

fn hash_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<ContentHash> {
    codec::hash_bytes(row, 0).map(ContentHash)
}

impl Store {
    /// Tablet: the server it is paired with, if any.
    pub fn pairing(&self) -> Result<Option<Pairing>> {
        pairing(&self.conn)
    }

    /// Tablet: when it last caught up with its server (ms since the Unix epoch).
    pub fn last_sync_ms(&self) -> Result<Option<i64>> {
        last_sync(&self.conn)
    }

    /// Tablet: its device number on the server (which the numbers of the invoices it makes
    /// carry), once the server has said it.
    pub fn device_number(&self) -> Result<Option<u32>> {
        device_number(&self.conn)
    }

    /// Tablet: blobs made here that the server has not confirmed, in upload order.
    pub fn queued_uploads(&self) -> Result<Vec<ContentHash>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT hash FROM blob_uploads ORDER BY ord")?;
        let rows = stmt.query_map([], hash_of)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Tablet: thumbnails of the photos on the tablet that are not stored here (complete),
    /// newest photo first, at most `limit`.
    pub fn missing_thumbnails(&self, limit: usize) -> Result<Vec<ContentHash>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT json FROM photos ORDER BY taken_at DESC")?;
        let mut rows = stmt.query([])?;
        let mut missing = Vec::new();
        while missing.len() < limit
            && let Some(row) = rows.next()?
        {
            let photo: Photo = codec::json(row, 0)?;
            let have = crate::blobs::state(&self.conn, &photo.thumb_hash)?;
            if !have.is_some_and(|b| b.complete) && !missing.contains(&photo.thumb_hash) {
                missing.push(photo.thumb_hash);
            }
        }
        Ok(missing)
    }
}

impl Store {
    /// Tablet: every file kept on the replica's accounts and sites, with its account.
    pub fn all_files(&self) -> Result<Vec<(AccountId, fieldsync_protocol::FileEntry)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT account, json FROM files ORDER BY added_at DESC, id")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                codec::id(row, 0, AccountId::from_slice)?,
                codec::json(row, 1)?,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether all the bytes of the blob `hash` are on this replica.
    pub fn has_blob(&self, hash: &ContentHash) -> Result<bool> {
        Ok(crate::blobs::state(&self.conn, hash)?.is_some_and(|b| b.complete))
    }
}

impl StoreTx<'_> {
    /// Tablet: drops the bytes of blob `hash`, unless a photo or a signature still names it or
    /// it waits to be uploaded (a file's bytes, beyond the storage budget, come again from the
    /// server when wanted). Returns whether it was dropped.
    pub fn drop_blob(&self, hash: &ContentHash) -> Result<bool> {
        let json = serde_json::to_string(hash)?;
        let named = self
            .tx
            .prepare_cached(
                "SELECT 1 FROM photos WHERE json_extract(json, '$.full_hash') = ?1
                   OR json_extract(json, '$.thumb_hash') = ?1
                 UNION ALL
                 SELECT 1 FROM invoices WHERE json_extract(json, '$.signature.image') = ?1",
            )?
            .exists([json])?;
        let queued = self
            .tx
            .prepare_cached("SELECT 1 FROM blob_uploads WHERE hash = ?1")?
            .exists([&hash.0[..]])?;
        if named || queued {
            return Ok(false);
        }
        crate::blobs::delete(&self.tx, &hash.0)
    }

    /// Tablet: pairs with a server, replacing any earlier pairing.
    pub fn set_pairing(&self, pairing: &Pairing) -> Result<()> {
        set_pairing(&self.tx, pairing)
    }

    /// Tablet: the pairing, read inside this transaction.
    pub fn pairing(&self) -> Result<Option<Pairing>> {
        pairing(&self.tx)
    }

    /// Tablet: remembers when it last caught up with its server.
    pub fn set_last_sync_ms(&self, at_ms: i64) -> Result<()> {
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_sync', ?1)")?
            .execute([at_ms.to_string()])?;
        Ok(())
    }

    /// Tablet: its device number, read inside this transaction.
    pub fn device_number(&self) -> Result<Option<u32>> {
        device_number(&self.tx)
    }

    /// Tablet: its invoice counter moves on to at least `seq` (the highest of its numbers the
    /// server has, as it said when the tablet connected), so that a tablet whose replica lost
    /// count (signed out, restored) never reuses a number.
    pub fn invoice_counter_at_least(&self, seq: u32) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES ('counter:invoice', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = max(value, ?1)",
            )?
            .execute([seq])?;
        Ok(())
    }

    /// Tablet: remembers its device number on the server, as the server said it when the
    /// tablet connected.
    pub fn set_device_number(&self, number: u32) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('device_number', ?1)",
            )?
            .execute([number])?;
        Ok(())
    }

    /// Tablet: the next invoice number of device `device`: one past both its own counter and
    /// the highest of the device's numbers on the tablet (invoices it made before it was signed
    /// out and synced back), so that a tablet never reuses a number the server has seen here.
    pub fn next_invoice_number(&self, device: u32) -> Result<fieldsync_protocol::InvoiceNumber> {
        let seen = crate::queries::highest_invoice_seq(&self.tx, device)?;
        let counted = crate::meta::next_counter(&self.tx, "invoice")?;
        let seq = u32::try_from(counted)
            .ok()
            .map(|c| c.max(seen.saturating_add(1)))
            .filter(|&seq| seq < u32::MAX)
            .ok_or_else(|| StoreError::Corrupt("the tablet's invoice numbers ran out".into()))?;
        if u64::from(seq) != counted {
            self.tx
                .prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'counter:invoice'")?
                .execute([seq])?;
        }
        Ok(fieldsync_protocol::InvoiceNumber { device, seq })
    }

    /// Tablet: queues a blob stored here for upload (after those already queued); queuing it
    /// again changes nothing.
    pub fn queue_upload(&self, hash: &ContentHash) -> Result<()> {
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO blob_uploads (hash, queued_at) VALUES (?1, ?2)")?
            .execute(params![&hash.0[..], codec::now_ms()])?;
        Ok(())
    }

    /// Tablet: the server holds the blob, complete and verified: it leaves the queue.
    pub fn upload_done(&self, hash: &ContentHash) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM blob_uploads WHERE hash = ?1")?
            .execute([&hash.0[..]])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_numbers_start_past_the_devices_numbers_already_on_the_tablet() {
        use crate::fixtures::*;
        use fieldsync_protocol::Record;
        let mut store = Store::open_in_memory().unwrap();
        assert_eq!(store.device_number().unwrap(), None);
        let office = writer(fieldsync_protocol::Role::Office, "Dana");
        let acme = Record::new_account(account("Acme"));
        let account = acme.account();
        create(&mut store, &office, &acme);
        let place = Record::new_site(site(account, "Main St store"));
        let site_id = match &place {
            fieldsync_protocol::Record::Site(s) => s.record.id,
            _ => unreachable!(),
        };
        create(&mut store, &office, &place);
        let mut work = Record::new_job(job(account, site_id, "Annual boiler service"));
        // Invoices this device made before the tablet was signed out, synced back.
        if let fieldsync_protocol::Record::Job(j) = &mut work {
            for number in ["INV-7-00003", "INV-8-00009", "INV-77-00050"] {
                let mut made = invoice(j.record.id, "INV-0-00001", &[("Service", "1", "10")]);
                made.number = number.into();
                j.invoices.insert(made.id, made);
            }
        }
        create(&mut store, &office, &work);
        let tx = store.transaction().unwrap();
        tx.set_device_number(7).unwrap();
        let first = tx.next_invoice_number(7).unwrap();
        let second = tx.next_invoice_number(7).unwrap();
        tx.commit().unwrap();
        assert_eq!(
            (first.to_string(), second.to_string()),
            ("INV-7-00004".into(), "INV-7-00005".into())
        );
        assert_eq!(store.device_number().unwrap(), Some(7));
    }

    #[test]
    fn pairing_last_sync_and_uploads_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tablet.sqlite3");
        let pairing = Pairing {
            server_url: "http://127.0.0.1:8080".into(),
            token: "fsd_secret".into(),
            user: UserId::new(),
            user_name: "Tess".into(),
            actor: vec![1, 2, 3],
            paired_at_ms: 1_790_000_000_000,
            tls_fingerprint: None,
        };
        let (thumb, full) = (ContentHash::of(b"thumb"), ContentHash::of(b"full"));
        {
            let mut store = Store::open(&path).unwrap();
            assert_eq!(store.pairing().unwrap(), None);
            assert_eq!(store.last_sync_ms().unwrap(), None);
            let tx = store.transaction().unwrap();
            tx.set_pairing(&pairing).unwrap();
            tx.set_last_sync_ms(42).unwrap();
            tx.queue_upload(&thumb).unwrap();
            tx.queue_upload(&full).unwrap();
            tx.queue_upload(&thumb).unwrap();
            tx.commit().unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.pairing().unwrap(), Some(pairing.clone()));
        assert!(!format!("{pairing:?}").contains("secret"));
        assert_eq!(store.last_sync_ms().unwrap(), Some(42));
        assert_eq!(store.queued_uploads().unwrap(), [thumb, full]);
        let tx = store.transaction().unwrap();
        tx.upload_done(&thumb).unwrap();
        let again = Pairing {
            server_url: "https://10.0.0.2:8443".into(),
            tls_fingerprint: Some("AB:CD".into()),
            ..pairing
        };
        tx.set_pairing(&again).unwrap();
        tx.commit().unwrap();
        assert_eq!(store.queued_uploads().unwrap(), [full]);
        assert_eq!(store.pairing().unwrap(), Some(again));
    }
}
