-- 0021: what a device can make the server keep, bounded. Who uploaded each blob and when, so
-- that what a device uploads and no record names yet is bounded (a quota per device), and blobs
-- no record ever came to name are collected; indexes to find the records naming a blob (a
-- photo's image or thumbnail, an invoice's signature), which also decide who may download it.
--
-- A blob stored before this has no device (as an office upload) and counts as uploaded now:
-- if no record names it a week from now, it is collected like any other.

ALTER TABLE blobs ADD COLUMN device INTEGER;                 -- uploading device; NULL: the office
ALTER TABLE blobs ADD COLUMN at INTEGER NOT NULL DEFAULT 0;  -- ms when its first chunk arrived
ALTER TABLE blobs ADD COLUMN named INTEGER NOT NULL DEFAULT 0; -- 1 once a record was seen naming it
UPDATE blobs SET at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
CREATE INDEX blobs_unnamed ON blobs (at) WHERE named = 0;
CREATE INDEX blobs_unnamed_by_device ON blobs (device) WHERE named = 0;

CREATE INDEX photos_full_hash ON photos (json_extract(json, '$.full_hash'));
CREATE INDEX photos_thumb_hash ON photos (json_extract(json, '$.thumb_hash'));
CREATE INDEX invoices_signature ON invoices (json_extract(json, '$.signature.image'));

-- A device's quarantined changes are counted (rows and bytes per device, bounded) and expire.
CREATE INDEX quarantine_device ON quarantine (device);
CREATE INDEX quarantine_at ON quarantine (at);
