-- Each park's opening hours on the delivery's own day. Input: view raw_park_hours.
SELECT delivery_day AS day, park, date, opens_at, closes_at
FROM raw_park_hours
WHERE date = delivery_day
ORDER BY park
