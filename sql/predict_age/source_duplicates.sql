-- Rows of raw_source whose pid already appeared earlier (by file, then row): the rows that
-- source_snapshot does not keep. Written to the quarantine so that none is dropped silently.
-- Only the pids seen more than once are ranked: one hash aggregate over the pid column, then a
-- window over a handful of rows instead of a sort of the whole quarter.
WITH repeated AS (
    SELECT pid FROM raw_source GROUP BY pid HAVING count(*) > 1
)
SELECT pid, source_file, source_row
FROM raw_source SEMI JOIN repeated USING (pid)
QUALIFY row_number() OVER (PARTITION BY pid ORDER BY source_file, source_row) > 1
