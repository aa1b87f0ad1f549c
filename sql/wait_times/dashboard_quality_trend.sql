-- The dashboard's quality trend: per run and tier, how many entities were trained and their MAE.
SELECT
    partition_date,
    tier,
    count(*) FILTER (WHERE status IN ('trained', 'degraded')) AS trained,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE status = 'degraded') AS degraded,
    median(mae) FILTER (WHERE status IN ('trained', 'degraded')) AS median_mae,
    avg(mae) FILTER (WHERE status IN ('trained', 'degraded')) AS mean_mae,
    median(rmse) FILTER (WHERE status IN ('trained', 'degraded')) AS median_rmse
FROM training_results
GROUP BY partition_date, tier
ORDER BY partition_date, tier
