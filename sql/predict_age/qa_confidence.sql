-- human_qa: confidence deciles of the ML predictions. Input: final_results.
-- Only the three columns the deciles need go through the window's sort (it spills at scale).
SELECT
    decile,
    count(*) AS rows,
    round(min(confidence_score), 3) AS min_confidence,
    round(max(confidence_score), 3) AS max_confidence,
    round(avg(predicted_age), 2) AS mean_age
FROM (
    SELECT confidence_score, predicted_age, ntile(10) OVER (ORDER BY confidence_score, pid) AS decile
    FROM final_results
    WHERE prediction_source = 'ML_PREDICTION'
)
GROUP BY decile
ORDER BY decile
