-- encounters_silver: one month's encounters typed and cleaned, one row per encounter_id.
-- Input: temp table screened (source_screen.sql): rows with a reject_reason are left out (counted by
-- source_problems.sql). Macros: coded, in_range (source_macros.sql), icd9_status, icd9_chapter
-- (icd9_chapter.sql). Parameters: $allowed, $unknown, $ranges, $medications, $medication_values
-- (logic/source.py, sql_params).
-- Unknown ('?'), missing and invalid values are NULL; diagnosis codes are kept as delivered (trimmed,
-- upper case) unless unknown, with their chapter (NULL when unknown or not ICD-9); age_years is the
-- bracket's midpoint; medications_active / medications_changed count the 23 medication columns that
-- are not 'No' / are 'Up' or 'Down'.
WITH clean AS (
    SELECT
        encounter_id,
        patient_nbr,
        encounter_date,
        coded(race, $allowed['race'], $unknown) AS race,
        coded(gender, $allowed['gender'], $unknown) AS gender,
        coded(age, $allowed['age'], $unknown) AS age,
        in_range(admission_type_id, $ranges['admission_type_id']) AS admission_type_id,
        in_range(discharge_disposition_id, $ranges['discharge_disposition_id']) AS discharge_disposition_id,
        in_range(admission_source_id, $ranges['admission_source_id']) AS admission_source_id,
        in_range(time_in_hospital, $ranges['time_in_hospital']) AS time_in_hospital,
        coded(payer_code, $allowed['payer_code'], $unknown) AS payer_code,
        coded(medical_specialty, NULL, $unknown) AS medical_specialty,
        in_range(num_lab_procedures, $ranges['num_lab_procedures']) AS num_lab_procedures,
        in_range(num_procedures, $ranges['num_procedures']) AS num_procedures,
        in_range(num_medications, $ranges['num_medications']) AS num_medications,
        in_range(number_outpatient, $ranges['number_outpatient']) AS number_outpatient,
        in_range(number_emergency, $ranges['number_emergency']) AS number_emergency,
        in_range(number_inpatient, $ranges['number_inpatient']) AS number_inpatient,
        CASE WHEN icd9_status(diag_1) <> 'unknown' THEN upper(trim(diag_1)) END AS diag_1,
        icd9_chapter(diag_1) AS diag_1_chapter,
        CASE WHEN icd9_status(diag_2) <> 'unknown' THEN upper(trim(diag_2)) END AS diag_2,
        icd9_chapter(diag_2) AS diag_2_chapter,
        CASE WHEN icd9_status(diag_3) <> 'unknown' THEN upper(trim(diag_3)) END AS diag_3,
        icd9_chapter(diag_3) AS diag_3_chapter,
        in_range(number_diagnoses, $ranges['number_diagnoses']) AS number_diagnoses,
        coded(max_glu_serum, $allowed['max_glu_serum'], $unknown) AS max_glu_serum,
        coded(A1Cresult, $allowed['A1Cresult'], $unknown) AS A1Cresult,
        coded(COLUMNS(lambda c: list_contains($medications, c)), $medication_values, $unknown),
        coded(change, $allowed['change'], $unknown) AS change,
        coded(diabetesMed, $allowed['diabetesMed'], $unknown) AS diabetesMed,
        coded(readmitted, $allowed['readmitted'], $unknown) AS readmitted
    FROM screened
    WHERE reject_reason IS NULL
)
SELECT
    * EXCLUDE (change, diabetesMed, readmitted),
    CAST(regexp_extract(age, '^\[([0-9]+)-', 1) AS INTEGER) + 5 AS age_years,
    len(list_filter(list_value(*COLUMNS(lambda c: list_contains($medications, c))), lambda v: v <> 'No'))::INTEGER
        AS medications_active,
    len(list_filter(list_value(*COLUMNS(lambda c: list_contains($medications, c))), lambda v: v IN ('Up', 'Down')))::INTEGER
        AS medications_changed,
    change,
    diabetesMed,
    readmitted
FROM clean
