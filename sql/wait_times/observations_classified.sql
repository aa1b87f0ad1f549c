-- Every delivered observation with the column and reason it is set aside for (reason NULL: kept in the fact
-- table). Inputs: views raw_observations and raw_entities (each row tagged with its delivery_day, source_file,
-- source_row); parameters $min_wait, $max_wait (logic/contract.py's RANGES). Values are compared before any
-- narrowing cast, so an id or a wait that fits no 32-bit integer (2^40, 1e308, inf) is quarantined, never an
-- error: entity_id stays BIGINT (NULL when it fits no BIGINT either) and waits DOUBLE until the fact table. A
-- duplicate is a later row (by file, then row) of the same entity and time within a day, counted among valid
-- rows only, so an invalid copy never displaces a valid reading.
WITH typed AS (
    SELECT o.delivery_day AS day, TRY_CAST(o.entity_id AS BIGINT) AS entity_id, o.entity_id IS NULL AS entity_missing,
           o.observed_at, CAST(o.posted_wait AS DOUBLE) AS posted_wait, CAST(o.actual_wait AS DOUBLE) AS actual_wait,
           o.source_file, o.source_row
    FROM raw_observations o
),
checked AS (
    SELECT t.*, e.park,
           CASE
               WHEN t.entity_missing THEN 'entity_id|missing_value'
               WHEN t.observed_at IS NULL THEN 'observed_at|missing_value'
               WHEN t.posted_wait IS NULL THEN 'posted_wait|missing_value'
               WHEN e.entity_id IS NULL THEN 'entity_id|unknown_entity'
               WHEN CAST(t.observed_at AS DATE) <> t.day THEN 'observed_at|outside_day'
               WHEN isnan(t.posted_wait) THEN 'posted_wait|not_a_number'
               WHEN t.posted_wait < $min_wait THEN 'posted_wait|negative_wait'
               WHEN t.posted_wait > $max_wait THEN 'posted_wait|implausible_wait'
               WHEN isnan(t.actual_wait) THEN 'actual_wait|not_a_number'
               WHEN t.actual_wait < $min_wait THEN 'actual_wait|negative_wait'
               WHEN t.actual_wait > $max_wait THEN 'actual_wait|implausible_wait'
           END AS invalid
    FROM typed t
    LEFT JOIN raw_entities e ON e.entity_id = t.entity_id AND e.delivery_day = t.day
)
SELECT * EXCLUDE (entity_missing, invalid, duplicate),
       CASE WHEN invalid IS NOT NULL THEN split_part(invalid, '|', 1) WHEN duplicate THEN 'entity_id, observed_at' END
           AS column_name,
       CASE WHEN invalid IS NOT NULL THEN split_part(invalid, '|', 2) WHEN duplicate THEN 'duplicate' END AS reason
FROM (
    SELECT *, row_number() OVER (PARTITION BY day, entity_id, observed_at, invalid IS NULL
                                 ORDER BY source_file, source_row) > 1 AND invalid IS NULL AS duplicate
    FROM checked
)
