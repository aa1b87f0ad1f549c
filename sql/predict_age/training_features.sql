-- training_features: rows with a trustworthy existing age, sampled per age band up to
-- $max_rows (same share from every band, so the age mix is kept), deterministic for $seed,
-- and split train / validation / calibration / test 70/10/10/10 by a hash of the pid alone:
-- independent of age (so every band is split alike) and the same in every quarter and for
-- every seed, so a person held out once is held out always and a champion is never scored on
-- rows it was trained on. Input: view staging_features.
-- The ranking reads only pid and age (a narrow sort); the chosen pids then select whole rows.
WITH known AS (
    SELECT pid, least(existing_age // 10, 9) AS age_band
    FROM staging_features
    WHERE existing_age IS NOT NULL
),
ranked AS (
    SELECT
        pid,
        row_number() OVER (PARTITION BY age_band ORDER BY hash(pid, $seed), pid) AS band_rank,
        count(*) OVER (PARTITION BY age_band) AS band_rows
    FROM known
),
chosen AS (
    SELECT pid FROM ranked
    WHERE band_rank <= ceil(band_rows * least(1.0, $max_rows / (SELECT count(*) FROM known)))
)
SELECT
    * EXCLUDE (bucket, needs_prediction),
    least(existing_age // 10, 9) AS age_band,
    CASE hash(pid, 'predict_age_split') % 10 WHEN 7 THEN 'validation' WHEN 8 THEN 'calibration'
         WHEN 9 THEN 'test' ELSE 'train' END AS split
FROM staging_features SEMI JOIN chosen USING (pid)
WHERE existing_age IS NOT NULL
ORDER BY pid
