-- The training rows of the selected entities: each observation with its park's hours and event flags
-- that day (all known in advance; nothing from the same day's later observations). Inputs: views facts,
-- hours (dim_park_hours), events (dim_events) through the day; table selected (entity_id).
WITH flags AS (
    SELECT park, date,
           bool_or(event = 'holiday') AS holiday, bool_or(event = 'festival') AS festival,
           bool_or(event = 'extended_hours') AS extended_hours, bool_or(event = 'party') AS party
    FROM events
    GROUP BY ALL
)
SELECT f.entity_id, f.observed_at, f.posted_wait, h.opens_at, h.closes_at,
       coalesce(v.holiday, false) AS holiday, coalesce(v.festival, false) AS festival,
       coalesce(v.extended_hours, false) AS extended_hours, coalesce(v.party, false) AS party
FROM facts f
JOIN selected s USING (entity_id)
JOIN hours h ON h.park = f.park AND h.date = CAST(f.observed_at AS DATE)
LEFT JOIN flags v ON v.park = f.park AND v.date = h.date
