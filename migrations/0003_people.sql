-- 0003: the people behind the changes (server side): users and their registered devices.
--
-- A user is a technician, office worker or admin. Each tablet is a device of one user, paired
-- with its own bearer token; only the token's BLAKE3 hash is kept, so a stolen database file
-- does not let anyone sync. A device is revoked, never deleted: its number stays taken.
--
-- Ids are the 16 bytes of a UUID; times are milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE   -- login name; "Tess" and "tess" clash
                  CHECK (name <> ''),
    role          TEXT NOT NULL CHECK (role IN ('technician', 'office', 'admin')),
    password_hash TEXT,                  -- argon2 PHC string; NULL: no office login (technicians)
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    id         BLOB PRIMARY KEY,
    user       BLOB NOT NULL REFERENCES users (id),
    -- The device number stamped on its changes (their origin) and in its invoice numbers:
    -- 1, 2, ... in the order devices are added (the server itself is 0). Rows are never
    -- deleted, so a number is never given out twice.
    number     INTEGER NOT NULL UNIQUE CHECK (number >= 1),
    name       TEXT NOT NULL,            -- for people: "Tess's tablet"
    token_hash BLOB NOT NULL UNIQUE,     -- 32-byte BLAKE3 hash of the device's bearer token
    revoked_at INTEGER,                  -- NULL while the device may sync
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX devices_user ON devices (user);
