-- human_qa: rows, share, mean age and confidence per prediction source. Input: final_results.
SELECT
    prediction_source,
    count(*) AS rows,
    round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS pct,
    round(avg(predicted_age), 2) AS mean_age,
    round(avg(confidence_score), 3) AS mean_confidence
FROM final_results
GROUP BY prediction_source
ORDER BY rows DESC
