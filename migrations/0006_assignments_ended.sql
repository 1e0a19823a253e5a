-- 0006: when each technician's assignment to a job ended (written with the job's projection,
-- crate `fieldsync-store`). A technician who worked offline on a job that was unassigned
-- meanwhile still has the changes they made before the unassignment accepted: the server
-- compares each change's time with `ended_at` (milliseconds since the Unix epoch, UTC). A row
-- is removed when the technician is assigned to the job again.
CREATE TABLE assignments_ended (
    job      BLOB NOT NULL,
    user     BLOB NOT NULL,
    account  BLOB NOT NULL,
    ended_at INTEGER NOT NULL,
    PRIMARY KEY (job, user)
) STRICT;
CREATE INDEX assignments_ended_user ON assignments_ended (user, account);
