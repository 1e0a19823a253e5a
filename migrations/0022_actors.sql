-- 0022: each automerge actor belongs to the user whose device first had a change with it
-- stored, so that no device can write with another user's actor (a change in a colleague's
-- name, or one taking the sequence number of their next change so that theirs is refused as a
-- duplicate). A user, not a device: a tablet paired again keeps writing with its actor.
-- Actors used before this are claimed by their next stored change.
CREATE TABLE actors (
    actor BLOB PRIMARY KEY,
    user  BLOB NOT NULL,
    since INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
