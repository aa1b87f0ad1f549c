-- One entity's day by 15-minute slot: observed waits (posted_aggregates) beside the most recent
-- forecast made for that day before it started (a same-day forecast only when there is no earlier one),
-- with its source (a model, or the fallback of an entity without one; NULL before forecasts said).
WITH observed AS (
    SELECT slot_start, observations, mean_posted, max_posted, mean_actual
    FROM posted_aggregates
    WHERE entity_id = $entity_id AND date = $day
),
predicted AS (
    SELECT slot_start, predicted_wait, model_version, forecast_source, partition_date AS forecast_made
    FROM forecasts
    WHERE entity_id = $entity_id AND forecast_date = $day
    QUALIFY rank() OVER (ORDER BY partition_date < forecast_date DESC, partition_date DESC) = 1
)
SELECT coalesce(o.slot_start, p.slot_start) AS slot_start, o.observations, o.mean_posted, o.max_posted,
       o.mean_actual, p.predicted_wait, p.model_version, p.forecast_source, p.forecast_made
FROM observed AS o
FULL JOIN predicted AS p ON o.slot_start = p.slot_start
ORDER BY slot_start
