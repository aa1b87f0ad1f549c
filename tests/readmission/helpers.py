"""A tiny generator of gold-shaped readmission rows with a known true probability, for the
modelling tests and the search bench (independent of the job's own world module).

The true logit is a fixed function of a few features plus a small yearly drift, so the best
achievable AUC of any set of rows is the AUC of `true_probability_30d`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from platform_assets.readmission.logic.schema import (
    AGE_BRACKETS,
    CATEGORICAL_FEATURES,
    KEYS,
    LABEL,
    NUMERIC_FEATURES,
    TRUE_PROBABILITY,
)

CHOICES = {
    "race": (["Caucasian", "AfricanAmerican", "Hispanic", "Asian", "Other", None], [0.72, 0.18, 0.03, 0.01, 0.03, 0.03]),
    "gender": (["Female", "Male"], [0.54, 0.46]),
    "admission_type_id": (["1", "2", "3", "5", "6"], [0.53, 0.18, 0.19, 0.05, 0.05]),
    "discharge_disposition_id": (["1", "2", "3", "6", "11", "22"], [0.59, 0.03, 0.14, 0.13, 0.02, 0.09]),
    "admission_source_id": (["1", "2", "4", "7", "17"], [0.29, 0.02, 0.03, 0.57, 0.09]),
    "payer_code": (["MC", "HM", "SP", "BC", "MD", None], [0.32, 0.06, 0.05, 0.05, 0.03, 0.49]),
    "medical_specialty": (["InternalMedicine", "Emergency/Trauma", "Family/GeneralPractice", "Cardiology", "Surgery-General",
                           "Nephrology", "Orthopedics", None], [0.14, 0.07, 0.07, 0.05, 0.03, 0.02, 0.02, 0.60]),
    "diag_1_chapter": (["circulatory", "respiratory", "digestive", "diabetes", "injury", "musculoskeletal", "genitourinary",
                        "neoplasms", "other"], [0.30, 0.14, 0.09, 0.09, 0.07, 0.05, 0.05, 0.03, 0.18]),
    "max_glu_serum": (["None", "Norm", ">200", ">300"], [0.95, 0.025, 0.015, 0.01]),
    "A1Cresult": (["None", "Norm", ">7", ">8"], [0.83, 0.05, 0.04, 0.08]),
    "insulin": (["No", "Down", "Steady", "Up"], [0.47, 0.12, 0.30, 0.11]),
}
CHOICES["diag_2_chapter"] = CHOICES["diag_3_chapter"] = CHOICES["diag_1_chapter"]
DISCHARGE_EFFECT = {"1": 0.0, "2": 0.5, "3": 0.6, "6": 0.4, "11": -2.0, "22": 0.8}
DIAG_EFFECT = {"circulatory": 0.0, "respiratory": -0.05, "digestive": 0.05, "diabetes": 0.2, "injury": -0.1,
               "musculoskeletal": -0.2, "genitourinary": 0.0, "neoplasms": 0.25, "other": 0.0}


def make_encounters(rows: int, seed: int = 7, start: date = date(1999, 1, 1), end: date = date(2008, 12, 31),
                    encounters_per_patient: float = 1.4) -> pl.DataFrame:
    """KEYS + NUMERIC_FEATURES + CATEGORICAL_FEATURES + LABEL + TRUE_PROBABILITY, one row per encounter."""
    rng = np.random.default_rng(seed)
    days = (end - start).days + 1
    offsets = np.sort(rng.integers(0, days, rows))
    encounter_date = np.datetime64(start, "D") + offsets
    patients = max(1, int(rows / encounters_per_patient))
    patient = rng.integers(0, patients, rows)
    cat = {c: rng.choice(len(CHOICES[c][0]), rows, p=CHOICES[c][1]) for c in CHOICES}
    values = {c: np.array(CHOICES[c][0], dtype=object)[cat[c]] for c in CHOICES}
    age_index = np.clip(rng.normal(6.3, 1.5, rows).round().astype(int), 0, 9)
    values["age"] = np.array(AGE_BRACKETS, dtype=object)[age_index]
    frailty = rng.normal(0, 0.5, patients)[patient]  # the same patient's encounters are alike: why folds group by patient
    inpatient = rng.poisson(np.exp(-0.6 + 0.8 * frailty))
    numeric = {
        "age_years": age_index * 10 + rng.integers(0, 10, rows),
        "time_in_hospital": rng.integers(1, 15, rows),
        "num_lab_procedures": rng.integers(1, 100, rows),
        "num_procedures": rng.integers(0, 7, rows),
        "num_medications": rng.integers(1, 60, rows),
        "number_outpatient": rng.poisson(0.35, rows),
        "number_emergency": rng.poisson(0.2 + 0.2 * (frailty > 0.5), rows),
        "number_inpatient": inpatient,
        "number_diagnoses": rng.integers(3, 17, rows),
        "medications_active": rng.integers(0, 6, rows),
        "medications_changed": rng.integers(0, 3, rows),
    }
    year = (offsets / 365.25)
    logit = (-3.0 + (0.7 - 0.03 * year) * np.minimum(inpatient, 6) + 0.15 * np.minimum(numeric["number_emergency"], 4)
             + 0.06 * (numeric["time_in_hospital"] - 4) + 0.008 * (numeric["num_medications"] - 16)
             + 0.004 * (numeric["age_years"] - 65) + 0.8 * frailty
             + np.vectorize(DISCHARGE_EFFECT.get)(values["discharge_disposition_id"])
             + np.vectorize(DIAG_EFFECT.get)(values["diag_1_chapter"]) + 0.15 * (values["insulin"] == "Up"))
    probability = 1 / (1 + np.exp(-logit))
    frame = {
        "encounter_id": np.arange(rows, dtype=np.int64) * 7 + 1000 + seed,
        "patient_nbr": patient.astype(np.int64) + 500_000,
        "encounter_date": encounter_date,
        **numeric,
        **{c: pl.Series(c, v.tolist(), dtype=pl.String) for c, v in values.items()},
        "change": np.where(numeric["medications_changed"] > 0, "Ch", "No"),
        "diabetesMed": np.where(numeric["medications_active"] > 0, "Yes", "No"),
        LABEL: (rng.random(rows) < probability).astype(np.int8),
        TRUE_PROBABILITY: probability,
    }
    columns = [*KEYS, *NUMERIC_FEATURES, *CATEGORICAL_FEATURES, LABEL, TRUE_PROBABILITY]
    return pl.DataFrame(frame).with_columns(pl.col(NUMERIC_FEATURES).cast(pl.Int32)).select(columns)


def windows(frame: pl.DataFrame, config) -> dict[str, pl.DataFrame]:
    """The frame cut into the config's train / test / oot windows."""
    dates = pl.col("encounter_date")
    return {name: frame.filter(dates.is_between(w.start, w.end)) for name, w in config.windows.items()}


def config_document(**search) -> dict:
    """The repository's model config as a document, with search settings overridden."""
    import yaml

    from platform_assets.readmission.logic.model_config import DEFAULT_CONFIG_PATH

    document = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    document["search"].update(search)
    return document


def tiny_config(**search):
    """The repository's config with a tiny search (3 candidates, 2 folds) for fast tests."""
    from platform_assets.readmission.logic.model_config import parse_model_config

    return parse_model_config(config_document(**{"candidates": 3, "folds": 2, **search}))
