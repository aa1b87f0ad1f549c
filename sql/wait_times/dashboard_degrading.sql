-- Entities whose accuracy degrades: flagged 'degraded' in the latest run, or with a validation MAE
-- that rose in each of their last $runs trained runs, by at least $min_rise (relative) in all.
WITH names AS (
    SELECT entity_id, any_value(entity_name) AS entity_name FROM dim_entity GROUP BY entity_id
),
flagged AS (
    SELECT entity_id, park, tier, 'degraded' AS kind, partition_date AS run_date,
           previous_mae AS first_mae, mae AS last_mae, 1 AS runs
    FROM training_results
    WHERE status = 'degraded' AND partition_date = (SELECT max(partition_date) FROM training_results)
),
trained AS (
    SELECT entity_id, park, tier, partition_date, mae,
           row_number() OVER (PARTITION BY entity_id ORDER BY partition_date DESC) AS back
    FROM training_results
    WHERE status IN ('trained', 'degraded') AND mae IS NOT NULL
),
recent AS (
    SELECT *, lag(mae) OVER (PARTITION BY entity_id ORDER BY partition_date) AS before
    FROM trained
    WHERE back <= $runs
),
rising AS (
    SELECT entity_id, any_value(park) AS park, any_value(tier) AS tier, 'rising' AS kind,
           max(partition_date) AS run_date, arg_min(mae, partition_date) AS first_mae,
           arg_max(mae, partition_date) AS last_mae, count(*) AS runs
    FROM recent
    GROUP BY entity_id
    HAVING count(*) = $runs
       AND bool_and(before IS NULL OR mae > before)
       AND arg_max(mae, partition_date) >= (1 + $min_rise) * arg_min(mae, partition_date)
)
SELECT d.entity_id, coalesce(n.entity_name, '#' || d.entity_id) AS entity_name, d.park, d.tier, d.kind,
       d.run_date, d.first_mae, d.last_mae, d.runs
FROM (SELECT * FROM flagged UNION ALL SELECT * FROM rising) AS d
LEFT JOIN names AS n USING (entity_id)
ORDER BY d.tier, d.kind, d.last_mae / nullif(d.first_mae, 0) DESC NULLS LAST, d.entity_id
