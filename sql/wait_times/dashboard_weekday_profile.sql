-- One entity by ISO day of week (1 = Monday) over [$start, $end]: the mean of its observed 15-minute
-- slots beside the mean of the forecasts made for those days (the most recent one for each day).
WITH observed AS (
    SELECT isodow(date) AS dow, count(DISTINCT date) AS observed_days, sum(observations) AS observations,
           avg(mean_posted) AS mean_posted, avg(mean_actual) AS mean_actual
    FROM posted_aggregates
    WHERE entity_id = $entity_id AND date BETWEEN $start AND $end
    GROUP BY dow
),
latest_forecasts AS (
    SELECT forecast_date, predicted_wait
    FROM forecasts
    WHERE entity_id = $entity_id AND forecast_date BETWEEN $start AND $end
    QUALIFY rank() OVER (PARTITION BY forecast_date ORDER BY partition_date < forecast_date DESC, partition_date DESC) = 1
),
predicted AS (
    SELECT isodow(forecast_date) AS dow, count(DISTINCT forecast_date) AS forecast_days,
           avg(predicted_wait) AS predicted_wait
    FROM latest_forecasts
    GROUP BY dow
)
SELECT coalesce(o.dow, p.dow) AS dow, o.observed_days, o.observations, o.mean_posted, o.mean_actual,
       p.forecast_days, p.predicted_wait
FROM observed AS o
FULL JOIN predicted AS p ON o.dow = p.dow
ORDER BY dow
