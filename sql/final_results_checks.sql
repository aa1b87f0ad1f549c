-- The figures behind final_results' asset checks, in one pass over the quarter's table.
-- Inputs: views final_results and staging_features. Parameters: $min_age, $max_age.
SELECT
    (SELECT count(*) FROM final_results) AS rows,
    (SELECT count(DISTINCT pid) FROM final_results) AS distinct_pids,
    (SELECT count(DISTINCT pid) FROM staging_features) AS source_pids,
    (SELECT count(*) FROM final_results WHERE predicted_age IS NULL) AS null_ages,
    (SELECT count(*) FROM final_results WHERE predicted_age NOT BETWEEN $min_age AND $max_age) AS out_of_range_ages,
    (SELECT count(*) FROM final_results
        WHERE confidence_score IS NULL OR NOT (confidence_score BETWEEN 0 AND 1)) AS bad_confidence,
    (SELECT count(*) FROM final_results f JOIN staging_features s USING (pid)
        WHERE (s.existing_age IS NOT NULL AND f.prediction_source <> s.existing_age_source)
           OR (s.existing_age IS NULL
               AND f.prediction_source NOT IN ('ML_PREDICTION', 'DEFAULT_RULE'))) AS inconsistent_sources
