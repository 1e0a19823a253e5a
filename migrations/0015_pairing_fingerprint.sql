-- Tablet: the SHA-256 fingerprint of the server's TLS certificate, pinned at pairing for a
-- server with a self-signed certificate (field-app/src/net/tls.rs); NULL when the tablet
-- trusts the system's root certificates (or the server is reached over plain HTTP).
ALTER TABLE pairing ADD COLUMN tls_fingerprint TEXT;
