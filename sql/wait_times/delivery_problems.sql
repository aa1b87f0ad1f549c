-- Fatal problems of a delivery's entity list and park hours (any row stops the ETL with its file, column and
-- value). Duplicates are judged per delivery day, across all of its files. Inputs: views raw_entities,
-- raw_park_hours; table park_tiers.
SELECT source_file, 'park' AS column_name, park AS value, 'unknown park' AS problem
FROM raw_entities WHERE park NOT IN (SELECT park FROM park_tiers) OR park IS NULL
UNION ALL
SELECT source_file, 'entity_id', CAST(entity_id AS VARCHAR), 'entity ids must be whole numbers from 1 to 2,147,483,647'
FROM raw_entities WHERE entity_id IS NOT NULL AND (TRY_CAST(entity_id AS INTEGER) IS NULL OR entity_id < 1)
UNION ALL
SELECT min(source_file), 'entity_id', CAST(entity_id AS VARCHAR), 'duplicate or missing entity_id'
FROM raw_entities GROUP BY delivery_day, entity_id HAVING count(*) > 1 OR entity_id IS NULL
UNION ALL
SELECT source_file, 'park', park, 'unknown park'
FROM raw_park_hours WHERE park NOT IN (SELECT park FROM park_tiers) OR park IS NULL
UNION ALL
SELECT source_file, 'closes_at', CAST(closes_at AS VARCHAR), 'closes before it opens, or missing'
FROM raw_park_hours WHERE NOT (closes_at > opens_at) OR closes_at IS NULL OR opens_at IS NULL
UNION ALL
SELECT min(source_file), 'date', CAST(date AS VARCHAR), 'hours of park ' || park || ' delivered twice for this date'
FROM raw_park_hours GROUP BY delivery_day, park, date HAVING count(*) > 1
ORDER BY source_file, column_name
LIMIT 20
