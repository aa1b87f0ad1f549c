-- The dashboard's entity picker: every entity, critical tiers first.
SELECT entity_id, any_value(entity_name) AS entity_name, any_value(park) AS park, min(tier) AS tier
FROM dim_entity
GROUP BY entity_id
ORDER BY tier, park, entity_name, entity_id
