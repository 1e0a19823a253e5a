-- 0004: the tablet's own state (crate `fieldsync-store`, used by `fieldsync-app`): its pairing
-- with a server, and the queue of photo blobs waiting to be uploaded.
--
-- Ids are the 16 bytes of a UUID; blob hashes are 32-byte BLAKE3 hashes; times are
-- milliseconds since the Unix epoch (UTC). The server never writes these tables.

-- The server this tablet syncs with, at most one row. The token is the device's secret: the
-- tablet must present it on every connection, so it is kept as typed (the server keeps only
-- its hash). `actor` is the automerge actor id of this tablet's edits, kept so that every run
-- of the app writes as the same actor.
CREATE TABLE pairing (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    server_url TEXT NOT NULL CHECK (server_url <> ''),
    token      TEXT NOT NULL CHECK (token <> ''),
    user       BLOB NOT NULL,            -- the technician using this tablet
    user_name  TEXT NOT NULL,            -- their display name, stamped on notes and payments
    actor      BLOB NOT NULL,
    paired_at  INTEGER NOT NULL
) STRICT;

-- Blobs made on this tablet (photos and their thumbnails, complete in `blobs`) that the server
-- has not confirmed yet. Uploaded in `ord` order (a photo's thumbnail is queued before its
-- full image); a row is deleted once the server reports the blob complete and verified.
CREATE TABLE blob_uploads (
    ord       INTEGER PRIMARY KEY AUTOINCREMENT,
    hash      BLOB NOT NULL UNIQUE,
    queued_at INTEGER NOT NULL
) STRICT;
