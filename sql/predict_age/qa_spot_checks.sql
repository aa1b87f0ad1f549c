-- human_qa: a deterministic sample of predicted rows with the features a reviewer reads.
-- Inputs: final_results, source_snapshot. Parameter: $sample_rows.
-- The sample's pids are chosen first (a top-N), so the join reads the snapshot for a handful of
-- rows instead of joining two whole quarters.
WITH picked AS (
    SELECT pid, predicted_age, confidence_score, prediction_source
    FROM final_results
    WHERE prediction_source IN ('ML_PREDICTION', 'DEFAULT_RULE')
    ORDER BY hash(pid), pid
    LIMIT $sample_rows
)
SELECT p.pid, p.predicted_age, round(p.confidence_score, 3) AS confidence_score, p.prediction_source,
       s.first_name, s.gender, s.state, s.marital_status, s.occupation_group, s.email_domain_type,
       s.has_landline, s.homeowner
FROM picked p JOIN source_snapshot s USING (pid)
ORDER BY hash(p.pid), p.pid
