//! Attestations: a server proves to its own restored copy which changes it once had.
//!
//! When the server finds a device's documents the same as its own (the answer to `Verify`), it
//! attests the digest of their heads with a keyed hash whose key lives in its database (meta
//! `attest_key`, made on the first open, so every backup of the database has it). The device
//! keeps the attestation with the heads the digest was made of. During a repair it shows both
//! ([`fieldsync_protocol::wire::ClientMessage::Attested`]); a server that can make the same
//! attestation is this database or a copy of it, and once had every change those heads reach.

use std::collections::HashMap;

use fieldsync_protocol::DocId;
use fieldsync_protocol::wire::{DocData, HeadsAttestation};
use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::{Result, StoreError, codec};

/// The digest of documents' heads: BLAKE3 over each document's id followed by its heads, in the
/// order given (document id order). The same as the server's `heads_digest` of those documents.
pub(crate) fn digest(docs: &[(DocId, Vec<u8>)]) -> [u8; 32] {
    digest_of(docs.iter().map(|(id, heads)| (*id, heads.as_slice())))
}

fn digest_of<'a>(docs: impl IntoIterator<Item = (DocId, &'a [u8])>) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    for (id, heads) in docs {
        hasher.update(id.as_bytes());
        hasher.update(heads);
    }
    *hasher.finalize().as_bytes()
}

/// This database's attestation key, made on the first call.
pub(crate) fn ensure_key(conn: &Connection) -> Result<[u8; 32]> {
    let fresh: [u8; 32] = rand_key();
    conn.prepare_cached("INSERT OR IGNORE INTO meta (key, value) VALUES ('attest_key', ?1)")?
        .execute([&fresh[..]])?;
    let key: Vec<u8> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'attest_key'")?
        .query_row([], |row| row.get(0))?;
    <[u8; 32]>::try_from(key.as_slice())
        .map_err(|_| StoreError::Corrupt("meta attest_key is not 32 bytes".into()))
}

fn rand_key() -> [u8; 32] {
    rand::random()
}

/// The attestation of `digest` under `key`.
pub(crate) fn attest(key: &[u8; 32], digest: &[u8; 32]) -> [u8; 16] {
    let mut tag = [0; 16];
    tag.copy_from_slice(&blake3::keyed_hash(key, digest).as_bytes()[..16]);
    tag
}

/// This database's attestation of one document's heads (as stored: sorted hashes): the
/// attestation of the [`digest`] of that one document.
pub(crate) fn of_heads(key: &[u8; 32], doc: DocId, heads: Vec<u8>) -> HeadsAttestation {
    let tag = tag_of(key, doc, &heads);
    HeadsAttestation { heads, tag }
}

/// The tag of [`of_heads`].
pub(crate) fn tag_of(key: &[u8; 32], doc: DocId, heads: &[u8]) -> [u8; 16] {
    attest(key, &digest_of([(doc, heads)]))
}

/// Server: attests the current heads of each document in `docs` (what it sends a device).
pub(crate) fn attach(conn: &Connection, key: &[u8; 32], docs: &mut [DocData]) -> Result<()> {
    let attested = current(conn, key, docs.iter().map(|d| d.doc))?;
    for doc in docs {
        doc.attested = attested.get(&doc.doc).cloned();
    }
    Ok(())
}

/// Server: the attestations of the current heads of `docs`, each once.
pub(crate) fn current(
    conn: &Connection,
    key: &[u8; 32],
    docs: impl IntoIterator<Item = DocId>,
) -> Result<HashMap<DocId, HeadsAttestation>> {
    let mut stmt = conn.prepare_cached("SELECT heads FROM documents WHERE id = ?1")?;
    let mut out = HashMap::new();
    for doc in docs {
        if out.contains_key(&doc) {
            continue;
        }
        let stored: Option<Vec<u8>> = stmt
            .query_row([doc.as_bytes()], |row| row.get(0))
            .optional()?;
        if let Some(h) = stored {
            out.insert(doc, of_heads(key, doc, h));
        }
    }
    Ok(out)
}

/// Tablet: keeps the attestation each of `docs` came with, the latest one of each document.
/// The server's heads of a document only grow while its history is the same, so the latest
/// reaches everything the earlier ones did.
pub(crate) fn keep(tx: &Transaction<'_>, docs: &[DocData]) -> Result<()> {
    if docs.iter().all(|d| d.attested.is_none()) {
        return Ok(());
    }
    let generation = generation(tx)?;
    let mut stmt = tx.prepare_cached(
        "INSERT OR REPLACE INTO attested_docs (doc, generation, heads, tag)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for doc in docs {
        if let Some(a) = &doc.attested {
            stmt.execute(rusqlite::params![
                doc.doc.as_bytes(),
                generation,
                a.heads,
                &a.tag[..]
            ])?;
        }
    }
    Ok(())
}

/// Tablet: the server history attestations are kept under now (see `attested_docs`).
fn generation(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'attest_generation'")?
        .query_row([], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Tablet: a repair began (the server was restored or replaced). What the server attests from
/// now on is of another history: the attestations kept so far stay beside the new ones (a
/// restored server's heads need not reach what an earlier attestation did) until the server
/// attests everything the tablet holds.
pub(crate) fn new_generation(tx: &Transaction<'_>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('attest_generation', 1)
         ON CONFLICT (key) DO UPDATE SET value = value + 1",
    )?
    .execute([])?;
    Ok(())
}

/// Tablet: every document's latest attestation of each generation, in document id order.
pub(crate) fn kept(conn: &Connection) -> Result<Vec<(DocId, HeadsAttestation)>> {
    let mut stmt =
        conn.prepare_cached("SELECT doc, heads, tag FROM attested_docs ORDER BY doc, generation")?;
    let rows = stmt.query_map([], |row| {
        let tag: Vec<u8> = row.get(2)?;
        Ok((
            codec::id(row, 0, DocId::from_slice)?,
            row.get::<_, Vec<u8>>(1)?,
            tag,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (doc, heads, tag) = row?;
        // A row of another length is not one this code wrote: skipped.
        if let Ok(tag) = <[u8; 16]>::try_from(tag.as_slice()) {
            out.push((doc, HeadsAttestation { heads, tag }));
        }
    }
    Ok(out)
}

fn rows(conn: &Connection, table: &str) -> Result<Vec<(DocId, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT doc, heads FROM {table} ORDER BY doc"))?;
    let rows = stmt.query_map([], |row| {
        Ok((codec::id(row, 0, DocId::from_slice)?, row.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Tablet: keeps the heads of every document for the `Verify` of `seq`; returns their digest.
pub(crate) fn snapshot(tx: &Transaction<'_>, seq: u64) -> Result<[u8; 32]> {
    tx.execute_batch(
        "DELETE FROM attest_pending;
         INSERT INTO attest_pending (doc, heads) SELECT id, heads FROM documents;",
    )?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('attest_pending_seq', ?1)",
    )?
    .execute([codec::seq(seq)])?;
    Ok(digest(&rows(tx, "attest_pending")?))
}

/// Tablet: the server attested the digest of the `Verify` of `seq`: its heads become the ones
/// shown in a repair. An answer to an older `Verify` is ignored.
pub(crate) fn attested(tx: &Transaction<'_>, seq: u64, attestation: [u8; 16]) -> Result<()> {
    let pending: Option<i64> = tx
        .prepare_cached("SELECT value FROM meta WHERE key = 'attest_pending_seq'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    if pending != Some(codec::seq(seq)) {
        return Ok(());
    }
    tx.execute_batch(
        "DELETE FROM attested;
         INSERT INTO attested (doc, heads) SELECT doc, heads FROM attest_pending;",
    )?;
    tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('attestation', ?1)")?
        .execute([&attestation[..]])?;
    // The server attested everything the tablet held: what older histories attested is
    // covered.
    tx.prepare_cached("DELETE FROM attested_docs WHERE generation < ?1")?
        .execute([generation(tx)?])?;
    Ok(())
}

/// The last attestation a tablet was given, and the heads it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastAttestation {
    /// The server's attestation.
    pub attestation: [u8; 16],
    /// Each document and its heads (sorted hashes, concatenated), in document id order.
    pub heads: Vec<(DocId, Vec<u8>)>,
}

/// Tablet: the last attestation and the heads it is for, if any.
pub(crate) fn last(conn: &Connection) -> Result<Option<LastAttestation>> {
    let attestation: Option<Vec<u8>> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'attestation'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    let Some(attestation) = attestation.and_then(|a| <[u8; 16]>::try_from(a.as_slice()).ok())
    else {
        return Ok(None);
    };
    Ok(Some(LastAttestation {
        attestation,
        heads: rows(conn, "attested")?,
    }))
}
