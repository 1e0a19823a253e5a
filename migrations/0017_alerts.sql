-- 0017: alerts ("pop-up notes") on accounts and sites, one row per alert, so that a customer's
-- or a job's page shows them without loading the documents (a site serviced weekly for years
-- holds thousands of notes). Documents made before alerts have none: nothing to back-fill.
CREATE TABLE alerts (
    doc BLOB NOT NULL,
    id BLOB NOT NULL,
    account BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (doc, id)
) WITHOUT ROWID;
