-- 0019: the contact log (calls, emails and visits with customers), one row per entry, for the
-- customer page and the contact report over a date range (by customer and user). Documents
-- made before the log have none: nothing to back-fill.
CREATE TABLE contact_log (
    doc BLOB NOT NULL,
    id BLOB NOT NULL,
    account BLOB NOT NULL,
    at INTEGER NOT NULL,
    user BLOB NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (doc, id)
) WITHOUT ROWID;
CREATE INDEX contact_log_at ON contact_log (at);
CREATE INDEX contact_log_account ON contact_log (account, at);
