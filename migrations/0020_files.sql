-- 0020: files kept on accounts and sites (site plans, contracts, manuals), one row per file, so
-- that pages list them without loading documents, and so that who may download a file's bytes
-- (the accounts naming its hash) is found by an index. Documents made before files have none:
-- nothing to back-fill.
CREATE TABLE files (
    doc BLOB NOT NULL,
    id BLOB NOT NULL,
    account BLOB NOT NULL,
    hash TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (doc, id)
) WITHOUT ROWID;
CREATE INDEX files_hash ON files (hash);
CREATE INDEX files_account ON files (account, added_at);
