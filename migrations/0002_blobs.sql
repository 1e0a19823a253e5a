-- 0002: photo blobs, addressed by the BLAKE3 hash of their bytes.
--
-- A blob arrives in chunks, in order; `have` is how many bytes are stored so far, which is where
-- an interrupted upload resumes. When `have` reaches `size` the chunks are hashed: a match marks
-- the blob complete, a mismatch deletes it. Blobs never go inside automerge documents.

CREATE TABLE blobs (
    hash     BLOB PRIMARY KEY,       -- 32-byte BLAKE3 hash of the whole blob
    size     INTEGER NOT NULL,       -- total size in bytes
    have     INTEGER NOT NULL,       -- bytes stored so far
    complete INTEGER NOT NULL        -- 1 once every byte is stored and the hash verified
) STRICT;

CREATE TABLE blob_chunks (
    hash   BLOB NOT NULL,
    offset INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (hash, offset)
) STRICT, WITHOUT ROWID;
