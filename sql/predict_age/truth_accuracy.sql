-- Synthetic world only: accuracy of the final table against ground truth, per source.
-- Inputs: final_results, truth. Training never reads truth; this is evaluation after the fact.
SELECT
    f.prediction_source,
    count(*) AS rows,
    round(avg(abs(f.predicted_age - t.true_age)), 3) AS mae,
    round(sqrt(avg((f.predicted_age - t.true_age) ^ 2)), 3) AS rmse,
    round(avg(f.predicted_age - t.true_age), 3) AS bias,
    round(100.0 * avg(CASE WHEN abs(f.predicted_age - t.true_age) <= 5 THEN 1 ELSE 0 END), 2) AS within_5_pct
FROM final_results f JOIN truth t USING (pid)
GROUP BY f.prediction_source
ORDER BY rows DESC
