-- The dispatch board reads one day's jobs by start time: without this index it read every
-- job of the company (60,000 in the fleet benchmark) for each board.
CREATE INDEX jobs_start ON jobs (scheduled_start);
-- A customer page lists the accounts merged into it: without this index, every account's
-- JSON was parsed for each customer page.
CREATE INDEX accounts_merged_into ON accounts (json_extract(json, '$.merged_into'));
