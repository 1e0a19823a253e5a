//! A bounded cache of loaded documents, so that a busy document is not re-read from SQLite and
//! replayed for every change. An entry is only used while its heads equal the heads stored in
//! the `documents` row: heads name the document's exact history, so a stale entry (after a
//! rolled-back transaction, say) is never used, only replaced.

use std::collections::{HashMap, VecDeque};

use automerge::{AutoCommit, ChangeHash};
use fieldsync_protocol::{DocId, Record};

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

/// Least-recently-used documents, at most `capacity` of them.
pub(crate) struct DocCache {
    capacity: usize,
    entries: HashMap<DocId, (Cached, u64)>,
    /// Uses, oldest first; an item is stale when its tick is not the entry's latest.
    uses: VecDeque<(DocId, u64)>,
    tick: u64,
}

impl DocCache {
    pub fn new(capacity: usize) -> Self {
        DocCache {
            capacity,
            entries: HashMap::new(),
            uses: VecDeque::new(),
            tick: 0,
        }
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.shrink();
    }

    /// Takes a document out of the cache if it is there at exactly `heads`.
    pub fn take(&mut self, doc: DocId, heads: &[ChangeHash]) -> Option<Cached> {
        match self.entries.remove(&doc) {
            Some((cached, _)) if cached.heads == heads => Some(cached),
            _ => None,
        }
    }

    /// A copy of a document if it is cached at exactly `heads`.
    pub fn copy(&mut self, doc: DocId, heads: &[ChangeHash]) -> Option<AutoCommit> {
        let document = match self.entries.get(&doc) {
            Some((cached, _)) if cached.heads == heads => cached.document.clone(),
            _ => return None,
        };
        self.touch(doc);
        Some(document)
    }

    /// Puts a document in the cache, evicting the least recently used beyond capacity.
    pub fn put(&mut self, doc: DocId, cached: Cached) {
        if self.capacity == 0 {
            return;
        }
        self.entries.insert(doc, (cached, 0));
        self.touch(doc);
        self.shrink();
    }

    pub fn remove(&mut self, doc: DocId) {
        self.entries.remove(&doc);
    }

    fn touch(&mut self, doc: DocId) {
        self.tick += 1;
        if let Some(entry) = self.entries.get_mut(&doc) {
            entry.1 = self.tick;
            self.uses.push_back((doc, self.tick));
        }
    }

    fn shrink(&mut self) {
        while self.entries.len() > self.capacity {
            let Some((doc, tick)) = self.uses.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&doc)
                .is_some_and(|(_, latest)| *latest == tick)
            {
                self.entries.remove(&doc);
            }
        }
        // Drop stale use records so the queue stays proportional to the entries.
        if self.uses.len() > 4 * self.capacity.max(16) {
            let entries = &self.entries;
            self.uses
                .retain(|(doc, tick)| entries.get(doc).is_some_and(|(_, t)| t == tick));
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
        for _ in 0..100 {
            cache.put(b, cached(vec![]));
        }
        assert!(cache.uses.len() <= 64);
        cache.set_capacity(0);
        assert!(cache.entries.is_empty());
    }
}
