-- The days the given forecast partitions cover: the date picker's upper bound.
SELECT min(forecast_date) AS first_day, max(forecast_date) AS last_day
FROM forecasts
