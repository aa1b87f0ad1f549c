-- The entity a curve shows first: one with a model's forecast on $day, else one with any forecast
-- (a fallback), then the one with the most observations.
WITH forecast AS (
    SELECT entity_id, bool_or(model_version IS NOT NULL) AS by_model
    FROM forecasts
    WHERE forecast_date = $day
    GROUP BY entity_id
)
SELECT i.entity_id
FROM entity_index AS i
LEFT JOIN forecast AS f USING (entity_id)
ORDER BY f.by_model DESC NULLS LAST, i.observation_count DESC NULLS LAST, i.tier, i.entity_id
LIMIT 1
