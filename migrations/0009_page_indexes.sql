-- A job's notes and photos are shown a page at a time, newest first.
CREATE INDEX notes_doc_time ON notes (doc, created_at, id);
CREATE INDEX photos_doc_time ON photos (doc, taken_at, id);
