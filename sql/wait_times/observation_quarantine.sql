-- Observations set aside, each with its column, reason and where it came from; values as delivered (waits as
-- DOUBLE, ids as BIGINT: an out-of-range value is kept as it was). Input: table classified.
SELECT day, reason, column_name, entity_id, observed_at, posted_wait, actual_wait, source_file,
       CAST(source_row AS BIGINT) AS source_row
FROM classified
WHERE reason IS NOT NULL
