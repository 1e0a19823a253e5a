-- Tablet: the heads of every document when the server last found them the same as its own
-- (its answer to a Verify), with the server's attestation of their digest (meta
-- 'attestation'). Shown to a server restored from an older copy during a repair, so that it
-- takes back every change it once had, whoever made it.
CREATE TABLE attested (
    doc   BLOB PRIMARY KEY,
    heads BLOB NOT NULL
) STRICT;
-- The heads the digest of the Verify on its way was made of (meta 'attest_pending_seq').
CREATE TABLE attest_pending (
    doc   BLOB PRIMARY KEY,
    heads BLOB NOT NULL
) STRICT;
