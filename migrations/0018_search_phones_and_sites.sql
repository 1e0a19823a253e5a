-- 0018: search finds customers by phone number and by address too. Accounts' search text now
-- holds phones (as typed and as digits) and the billing address (views::search_text; the
-- migration's hook recomputes it for existing rows), and every site has search text (its
-- name and address, views::site_search_text) with a trigram index of its own: an account
-- matches a word when its own text or one of its sites' does.
ALTER TABLE sites ADD COLUMN search TEXT NOT NULL DEFAULT '';

CREATE VIRTUAL TABLE site_search USING fts5 (
    search, content = 'sites', content_rowid = 'rowid', tokenize = 'trigram'
);
CREATE TRIGGER sites_search_insert AFTER INSERT ON sites BEGIN
    INSERT INTO site_search (rowid, search) VALUES (new.rowid, new.search);
END;
CREATE TRIGGER sites_search_delete AFTER DELETE ON sites BEGIN
    INSERT INTO site_search (site_search, rowid, search)
        VALUES ('delete', old.rowid, old.search);
END;
