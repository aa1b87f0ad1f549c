-- The fallback forecast of entities without a model (too new to train, or their training failed), per slot of
-- the next days: the park's mean posted wait by ISO weekday and hour over the profile window, scaled by the
-- entity's own mean posted wait over the window against the park's (fallback_entity_profile) when it has
-- observations there, else the park's profile as is (fallback_park_profile). A weekday and hour the park has no
-- observations for takes the park's mean at that hour, then the park's mean; a park without observations in the
-- window gives the entity's own mean. Means weigh each 15-minute aggregate by its observations.
-- Inputs: view aggregates (posted_aggregates of the window), table wanted (entity_id, park), table slots
-- (park, forecast_date, slot_start, slot_middle).
WITH park_cell AS (
    SELECT park, isodow(slot_start) AS dow, hour(slot_start) AS hour,
           sum(mean_posted * observations) / sum(observations) AS wait
    FROM aggregates
    GROUP BY ALL
),
park_hour AS (
    SELECT park, hour(slot_start) AS hour, sum(mean_posted * observations) / sum(observations) AS wait
    FROM aggregates
    GROUP BY ALL
),
park_level AS (
    SELECT park, sum(mean_posted * observations) / sum(observations) AS level
    FROM aggregates
    GROUP BY ALL
),
entity_level AS (
    SELECT entity_id, sum(mean_posted * observations) / sum(observations) AS level
    FROM aggregates
    WHERE entity_id IN (SELECT entity_id FROM wanted)
    GROUP BY ALL
)
SELECT w.entity_id, s.park, s.forecast_date, s.slot_start,
       coalesce(coalesce(c.wait, h.wait, p.level) * coalesce(e.level / nullif(p.level, 0), 1.0), e.level) AS predicted_wait,
       CASE WHEN e.level IS NOT NULL THEN 'fallback_entity_profile' ELSE 'fallback_park_profile' END AS forecast_source
FROM wanted w
JOIN slots s USING (park)
LEFT JOIN park_cell c ON c.park = s.park AND c.dow = isodow(s.slot_middle) AND c.hour = hour(s.slot_middle)
LEFT JOIN park_hour h ON h.park = s.park AND h.hour = hour(s.slot_middle)
LEFT JOIN park_level p ON p.park = s.park
LEFT JOIN entity_level e ON e.entity_id = w.entity_id
ORDER BY w.entity_id, s.slot_start
