-- Hours and event flags as published with a day's delivery, for that day and the days ahead: what
-- forecasts are built on. Inputs: views raw_park_hours and raw_events.
SELECT h.delivery_day AS day, h.park, h.date, h.opens_at, h.closes_at,
       coalesce(bool_or(v.event = 'holiday'), false) AS holiday,
       coalesce(bool_or(v.event = 'festival'), false) AS festival,
       coalesce(bool_or(v.event = 'extended_hours'), false) AS extended_hours,
       coalesce(bool_or(v.event = 'party'), false) AS party
FROM raw_park_hours h
LEFT JOIN raw_events v ON v.delivery_day = h.delivery_day AND v.park = h.park AND v.date = h.date
GROUP BY ALL
ORDER BY h.park, h.date
