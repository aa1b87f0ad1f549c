-- The days the given forecast partitions cover (the date picker's upper bound), the latest of them
-- up to $observed, the latest observed day (observed and forecast: the day a curve shows first),
-- and the first after it (only forecast: shown first when no observed day has a forecast).
SELECT min(forecast_date) AS first_day, max(forecast_date) AS last_day,
       max(forecast_date) FILTER (WHERE forecast_date <= $observed) AS last_compared_day,
       min(forecast_date) FILTER (WHERE forecast_date > $observed) AS next_day
FROM forecasts
