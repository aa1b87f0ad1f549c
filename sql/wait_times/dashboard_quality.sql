-- The dashboard's model-quality table: every entity of one run, with its name and its MAE against
-- the previous version's.
WITH names AS (
    SELECT entity_id, any_value(entity_name) AS entity_name FROM dim_entity GROUP BY entity_id
)
SELECT
    r.entity_id,
    coalesce(n.entity_name, '#' || r.entity_id) AS entity_name,
    r.park,
    r.tier,
    r.status,
    round(r.mae, 3) AS mae,
    round(r.rmse, 3) AS rmse,
    round(r.previous_mae, 3) AS previous_mae,
    round(100 * (r.mae / nullif(r.previous_mae, 0) - 1), 1) AS mae_change_pct,
    r.trees,
    round(r.seconds, 2) AS seconds,
    r.train_rows,
    r.valid_rows,
    r.version,
    r.promoted,
    r.reason,
    r.error
FROM training_results AS r
LEFT JOIN names AS n USING (entity_id)
ORDER BY r.tier, r.mae DESC NULLS LAST, r.entity_id
