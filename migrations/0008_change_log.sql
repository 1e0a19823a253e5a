-- The change log, kept: one row per field a stored change changed, written when the change is
-- stored and read newest first, page by page (issue 11). Rows of an existing database are
-- filled from each document's history by the migration's hook.
CREATE TABLE change_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc        BLOB NOT NULL,
    at         INTEGER,            -- milliseconds, as the writing device stamped the change
    author     TEXT,               -- JSON of the author the change names
    field      TEXT NOT NULL,      -- dotted path, e.g. record.status or notes.<id>
    from_value TEXT,
    to_value   TEXT
);
-- An entry that only adds an object (a note, a photo: "(new map)") is not kept: the object
-- shows as itself.
CREATE INDEX change_log_doc ON change_log (doc, id);

