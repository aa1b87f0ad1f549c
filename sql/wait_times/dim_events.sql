-- Each park's events on the delivery's own day. Input: view raw_events.
SELECT DISTINCT delivery_day AS day, park, date, event
FROM raw_events
WHERE date = delivery_day
ORDER BY park, event
