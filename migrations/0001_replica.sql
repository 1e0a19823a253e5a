-- 0001: the replica store, shared by the server and the tablet (crate `fieldsync-store`).
--
-- Every record lives in an automerge document. A document is stored as its last snapshot plus
-- the change rows written since (the uncompacted changes); the change log gives every change a
-- sequence number, which is how the server brings devices up to date. The typed projection
-- tables at the end are derived from the documents, rewritten per document in the same
-- transaction as the document itself, and never written any other way.
--
-- Ids are the 16 bytes of a UUID; change hashes are 32 bytes; times are milliseconds since the
-- Unix epoch (UTC). There are no foreign keys: only the store writes these tables, always a
-- document and everything derived from it together, and ingest speed matters.

-- Small named values: `epoch` (random id of this database, decimal text) and, on a tablet,
-- `cursor` (the server epoch and sequence number received up to, as "<epoch> <seq>").
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value ANY
) STRICT;

-- One row per automerge document.
CREATE TABLE documents (
    id          BLOB PRIMARY KEY,    -- document id (= id of its main record)
    kind        TEXT,                -- 'account' | 'site' | 'job' | 'payment'; NULL if unreadable
    account     BLOB,                -- owning account; NULL if unreadable (then in no scope but All)
    heads       BLOB NOT NULL,       -- current heads: sorted 32-byte change hashes, concatenated
    snapshot    BLOB,                -- automerge save() at the last compaction; NULL before any
    uncompacted INTEGER NOT NULL,    -- change rows of this document whose bytes are not NULL
    updated_seq INTEGER NOT NULL     -- seq of the last change stored for it
) STRICT;
CREATE INDEX documents_account ON documents (account, id);

-- The change log: every change of every stored document, in the order this replica stored it.
-- AUTOINCREMENT so that a seq is never reused, even after the rows above it are evicted.
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    doc    BLOB NOT NULL,
    hash   BLOB NOT NULL UNIQUE,
    bytes  BLOB,                     -- the change as received; NULL once in the doc's snapshot
    origin INTEGER NOT NULL          -- 0 this replica's user, > 0 a registered device, -1 remote
) STRICT;
CREATE INDEX changes_doc ON changes (doc, seq);

-- Tablet: local changes not yet acknowledged by the server, or refused by it.
CREATE TABLE outbox (
    hash       BLOB PRIMARY KEY,     -- the change (a row of `changes`)
    doc        BLOB NOT NULL,
    seq        INTEGER NOT NULL,     -- its seq in `changes`: the order it was made
    status     TEXT NOT NULL CHECK (status IN ('pending', 'refused')),
    reason     TEXT,                 -- why the server refused it
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_status ON outbox (status, seq);
CREATE INDEX outbox_doc ON outbox (doc);

-- Server: changes refused by validation, kept aside for review. Never applied to a document.
CREATE TABLE quarantine (
    id     INTEGER PRIMARY KEY,
    device INTEGER NOT NULL,
    doc    BLOB NOT NULL,
    change BLOB NOT NULL,
    reason TEXT NOT NULL,
    at     INTEGER NOT NULL
) STRICT;

---------------------------------------------------------------------------------------------
-- Projections. Each table holds key columns for lists and a `json` column with the record
-- (serde_json), from which the typed record is read back.
---------------------------------------------------------------------------------------------

-- Accounts (from account documents). `rid` is a stable rowid for the search index.
CREATE TABLE accounts (
    rid          INTEGER PRIMARY KEY,
    id           BLOB NOT NULL UNIQUE,   -- account id = its document id
    name         TEXT NOT NULL,
    account_type TEXT NOT NULL,
    status       TEXT NOT NULL,
    credit_hold  INTEGER NOT NULL,
    search       TEXT NOT NULL,          -- views::search_text: name, type, contacts, emails
    json         TEXT NOT NULL
) STRICT;
CREATE INDEX accounts_name ON accounts (name COLLATE NOCASE);

-- Trigram full-text index over accounts.search (substring search, case-insensitive), kept in
-- step with `accounts` by the triggers below.
CREATE VIRTUAL TABLE account_search USING fts5 (
    search, content = 'accounts', content_rowid = 'rid', tokenize = 'trigram'
);
CREATE TRIGGER accounts_search_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO account_search (rowid, search) VALUES (new.rid, new.search);
END;
CREATE TRIGGER accounts_search_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO account_search (account_search, rowid, search)
        VALUES ('delete', old.rid, old.search);
END;

-- Contacts (inside account documents).
CREATE TABLE contacts (
    doc     BLOB NOT NULL,
    id      BLOB NOT NULL,
    account BLOB NOT NULL,
    name    TEXT NOT NULL,
    email   TEXT,
    json    TEXT NOT NULL,
    PRIMARY KEY (doc, id)
) STRICT;
CREATE INDEX contacts_account ON contacts (account);

-- Job sites (site documents).
CREATE TABLE sites (
    id      BLOB PRIMARY KEY,            -- site id = its document id
    account BLOB NOT NULL,
    name    TEXT NOT NULL,
    json    TEXT NOT NULL
) STRICT;
CREATE INDEX sites_account ON sites (account);

-- Jobs (job documents).
CREATE TABLE jobs (
    id              BLOB PRIMARY KEY,    -- job id = its document id
    account         BLOB NOT NULL,
    site            BLOB NOT NULL,
    title           TEXT NOT NULL,
    status          TEXT NOT NULL,
    scheduled_start INTEGER,
    created_at      INTEGER NOT NULL,
    json            TEXT NOT NULL
) STRICT;
CREATE INDEX jobs_account ON jobs (account);
CREATE INDEX jobs_site ON jobs (site);

-- Who is assigned to which job (the server derives technicians' scopes from it).
CREATE TABLE job_technicians (
    job     BLOB NOT NULL,
    user    BLOB NOT NULL,
    account BLOB NOT NULL,
    PRIMARY KEY (job, user)
) STRICT;
CREATE INDEX job_technicians_user ON job_technicians (user);

-- Notes (inside account, site and job documents).
CREATE TABLE notes (
    doc        BLOB NOT NULL,
    id         BLOB NOT NULL,
    account    BLOB NOT NULL,
    kind       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    json       TEXT NOT NULL,
    PRIMARY KEY (doc, id)
) STRICT;

-- Photo records (inside site and job documents); the image bytes are blobs elsewhere.
CREATE TABLE photos (
    doc      BLOB NOT NULL,
    id       BLOB NOT NULL,
    account  BLOB NOT NULL,
    taken_at INTEGER NOT NULL,
    json     TEXT NOT NULL,
    PRIMARY KEY (doc, id)
) STRICT;

-- Invoices (inside job documents).
CREATE TABLE invoices (
    doc     BLOB NOT NULL,               -- = the job
    id      BLOB NOT NULL,
    account BLOB NOT NULL,
    number  TEXT NOT NULL,
    date    TEXT NOT NULL,               -- YYYY-MM-DD
    voided  INTEGER NOT NULL,
    json    TEXT NOT NULL,
    PRIMARY KEY (doc, id)
) STRICT;
CREATE INDEX invoices_account ON invoices (account);

-- Payments (payment documents).
CREATE TABLE payments (
    id          BLOB PRIMARY KEY,        -- payment id = its document id
    account     BLOB NOT NULL,
    job         BLOB,
    invoice     BLOB,
    amount      TEXT NOT NULL,           -- exact decimal
    received_at INTEGER NOT NULL,
    json        TEXT NOT NULL
) STRICT;
CREATE INDEX payments_account ON payments (account);
