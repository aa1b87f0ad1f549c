-- source_screen: every delivered row of a month, typed, with the reason it is set aside (NULL: kept).
-- Input: view raw_files (the delivery's Parquet files as delivered, with filename and file_row_number).
-- Parameters: $integers (columns cast to INTEGER; not an integer -> NULL, counted by
-- platform_core.contract.column_problems), $texts (columns kept as text, checked by source_problems.sql),
-- $month_start (the month's first day).
-- Reasons: missing_date (NULL or not a date), date_outside_month, missing_patient (patient_nbr NULL
-- or not an integer), duplicate (an encounter_id already kept, by file then row: the first copy wins).
-- The date and patient as delivered are kept as text, for the examples of source_problems.sql.
WITH typed AS (
    SELECT
        TRY_CAST(encounter_id AS BIGINT) AS encounter_id,
        TRY_CAST(patient_nbr AS BIGINT) AS patient_nbr,
        TRY_CAST(encounter_date AS DATE) AS encounter_date,
        CAST(encounter_date AS VARCHAR) AS encounter_date_as_delivered,
        CAST(patient_nbr AS VARCHAR) AS patient_nbr_as_delivered,
        TRY_CAST(COLUMNS(lambda c: list_contains($integers, c)) AS INTEGER),
        CAST(COLUMNS(lambda c: list_contains($texts, c)) AS VARCHAR),
        filename AS source_file,
        file_row_number AS source_row
    FROM raw_files
),
reasons AS (
    SELECT
        *,
        CASE
            WHEN encounter_date IS NULL THEN 'missing_date'
            WHEN encounter_date < CAST($month_start AS DATE)
                OR encounter_date >= CAST($month_start AS DATE) + INTERVAL 1 MONTH THEN 'date_outside_month'
            WHEN patient_nbr IS NULL THEN 'missing_patient'
        END AS reason
    FROM typed
)
SELECT
    * EXCLUDE (reason),
    CASE
        WHEN reason IS NOT NULL THEN reason
        WHEN row_number() OVER (PARTITION BY encounter_id, reason IS NULL ORDER BY source_file, source_row) > 1
            THEN 'duplicate'
    END AS reject_reason
FROM reasons
