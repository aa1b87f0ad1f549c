-- Every delivered observation with the reason it is set aside (NULL: kept in the fact table).
-- Inputs: views raw_observations and raw_entities (each row tagged with its delivery_day, source_file,
-- source_row); parameter $max_wait. A duplicate is a later row (by file, then row) of the same entity and
-- time within a day, counted among valid rows only, so an invalid copy never displaces a valid reading.
WITH checked AS (
    SELECT o.delivery_day AS day, CAST(o.entity_id AS INTEGER) AS entity_id, e.park, o.observed_at,
           CAST(o.posted_wait AS INTEGER) AS posted_wait, CAST(o.actual_wait AS INTEGER) AS actual_wait,
           o.source_file, o.source_row,
           CASE
               WHEN o.entity_id IS NULL OR o.observed_at IS NULL OR o.posted_wait IS NULL THEN 'missing_value'
               WHEN e.entity_id IS NULL THEN 'unknown_entity'
               WHEN CAST(o.observed_at AS DATE) <> o.delivery_day THEN 'outside_day'
               WHEN o.posted_wait < 0 OR o.actual_wait < 0 THEN 'negative_wait'
               WHEN o.posted_wait > $max_wait OR o.actual_wait > $max_wait THEN 'implausible_wait'
           END AS invalid
    FROM raw_observations o
    LEFT JOIN raw_entities e ON e.entity_id = o.entity_id AND e.delivery_day = o.delivery_day
)
SELECT * EXCLUDE (invalid),
       coalesce(invalid, CASE WHEN row_number() OVER (
           PARTITION BY day, entity_id, observed_at, invalid IS NULL ORDER BY source_file, source_row) > 1
           THEN 'duplicate' END) AS reason
FROM checked
