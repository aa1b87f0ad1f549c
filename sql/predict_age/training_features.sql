-- training_features: rows with a trustworthy existing age, sampled per age band up to
-- $max_rows (same share from every band, so the age mix is kept), deterministic for $seed,
-- and split train / validation / calibration / test 70/10/10/10 by a hash of the pid alone:
-- independent of age (so every band is split alike) and the same in every quarter and for
-- every seed, so a person held out once is held out always and a champion is never scored on
-- rows it was trained on. Input: view staging_features.
WITH known AS (
    SELECT
        *,
        least(existing_age // 10, 9) AS age_band,
        row_number() OVER (PARTITION BY least(existing_age // 10, 9) ORDER BY hash(pid, $seed), pid)
            AS band_rank,
        count(*) OVER (PARTITION BY least(existing_age // 10, 9)) AS band_rows
    FROM staging_features
    WHERE existing_age IS NOT NULL
),
sampled AS (
    SELECT * FROM known
    WHERE band_rank <= ceil(band_rows * least(1.0, $max_rows / (SELECT count(*) FROM known)))
)
SELECT
    * EXCLUDE (band_rank, band_rows, bucket, needs_prediction),
    CASE hash(pid, 'predict_age_split') % 10 WHEN 7 THEN 'validation' WHEN 8 THEN 'calibration'
         WHEN 9 THEN 'test' ELSE 'train' END AS split
FROM sampled
ORDER BY pid
