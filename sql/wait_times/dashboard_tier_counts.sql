-- The dashboard's pipeline panel: one run's entities by tier and outcome.
SELECT
    tier,
    count(*) FILTER (WHERE status = 'trained') AS trained,
    count(*) FILTER (WHERE status = 'skipped') AS skipped,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE status = 'degraded') AS degraded,
    count(*) AS entities
FROM training_results
GROUP BY tier
ORDER BY tier
