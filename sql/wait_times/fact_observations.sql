-- The fact table: valid, deduplicated observations (every value in range, so the 32-bit casts hold). Input:
-- table classified. Partitioned by day.
SELECT day, CAST(entity_id AS INTEGER) AS entity_id, park, observed_at, CAST(posted_wait AS INTEGER) AS posted_wait,
       CAST(actual_wait AS INTEGER) AS actual_wait
FROM classified
WHERE reason IS NULL
