-- The fact table: valid, deduplicated observations. Input: table classified. Partitioned by day.
SELECT day, entity_id, park, observed_at, posted_wait, actual_wait
FROM classified
WHERE reason IS NULL
