-- 0007: the accounts whose documents each device has been given and has not since confirmed
-- dropping (server side, crate `fieldsync-store`). A technician's tablet may write to an
-- account in its scope, or to one listed here: work done offline on a job that was unassigned
-- meanwhile still lands, judged by what the server gave the device, not by the device's
-- clock. A row is added when the server serves the account's documents to the device, and
-- removed when the device, at a handshake, says it no longer holds any of them. It replaces
-- `assignments_ended` (0006), which judged by the time a device wrote on its changes, and is
-- dropped below once its rows are carried over.
CREATE TABLE device_accounts (
    device  INTEGER NOT NULL,            -- the device's number (its changes' origin)
    account BLOB NOT NULL,
    PRIMARY KEY (device, account)
) STRICT, WITHOUT ROWID;

-- Devices already paired were given the accounts of their technician's jobs, current or ended.
INSERT OR IGNORE INTO device_accounts (device, account)
    SELECT d.number, a.account
    FROM devices d
    JOIN (SELECT user, account FROM job_technicians
          UNION SELECT user, account FROM assignments_ended) a ON a.user = d.user
    WHERE d.revoked_at IS NULL;

DROP TABLE assignments_ended;
