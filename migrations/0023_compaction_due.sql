-- 0023: the server compacts documents in the background (re-saves them and drops their change
-- rows' bytes) rather than in the commit that made them due. It finds them through this index
-- of the documents past the first bound (more than 64 uncompacted changes: `COMPACT_AFTER`),
-- which holds only those few.
CREATE INDEX documents_compaction_due ON documents (uncompacted) WHERE uncompacted > 64;
