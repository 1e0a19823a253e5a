//! The tablet's outbox: local changes not yet acknowledged by the server, kept in the order
//! they were made, and those the server refused (kept, with its reason, for the outbox view).

use automerge::ChangeHash;
use fieldsync_protocol::{DocId, DocKind};
use rusqlite::{Connection, Transaction, params};

use crate::{Result, StoreError, codec, documents};

/// A pending change to push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    /// The change's hash.
    pub hash: [u8; 32],
    /// Its document.
    pub doc: DocId,
    /// The automerge change.
    pub bytes: Vec<u8>,
}

/// Where an outbox entry stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting to be sent or acknowledged.
    Pending,
    /// The server refused it, for this reason.
    Refused(String),
}

/// An outbox entry, for the outbox view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The change's hash.
    pub hash: [u8; 32],
    /// Its document.
    pub doc: DocId,
    /// The document's kind.
    pub kind: DocKind,
    /// Pending or refused.
    pub status: OutboxStatus,
    /// When the change was made (ms since the Unix epoch).
    pub created_at_ms: i64,
}

pub(crate) fn add(tx: &Transaction<'_>, hash: &ChangeHash, doc: DocId, seq: u64) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (hash, doc, seq, status, reason, created_at)
         VALUES (?1, ?2, ?3, 'pending', NULL, ?4)",
    )?
    .execute(params![
        &hash.0[..],
        doc.as_bytes(),
        codec::seq(seq),
        codec::now_ms()
    ])?;
    Ok(())
}

pub(crate) fn acked(tx: &Transaction<'_>, hashes: &[[u8; 32]]) -> Result<()> {
    let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE hash = ?1")?;
    for hash in hashes {
        delete.execute([&hash[..]])?;
    }
    Ok(())
}

pub(crate) fn refused(tx: &Transaction<'_>, hash: [u8; 32], reason: &str) -> Result<()> {
    tx.prepare_cached("UPDATE outbox SET status = 'refused', reason = ?2 WHERE hash = ?1")?
        .execute(params![&hash[..], reason])?;
    Ok(())
}

pub(crate) fn has_pending(conn: &Connection, doc: DocId) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE doc = ?1 AND status = 'pending')",
    )?;
    Ok(stmt.query_row([doc.as_bytes()], |row| row.get(0))?)
}

/// Pending changes in the order they were made, with their bytes (from the change row, or from
/// the document when the row was compacted).
pub(crate) fn pending(conn: &Connection) -> Result<Vec<OutboxItem>> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.hash, o.doc, c.bytes FROM outbox o JOIN changes c ON c.hash = o.hash
         WHERE o.status = 'pending' ORDER BY o.seq",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            codec::hash(row, 0)?,
            codec::id(row, 1, DocId::from_slice)?,
            row.get::<_, Option<Vec<u8>>>(2)?,
        ))
    })?;
    let mut items = Vec::new();
    let mut loaded = std::collections::HashMap::new();
    for row in rows {
        let (hash, doc, bytes) = row?;
        let bytes = match bytes {
            Some(bytes) => bytes,
            None => {
                let document = match loaded.entry(doc) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(documents::load(conn, doc)?.ok_or_else(|| {
                            StoreError::Corrupt(format!("outbox change of missing document {doc}"))
                        })?)
                    }
                };
                document
                    .get_change_by_hash(&hash)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "document {doc} lacks its outbox change {hash}"
                        ))
                    })?
                    .raw_bytes()
                    .to_vec()
            }
        };
        items.push(OutboxItem {
            hash: hash.0,
            doc,
            bytes,
        });
    }
    Ok(items)
}

/// Pending and refused entries, oldest first.
pub(crate) fn entries(conn: &Connection) -> Result<Vec<OutboxEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.hash, o.doc, d.kind, o.status, o.reason, o.created_at
         FROM outbox o LEFT JOIN documents d ON d.id = o.doc ORDER BY o.seq",
    )?;
    let rows = stmt.query_map([], |row| {
        let status: String = row.get(3)?;
        Ok(OutboxEntry {
            hash: codec::hash_bytes(row, 0)?,
            doc: codec::id(row, 1, DocId::from_slice)?,
            kind: codec::parsed(row, 2)?,
            status: match status.as_str() {
                "pending" => OutboxStatus::Pending,
                _ => OutboxStatus::Refused(row.get::<_, Option<String>>(4)?.unwrap_or_default()),
            },
            created_at_ms: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{DocKind, Record, Role};

    use super::OutboxStatus;
    use crate::fixtures::*;
    use crate::{Store, StoreTx};

    #[test]
    fn outbox_holds_local_changes_until_acknowledged_or_refused() {
        let technician = writer(Role::Technician, "Tess");
        let office = writer(Role::Office, "Dana");
        let mut store = Store::open_in_memory().unwrap();
        let record = Record::new_account(account("Acme"));
        let doc = record.doc_id();
        let (mut document, first) = office.create(&record, now()).unwrap();
        let tx = store.transaction().unwrap();
        tx.record_local(doc, &mut document, &first, true).unwrap();
        let second = edit(&mut document, &technician, |r| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            let note = fieldsync_protocol::Note {
                id: fieldsync_protocol::NoteId::new(),
                kind: fieldsync_protocol::NoteKind::Site,
                text: "Dog in the yard".into(),
                author: technician.author.user,
                author_name: technician.author.name.clone(),
                created_at: now(),
            };
            a.notes.insert(note.id, note);
        });
        tx.record_local(doc, &mut document, &second, true).unwrap();
        // Compaction must not lose the bytes of pending changes.
        tx.compact(doc).unwrap();
        tx.commit().unwrap();

        let items = store.outbox().unwrap();
        assert_eq!(
            items.iter().map(|i| i.hash).collect::<Vec<_>>(),
            [first.hash().0, second.hash().0]
        );
        assert_eq!(items[1].bytes, second.raw_bytes());
        assert!(items.iter().all(|i| i.doc == doc));
        assert_eq!(store.notes_for_doc(doc).unwrap()[0].text, "Dog in the yard");

        let tx = store.transaction().unwrap();
        tx.outbox_acked(&[first.hash().0]).unwrap();
        tx.outbox_refused(second.hash().0, "a technician may not do that")
            .unwrap();
        tx.commit().unwrap();
        assert!(store.outbox().unwrap().is_empty());
        let entries = store.outbox_entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].kind, DocKind::Account);
        assert_eq!(
            entries[0].status,
            OutboxStatus::Refused("a technician may not do that".into())
        );
        assert!(entries[0].created_at_ms > 0);

        let tx: StoreTx<'_> = store.transaction().unwrap();
        assert!(tx.evict(doc).unwrap());
        tx.commit().unwrap();
        assert!(store.load(doc).unwrap().is_none());
        assert!(store.outbox_entries().unwrap().is_empty());
        assert!(store.accounts().unwrap().is_empty());
        assert!(store.notes_for_doc(doc).unwrap().is_empty());
        assert_eq!(
            store.heads_digest(&crate::Scope::All).unwrap(),
            *blake3::Hasher::new().finalize().as_bytes()
        );
    }

    /// A tablet store holding one account document with one change waiting in the outbox.
    fn pending_account() -> (
        Store,
        fieldsync_protocol::DocId,
        automerge::AutoCommit,
        [u8; 32],
    ) {
        let mut store = Store::open_in_memory().unwrap();
        let record = Record::new_account(account("Acme"));
        let doc = record.doc_id();
        let (mut document, change) = writer(Role::Office, "Dana").create(&record, now()).unwrap();
        let tx = store.transaction().unwrap();
        tx.record_local(doc, &mut document, &change, true).unwrap();
        tx.commit().unwrap();
        (store, doc, document, change.hash().0)
    }

    #[test]
    fn a_document_leaving_the_scope_with_changes_to_send_is_dropped_once_they_are_answered() {
        for refused in [false, true] {
            let (mut store, doc, _, hash) = pending_account();
            let tx = store.transaction().unwrap();
            assert!(!tx.evict(doc).unwrap(), "pending changes keep the document");
            tx.commit().unwrap();
            assert!(store.load(doc).unwrap().is_some());
            assert_eq!(store.outbox().unwrap().len(), 1);

            let tx = store.transaction().unwrap();
            if refused {
                tx.outbox_refused(hash, "account not in your scope")
                    .unwrap();
            } else {
                tx.outbox_acked(&[hash]).unwrap();
            }
            tx.commit().unwrap();
            assert!(store.load(doc).unwrap().is_none(), "refused: {refused}");
            assert!(store.accounts().unwrap().is_empty());
            assert!(store.outbox_entries().unwrap().is_empty());
        }
    }

    #[test]
    fn a_document_the_server_sends_again_before_its_changes_are_answered_stays() {
        let (mut store, doc, mut document, hash) = pending_account();
        let tx = store.transaction().unwrap();
        assert!(!tx.evict(doc).unwrap());
        tx.commit().unwrap();
        // Back in scope: the server sends the document again (here, someone else's edit).
        let edit = edit(&mut document, &writer(Role::Office, "Dana"), |r| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            a.record.name = "Acme Heating".into();
        });
        let tx = store.transaction().unwrap();
        tx.apply(doc, edit.raw_bytes(), crate::Origin::REMOTE)
            .unwrap();
        tx.outbox_acked(&[hash]).unwrap();
        tx.commit().unwrap();
        assert!(store.load(doc).unwrap().is_some());
        assert_eq!(store.accounts().unwrap()[0].name, "Acme Heating");
    }
}
