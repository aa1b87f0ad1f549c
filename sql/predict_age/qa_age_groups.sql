-- human_qa: age-group distribution per source, in percent of each source. Input: final_results.
SELECT
    CASE
        WHEN predicted_age < 25 THEN '18-24' WHEN predicted_age < 35 THEN '25-34'
        WHEN predicted_age < 45 THEN '35-44' WHEN predicted_age < 55 THEN '45-54'
        WHEN predicted_age < 65 THEN '55-64' WHEN predicted_age < 75 THEN '65-74'
        ELSE '75+'
    END AS age_group,
    round(100.0 * count(*) FILTER (WHERE prediction_source = 'ML_PREDICTION')
        / greatest(1, sum(count(*) FILTER (WHERE prediction_source = 'ML_PREDICTION')) OVER ()), 2) AS ml_prediction_pct,
    round(100.0 * count(*) FILTER (WHERE prediction_source LIKE 'EXISTING_%')
        / greatest(1, sum(count(*) FILTER (WHERE prediction_source LIKE 'EXISTING_%')) OVER ()), 2) AS existing_pct,
    round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS all_pct,
    count(*) AS rows
FROM final_results
GROUP BY age_group
ORDER BY age_group
