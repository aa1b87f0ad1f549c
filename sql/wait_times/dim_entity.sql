-- The entity list as delivered on each day, with the park's priority tier. Inputs: view raw_entities,
-- table park_tiers (park, tier).
SELECT e.delivery_day AS day, CAST(e.entity_id AS INTEGER) AS entity_id, e.entity_name, e.park,
       CAST(t.tier AS INTEGER) AS tier, CAST(e.opened_on AS DATE) AS opened_on
FROM raw_entities e
JOIN park_tiers t USING (park)
ORDER BY entity_id
