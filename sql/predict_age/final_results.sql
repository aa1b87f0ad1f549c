-- final_results for one pid bucket: every pid of the source once, with its age and where
-- it came from. Existing values win over predictions; a pid that needed a prediction and has
-- none stays NULL so that the coverage check fails loudly instead of hiding the gap.
-- Inputs: views staging_bucket and predictions_bucket. Parameters: $existing_confidence,
-- $qa_timestamp.
SELECT
    s.pid::BIGINT AS pid,
    coalesce(s.existing_age, p.predicted_age)::INTEGER AS predicted_age,
    (CASE WHEN s.existing_age IS NOT NULL THEN $existing_confidence ELSE p.confidence_score END)::DOUBLE
        AS confidence_score,
    coalesce(s.existing_age_source, p.prediction_source)::VARCHAR AS prediction_source,
    (CASE WHEN s.existing_age IS NULL THEN p.model_version END)::VARCHAR AS model_version,
    (CASE
        WHEN s.existing_age IS NOT NULL THEN 'EXISTING'
        WHEN p.prediction_source = 'ML_PREDICTION' THEN 'PREDICTED'
        WHEN p.prediction_source = 'DEFAULT_RULE' THEN 'DEFAULTED'
        ELSE 'MISSING'
    END)::VARCHAR AS prediction_status,
    $qa_timestamp::VARCHAR AS qa_timestamp
FROM staging_bucket AS s
LEFT JOIN predictions_bucket AS p ON p.pid = s.pid AND s.existing_age IS NULL
