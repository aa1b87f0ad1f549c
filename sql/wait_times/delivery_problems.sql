-- Fatal problems of a delivery's entity list and park hours (any row stops the ETL with its file,
-- column and value). Inputs: views raw_entities, raw_park_hours; table park_tiers.
SELECT source_file, 'park' AS column_name, park AS value, 'unknown park' AS problem
FROM raw_entities WHERE park NOT IN (SELECT park FROM park_tiers) OR park IS NULL
UNION ALL
SELECT source_file, 'entity_id', CAST(entity_id AS VARCHAR), 'duplicate or missing entity_id'
FROM raw_entities GROUP BY ALL HAVING count(*) > 1 OR entity_id IS NULL
UNION ALL
SELECT source_file, 'park', park, 'unknown park'
FROM raw_park_hours WHERE park NOT IN (SELECT park FROM park_tiers) OR park IS NULL
UNION ALL
SELECT source_file, 'closes_at', CAST(closes_at AS VARCHAR), 'closes before it opens, or missing'
FROM raw_park_hours WHERE NOT (closes_at > opens_at) OR closes_at IS NULL OR opens_at IS NULL
ORDER BY source_file, column_name
LIMIT 20
