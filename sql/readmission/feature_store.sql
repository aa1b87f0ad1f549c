-- feature_store: one month's model inputs, one row per encounter: KEYS, NUMERIC_FEATURES and
-- CATEGORICAL_FEATURES of logic/schema.py, in that order. No label: that is label_store.
-- Input: view encounters_silver. Categoricals are VARCHAR (the admission and discharge ids as text);
-- NULL means unknown.
SELECT
    encounter_id, patient_nbr, encounter_date,
    age_years, time_in_hospital, num_lab_procedures, num_procedures, num_medications,
    number_outpatient, number_emergency, number_inpatient, number_diagnoses,
    medications_active, medications_changed,
    race, gender, age,
    CAST(admission_type_id AS VARCHAR) AS admission_type_id,
    CAST(discharge_disposition_id AS VARCHAR) AS discharge_disposition_id,
    CAST(admission_source_id AS VARCHAR) AS admission_source_id,
    payer_code, medical_specialty, diag_1_chapter, diag_2_chapter, diag_3_chapter,
    max_glu_serum, A1Cresult, insulin, change, diabetesMed
FROM encounters_silver
ORDER BY encounter_id
