"""The readmission tables' columns, shared by the data stages and the modelling stages.

Raw encounters follow the public "Diabetes 130-US hospitals 1999-2008" encounter table (plus an
encounter date); silver types them; gold splits them into a feature store and a label store
joined on `encounter_id`.
"""

JOB = "readmission"

MEDICATIONS = [
    "metformin", "repaglinide", "nateglinide", "chlorpropamide", "glimepiride", "acetohexamide", "glipizide",
    "glyburide", "tolbutamide", "pioglitazone", "rosiglitazone", "acarbose", "miglitol", "troglitazone",
    "tolazamide", "examide", "citoglipton", "insulin", "glyburide-metformin", "glipizide-metformin",
    "glimepiride-pioglitazone", "metformin-rosiglitazone", "metformin-pioglitazone",
]
AGE_BRACKETS = [f"[{lo}-{lo + 10})" for lo in range(0, 100, 10)]
READMITTED = ["<30", ">30", "NO"]
UNKNOWN = "?"

KEYS = ["encounter_id", "patient_nbr", "encounter_date"]
# gold feature_store: KEYS + NUMERIC_FEATURES + CATEGORICAL_FEATURES (categoricals as VARCHAR, NULL = unknown)
NUMERIC_FEATURES = [
    "age_years", "time_in_hospital", "num_lab_procedures", "num_procedures", "num_medications",
    "number_outpatient", "number_emergency", "number_inpatient", "number_diagnoses",
    "medications_active", "medications_changed",
]
CATEGORICAL_FEATURES = [
    "race", "gender", "age", "admission_type_id", "discharge_disposition_id", "admission_source_id", "payer_code",
    "medical_specialty", "diag_1_chapter", "diag_2_chapter", "diag_3_chapter", "max_glu_serum", "A1Cresult",
    "insulin", "change", "diabetesMed",
]
PROTECTED = ["race", "gender", "age"]  # fairness groups (age = the 10-year bracket)
# gold label_store: KEYS + LABEL (1 when readmitted == '<30')
LABEL = "readmitted_30d"
# truth (never in landing): encounter_id, TRUE_PROBABILITY
TRUE_PROBABILITY = "true_probability_30d"
