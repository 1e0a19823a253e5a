//! Reading the change log and the document set for sync: catch-up by change sequence, initial
//! download of whole documents, and the heads digest that checks a replica holds what its
//! cursor claims.

use std::collections::{BTreeSet, HashMap};

use automerge::AutoCommit;
use fieldsync_protocol::wire::DocData;
use fieldsync_protocol::{AccountId, DocId};
use rusqlite::Connection;

use crate::{Origin, Result, Scope, StoreError, codec, documents};

/// One page of catch-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The changes, per document (each document once, its changes in seq order).
    pub docs: Vec<DocData>,
    /// Everything in scope up to this seq is in this page or an earlier one.
    pub to: u64,
    /// Whether `to` is the latest seq.
    pub complete: bool,
}

pub(crate) fn latest_seq(conn: &Connection) -> Result<u64> {
    let mut stmt = conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM changes")?;
    Ok(codec::seq_of(stmt.query_row([], |row| row.get(0))?))
}

/// One change of the change log, with what scoping needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedChange {
    /// Its sequence number.
    pub seq: u64,
    /// Its document.
    pub doc: DocId,
    /// The document's account (`None` if the document is unreadable).
    pub account: Option<AccountId>,
    /// Who made it.
    pub origin: Origin,
    /// The change's bytes.
    pub bytes: Vec<u8>,
    /// This database's attestation of the document's heads once the change was stored (see
    /// [`DocData::attested`]).
    pub attested: Option<fieldsync_protocol::wire::HeadsAttestation>,
}

/// Calls `each` for every logged change with `after < seq <= upto`, in order, until it returns
/// `false`. Compacted changes' bytes come from their document.
fn for_each_logged(
    conn: &Connection,
    after: u64,
    upto: u64,
    mut each: impl FnMut(
        u64,
        DocId,
        Option<AccountId>,
        Origin,
        &dyn Fn() -> Result<Vec<u8>>,
    ) -> Result<bool>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.seq, c.doc, c.hash, c.bytes, c.origin, d.account
         FROM changes c JOIN documents d ON d.id = c.doc
         WHERE c.seq > ?1 AND c.seq <= ?2 ORDER BY c.seq",
    )?;
    let mut rows = stmt.query([codec::seq(after), codec::seq(upto)])?;
    let loaded: std::cell::RefCell<HashMap<DocId, AutoCommit>> = Default::default();
    while let Some(row) = rows.next()? {
        let seq = codec::seq_of(row.get(0)?);
        let origin = Origin(row.get(4)?);
        let account = match row.get_ref(5)?.as_blob_or_null()? {
            Some(bytes) => AccountId::from_slice(bytes).ok(),
            None => None,
        };
        let doc = codec::id(row, 1, DocId::from_slice)?;
        // Borrowed from the row: copied only for the changes the caller keeps.
        let stored = row.get_ref(3)?.as_blob_or_null()?;
        let hash = codec::hash(row, 2)?;
        let bytes = || -> Result<Vec<u8>> {
            if let Some(bytes) = stored {
                return Ok(bytes.to_vec());
            }
            let mut loaded = loaded.borrow_mut();
            let document = match loaded.entry(doc) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(documents::load(conn, doc)?.ok_or_else(|| missing(doc))?)
                }
            };
            let change = document.get_change_by_hash(&hash).ok_or_else(|| {
                StoreError::Corrupt(format!("document {doc} lacks its logged change {hash}"))
            })?;
            Ok(change.raw_bytes().to_vec())
        };
        if !each(seq, doc, account, origin, &bytes)? {
            break;
        }
    }
    Ok(())
}

/// Every change after `after` in scope and not from `exclude`, grouped per document, up to about
/// `max_bytes` (a page always holds at least one change, and never splits one).
pub(crate) fn changes_since(
    conn: &Connection,
    after: u64,
    scope: &Scope,
    exclude: Option<Origin>,
    max_bytes: usize,
) -> Result<Page> {
    let latest = latest_seq(conn)?;
    let mut docs: Vec<DocData> = Vec::new();
    let mut index: HashMap<DocId, usize> = HashMap::new();
    let mut size = 0;
    let mut to = after.max(latest);
    for_each_logged(conn, after, latest, |seq, doc, account, origin, bytes| {
        if exclude == Some(origin) || !scope.allows(account) {
            return Ok(true);
        }
        let at = *index.entry(doc).or_insert_with(|| {
            docs.push(DocData {
                doc,
                data: Vec::new(),
                attested: None,
            });
            docs.len() - 1
        });
        let bytes = bytes()?;
        size += bytes.len();
        docs[at].data.extend_from_slice(&bytes);
        if size >= max_bytes && seq < latest {
            to = seq;
            return Ok(false);
        }
        Ok(true)
    })?;
    Ok(Page {
        docs,
        to,
        complete: to >= latest,
    })
}

/// Every logged change after `after`, with its account and origin (for the server's in-memory
/// fan-out of what a commit just stored).
pub(crate) fn logged_after(conn: &Connection, after: u64) -> Result<Vec<LoggedChange>> {
    let latest = latest_seq(conn)?;
    let mut out = Vec::new();
    for_each_logged(conn, after, latest, |seq, doc, account, origin, bytes| {
        out.push(LoggedChange {
            seq,
            doc,
            account,
            origin,
            bytes: bytes()?,
            attested: None,
        });
        Ok(true)
    })?;
    Ok(out)
}

fn missing(doc: DocId) -> StoreError {
    StoreError::Corrupt(format!(
        "document {doc} is in the change log but not stored"
    ))
}

/// The accounts of the documents stored here (unreadable documents have none): those kept, and
/// those being dropped (a document of theirs waits in `evict_later` for its unsent changes).
pub(crate) fn accounts_held(
    conn: &Connection,
) -> Result<(BTreeSet<AccountId>, BTreeSet<AccountId>)> {
    let ids = |sql: &str| -> Result<BTreeSet<AccountId>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([], |row| codec::id(row, 0, AccountId::from_slice))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    let all = ids("SELECT DISTINCT account FROM documents WHERE account IS NOT NULL")?;
    let leaving = ids(
        "SELECT DISTINCT d.account FROM evict_later e JOIN documents d ON d.id = e.doc
         WHERE d.account IS NOT NULL",
    )?;
    Ok((all.difference(&leaving).copied().collect(), leaving))
}

/// Ids and heads (as stored) of every document in scope, ordered by id.
pub(crate) fn scoped_docs(conn: &Connection, scope: &Scope) -> Result<Vec<(DocId, Vec<u8>)>> {
    let read = |row: &rusqlite::Row<'_>| Ok((codec::id(row, 0, DocId::from_slice)?, row.get(1)?));
    let mut out: Vec<(DocId, Vec<u8>)> = Vec::new();
    match scope {
        Scope::All => {
            let mut stmt = conn.prepare_cached("SELECT id, heads FROM documents ORDER BY id")?;
            for row in stmt.query_map([], read)? {
                out.push(row?);
            }
        }
        Scope::Accounts(accounts) => {
            let mut stmt =
                conn.prepare_cached("SELECT id, heads FROM documents WHERE account = ?1")?;
            for account in accounts {
                for row in stmt.query_map([account.as_bytes()], read)? {
                    out.push(row?);
                }
            }
            out.sort_unstable_by_key(|(id, _)| *id);
        }
    }
    Ok(out)
}

/// Whole documents in scope, ordered by id, starting after `after_doc`, up to about
/// `max_bytes`; with the last id sent when more remain. Reads only from `after_doc` on, so a
/// download in pages reads every document once.
pub(crate) fn snapshots(
    conn: &Connection,
    scope: &Scope,
    after_doc: Option<DocId>,
    max_bytes: usize,
) -> Result<(Vec<DocData>, Option<DocId>)> {
    // The empty blob sorts before every id.
    let after: &[u8] = after_doc.as_ref().map_or(&[], |d| d.as_bytes());
    let mut page: Vec<DocData> = Vec::new();
    let mut size = 0;
    match scope {
        Scope::All => {
            let mut stmt = conn.prepare_cached(
                "SELECT id, snapshot, uncompacted FROM documents WHERE id > ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query([after])?;
            while let Some(row) = rows.next()? {
                if size >= max_bytes {
                    let last = page.last().map(|d| d.doc);
                    return Ok((page, last));
                }
                let doc = codec::id(row, 0, DocId::from_slice)?;
                let data = documents::assemble(conn, doc, row.get(1)?, row.get(2)?)?;
                size += data.len();
                page.push(DocData {
                    doc,
                    data,
                    attested: None,
                });
            }
        }
        Scope::Accounts(accounts) => {
            let mut stmt =
                conn.prepare_cached("SELECT id FROM documents WHERE account = ?1 AND id > ?2")?;
            let mut ids = Vec::new();
            for account in accounts {
                let rows = stmt.query_map(rusqlite::params![account.as_bytes(), after], |row| {
                    codec::id(row, 0, DocId::from_slice)
                })?;
                for id in rows {
                    ids.push(id?);
                }
            }
            ids.sort_unstable();
            for doc in ids {
                if size >= max_bytes {
                    let last = page.last().map(|d| d.doc);
                    return Ok((page, last));
                }
                let data = documents::data(conn, doc)?.ok_or_else(|| missing(doc))?;
                size += data.len();
                page.push(DocData {
                    doc,
                    data,
                    attested: None,
                });
            }
        }
    }
    Ok((page, None))
}

/// BLAKE3 over each document in scope, in id order: its 16 id bytes, then its sorted heads.
pub(crate) fn heads_digest(conn: &Connection, scope: &Scope) -> Result<[u8; 32]> {
    Ok(crate::attest::digest(&scoped_docs(conn, scope)?))
}

#[cfg(test)]
mod tests;
