-- human_qa: a deterministic sample of predicted rows with the features a reviewer reads.
-- Inputs: final_results, source_snapshot. Parameter: $sample_rows.
SELECT f.pid, f.predicted_age, round(f.confidence_score, 3) AS confidence_score, f.prediction_source,
       s.first_name, s.gender, s.state, s.marital_status, s.occupation_group, s.email_domain_type,
       s.has_landline, s.homeowner
FROM final_results f JOIN source_snapshot s USING (pid)
WHERE f.prediction_source IN ('ML_PREDICTION', 'DEFAULT_RULE')
ORDER BY hash(f.pid), f.pid
LIMIT $sample_rows
