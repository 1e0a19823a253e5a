-- Tablet: the latest attestation the server sent with each document (its heads when it sent
-- them, and a keyed hash only the server's database can make), per server history: a repair
-- (the server was restored or replaced) starts a new generation, and the older ones are kept
-- until the server attests everything the tablet holds (a Verify found the same). Shown to a
-- server restored from an older copy during a repair, so that it takes back every change it
-- had sent, whoever made it (an office assignment made after the backup, say).
CREATE TABLE attested_docs (
    doc        BLOB NOT NULL,
    generation INTEGER NOT NULL,
    heads      BLOB NOT NULL,
    tag        BLOB NOT NULL,
    PRIMARY KEY (doc, generation)
) STRICT;
