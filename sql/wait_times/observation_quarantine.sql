-- Observations set aside, each with its reason and where it came from. Input: table classified.
SELECT day, reason, entity_id, observed_at, posted_wait, actual_wait, source_file, CAST(source_row AS BIGINT) AS source_row
FROM classified
WHERE reason IS NOT NULL
