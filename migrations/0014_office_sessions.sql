-- Server: signed-in office sessions, by the BLAKE3 hash of the cookie's secret (the secret
-- itself is never stored), so that restarting the server signs nobody out. A session ends at
-- sign-out, after a while without a request, or a fixed time after sign-in whatever happens
-- (server/src/sessions.rs).
CREATE TABLE office_sessions (
    hash       BLOB PRIMARY KEY,
    user       BLOB NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;
