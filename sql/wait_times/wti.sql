-- The wait time index per park and forecast day: the mean predicted posted wait of the park's entities,
-- each weighted by its mean posted wait over the $weight_days days before the forecast was made (so
-- headliners count more than a carousel). An entity without recent observations weighs its own mean
-- prediction. Inputs: view forecasts, view aggregates (posted_aggregates); parameters $day, $weight_days.
WITH weights AS (
    SELECT entity_id, avg(mean_posted) AS weight
    FROM aggregates
    WHERE date > CAST($day AS DATE) - $weight_days AND date <= CAST($day AS DATE)
    GROUP BY ALL
),
daily AS (
    SELECT entity_id, park, forecast_date, avg(predicted_wait) AS mean_predicted
    FROM forecasts
    GROUP BY ALL
)
SELECT d.park, d.forecast_date,
       sum(coalesce(w.weight, d.mean_predicted) * d.mean_predicted) / nullif(sum(coalesce(w.weight, d.mean_predicted)), 0) AS wti,
       CAST(count(*) AS INTEGER) AS entities
FROM daily d
LEFT JOIN weights w USING (entity_id)
GROUP BY ALL
ORDER BY d.park, d.forecast_date
