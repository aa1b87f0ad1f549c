-- Rows of raw_source whose pid already appeared earlier (by file, then row): the rows that
-- source_snapshot does not keep. Written to the quarantine so that none is dropped silently.
SELECT pid, source_file, source_row
FROM raw_source
QUALIFY row_number() OVER (PARTITION BY pid ORDER BY source_file, source_row) > 1
