-- human_qa: this quarter against the previous one, per source. Inputs: final_results,
-- previous_final_results (an empty view when there is no previous quarter).
WITH cur AS (
    SELECT prediction_source, count(*) AS rows, avg(predicted_age) AS mean_age
    FROM final_results GROUP BY ALL
),
prev AS (
    SELECT prediction_source, count(*) AS rows, avg(predicted_age) AS mean_age
    FROM previous_final_results GROUP BY ALL
)
SELECT
    coalesce(cur.prediction_source, prev.prediction_source) AS prediction_source,
    cur.rows AS rows,
    prev.rows AS previous_rows,
    round(100.0 * (cur.rows - prev.rows) / nullif(prev.rows, 0), 2) AS rows_change_pct,
    round(cur.mean_age, 2) AS mean_age,
    round(prev.mean_age, 2) AS previous_mean_age
FROM cur FULL OUTER JOIN prev USING (prediction_source)
ORDER BY prediction_source
