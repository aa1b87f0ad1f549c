-- When an entity's park opened and closed on $day: the day curve's time axis.
SELECT min(h.opens_at) AS opens_at, max(h.closes_at) AS closes_at
FROM dim_park_hours AS h
WHERE h.date = $day AND h.park = (SELECT any_value(park) FROM dim_entity WHERE entity_id = $entity_id)
