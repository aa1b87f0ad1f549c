-- Data freshness per entity on $day: its latest observation against its park's closing time that day
-- (the day's end when the park has no hours); stale when nothing was observed in the last
-- $stale_hours hours before it, or never.
WITH names AS (
    SELECT entity_id, any_value(entity_name) AS entity_name FROM dim_entity GROUP BY entity_id
),
closing AS (
    SELECT park, max(closes_at) AS closes_at FROM dim_park_hours WHERE date = $day GROUP BY park
),
measured AS (
    SELECT i.entity_id, coalesce(n.entity_name, '#' || i.entity_id) AS entity_name, i.park, i.tier,
           i.observation_count, i.latest_observation,
           least(coalesce(c.closes_at, CAST($day AS TIMESTAMP) + INTERVAL 1 DAY),
                 CAST($day AS TIMESTAMP) + INTERVAL 1 DAY) AS reference_time
    FROM entity_index AS i
    LEFT JOIN names AS n USING (entity_id)
    LEFT JOIN closing AS c USING (park)
)
SELECT *, round(epoch(reference_time - latest_observation) / 3600, 2) AS hours_since,
       latest_observation IS NULL OR epoch(reference_time - latest_observation) > $stale_hours * 3600 AS stale
FROM measured
ORDER BY stale DESC, hours_since DESC NULLS FIRST, tier, entity_id
