//! A bounded cache of loaded documents, so that a busy document is not re-read from SQLite and
//! replayed for every change. An entry is only used while its heads equal the heads stored in
//! the `documents` row: heads name the document's exact history, so a stale entry (after a
//! rolled-back transaction, say) is never used, only replaced.

use std::num::NonZeroUsize;

use automerge::{AutoCommit, ChangeHash};
use fieldsync_protocol::{DocId, Record};
use lru::LruCache;

/// Documents kept loaded by default.
pub const DEFAULT_CACHE_DOCS: usize = 512;

/// A loaded document and what it reads as.
pub(crate) struct Cached {
    /// Its heads, sorted.
    pub heads: Vec<ChangeHash>,
    pub document: AutoCommit,
    /// Its content, when it is a valid record.
    pub record: Option<Record>,
}

/// Least-recently-used documents, at most `capacity` of them (none at capacity 0), and how
/// the documents written through this connection are compacted.
pub(crate) struct DocCache {
    entries: Option<LruCache<DocId, Cached>>,
    /// Whether a write that makes a document due for compaction compacts it (else it is left
    /// for [`crate::Store::due_for_compaction`]).
    pub compacts_inline: bool,
}

impl DocCache {
    pub fn new(capacity: usize) -> Self {
        DocCache {
            entries: NonZeroUsize::new(capacity).map(LruCache::new),
            compacts_inline: true,
        }
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        match (NonZeroUsize::new(capacity), &mut self.entries) {
            (Some(capacity), Some(entries)) => entries.resize(capacity),
            (capacity, entries) => *entries = capacity.map(LruCache::new),
        }
    }

    /// Takes a document out of the cache if it is there at exactly `heads`.
    pub fn take(&mut self, doc: DocId, heads: &[ChangeHash]) -> Option<Cached> {
        self.entries
            .as_mut()?
            .pop(&doc)
            .filter(|cached| cached.heads == heads)
    }

    /// Takes a document out of the cache at whatever heads it is.
    pub fn take_any(&mut self, doc: DocId) -> Option<Cached> {
        self.entries.as_mut()?.pop(&doc)
    }

    /// A copy of a document if it is cached at exactly `heads`.
    pub fn copy(&mut self, doc: DocId, heads: &[ChangeHash]) -> Option<AutoCommit> {
        let cached = self.entries.as_mut()?.get(&doc)?;
        (cached.heads == heads).then(|| cached.document.clone())
    }

    /// A copy of a document and its content if it is cached at exactly `heads`.
    pub fn copy_with_record(
        &mut self,
        doc: DocId,
        heads: &[ChangeHash],
    ) -> Option<(AutoCommit, Option<Record>)> {
        let cached = self.entries.as_mut()?.get(&doc)?;
        (cached.heads == heads).then(|| (cached.document.clone(), cached.record.clone()))
    }

    /// Puts a document in the cache, evicting the least recently used beyond capacity.
    pub fn put(&mut self, doc: DocId, cached: Cached) {
        if let Some(entries) = &mut self.entries {
            entries.put(doc, cached);
        }
    }

    /// Keeps `document` (at its current heads) and its content in the cache.
    pub fn keep(&mut self, doc: DocId, mut document: AutoCommit, record: Option<Record>) {
        let heads = document.get_heads();
        self.put(
            doc,
            Cached {
                heads,
                document,
                record,
            },
        );
    }

    pub fn remove(&mut self, doc: DocId) {
        if let Some(entries) = &mut self.entries {
            entries.pop(&doc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(heads: Vec<ChangeHash>) -> Cached {
        Cached {
            heads,
            document: AutoCommit::new(),
            record: None,
        }
    }

    #[test]
    fn keeps_the_most_recently_used_documents_at_their_heads_only() {
        let mut cache = DocCache::new(2);
        let (a, b, c) = (DocId::new(), DocId::new(), DocId::new());
        let h = ChangeHash([1; 32]);
        cache.put(a, cached(vec![h]));
        cache.put(b, cached(vec![]));
        assert!(cache.copy(a, &[h]).is_some());
        assert!(cache.copy(a, &[]).is_none(), "other heads: not used");
        cache.put(c, cached(vec![]));
        assert!(
            cache.copy(b, &[]).is_none(),
            "least recently used was evicted"
        );
        assert!(cache.take(a, &[h]).is_some());
        assert!(cache.take(a, &[h]).is_none(), "taken out");
        cache.set_capacity(1);
        cache.put(b, cached(vec![]));
        cache.put(c, cached(vec![]));
        assert!(cache.copy(b, &[]).is_none(), "one entry at capacity 1");
        cache.set_capacity(0);
        cache.put(a, cached(vec![h]));
        assert!(cache.copy(a, &[h]).is_none(), "nothing kept at capacity 0");
    }
}
