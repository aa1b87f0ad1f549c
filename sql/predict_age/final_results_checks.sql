-- The figures behind final_results' asset checks for one pid bucket. Buckets partition the
-- pids, so summing bucket figures gives the quarter's (distinct pids included) while memory
-- stays bounded by one bucket. Inputs: views final_bucket and staging_bucket.
-- Parameters: $min_age, $max_age.
SELECT
    (SELECT count(*) FROM final_bucket) AS rows,
    (SELECT count(DISTINCT pid) FROM final_bucket) AS distinct_pids,
    (SELECT count(DISTINCT pid) FROM staging_bucket) AS source_pids,
    (SELECT count(*) FROM final_bucket WHERE predicted_age IS NULL) AS null_ages,
    (SELECT count(*) FROM final_bucket WHERE predicted_age NOT BETWEEN $min_age AND $max_age) AS out_of_range_ages,
    (SELECT count(*) FROM final_bucket
        WHERE confidence_score IS NULL OR NOT (confidence_score BETWEEN 0 AND 1)) AS bad_confidence,
    (SELECT count(*) FROM final_bucket f JOIN staging_bucket s USING (pid)
        WHERE (s.existing_age IS NOT NULL AND f.prediction_source <> s.existing_age_source)
           OR (s.existing_age IS NULL
               AND coalesce(f.prediction_source, '') NOT IN ('ML_PREDICTION', 'DEFAULT_RULE'))) AS inconsistent_sources
