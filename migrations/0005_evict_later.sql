-- 0005: documents that left a tablet's scope while they still had changes waiting in the
-- outbox (crate `fieldsync-store`, used by `fieldsync-app`). Such a document is kept until its
-- last pending change is acknowledged or refused, then dropped; if the server sends it again
-- first (it is back in scope), it stays. The server never writes this table.
CREATE TABLE evict_later (
    doc BLOB PRIMARY KEY
) STRICT;
