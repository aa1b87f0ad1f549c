"""A synthetic "Diabetes 130-US hospitals" world with a known readmission probability.

Patients (race, gender, age, a hidden frailty) go through a sequence of inpatient encounters;
each encounter's observed columns are drawn from the patient and the date (older patients have
more circulatory and neoplasm diagnoses and go to nursing facilities more often, frail ones
have more prior inpatient and emergency visits, longer stays, more diagnoses). The true
probability of a readmission within 30 days is a fixed logistic model of observed columns plus
the hidden frailty; `readmitted` is drawn from it, and the gap to the patient's next encounter
follows the label (`<30`: within 30 days of discharge). The generated sequence is thinned per
month to the delivered volume, so some encounters are not delivered yet count in later
encounters' `number_inpatient` (history outside the 130 hospitals' extract), as in the original.

Protected attributes act only through plausible paths (age through diagnoses, discharge
disposition and stay; race through the payer); none enters the true model directly.

Drift: from 2006-07 to 2008-07 the world moves linearly from its 1999-2005 state to a new one
(then stays, 2009 included): more emergency admissions and insulin, more HbA1c testing, older new
patients, hospitals recording up to 16 diagnoses from 2008 (9 before); changed effects (prior
inpatient visits count less; emergency visits, discharge to a nursing facility, respiratory
diagnoses and an untreated high HbA1c more) and all effects 15% weaker, so 2008 is both harder to
predict and different from what a model trained on 1999-2005 learned.

Measured on the default world (75,000 encounters 1999-2008 plus 8,496 in 2009, seed 7, 50,007
patients; `tests/readmission/test_world.py` asserts the same properties on a smaller world):
windows 51,401 / 15,378 / 8,221 encounters (train 1999-2005 / test 2006-2007 / OOT 2008);
readmitted <30 11.6%, >30 30.0%, NO 58.4%. Best achievable AUC (the true probability against the
drawn labels): train 0.810, test 0.781, OOT 0.763, 2009 0.765 (0.807 / 0.788 / 0.757 / 0.756
expected over label draws). A plain logistic regression fitted on the train window scores 0.766
on test and 0.736 on OOT: 0.015 and 0.027 below the best, so the drift costs a train-window model
about 0.01 AUC more on OOT than on test. "?" shares: race 2.0%, payer_code 38.9%,
medical_specialty 48.4%, diag_3 1.4%. Generating all 132 months takes 3-7 s on the shared 2 cores.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl

from platform_assets.readmission.logic.icd9 import CHAPTERS
from platform_assets.readmission.logic.schema import JOB, MEDICATIONS, TRUE_PROBABILITY, UNKNOWN
from platform_core.periods import month_label, parse_month
from platform_core.storage import SUCCESS_MARKER, DataLayout, write_once_dir

DEFAULT_ROWS = 75_000  # encounters 1999-01..2008-12 (the months after 2008 come on top)
FIRST_MONTH = dt.date(1999, 1, 1)
LAST_LABELLED_MONTH = dt.date(2008, 12, 1)
LAST_MONTH = dt.date(2009, 12, 1)  # 2009: new months to score and monitor, labels included
HISTORY_START = dt.date(1998, 1, 1)  # patients' earlier encounters, never delivered
WINDOW_SHARES = ((84, 50.0), (24, 15.0), (12, 8.0))  # (months, thousands of encounters): 1999-2005, 2006-2007, 2008
DRIFT_START, DRIFT_FULL = dt.date(2006, 7, 1), dt.date(2008, 7, 1)
RECORDING_16_DIAGNOSES = dt.date(2008, 1, 1)
OVERSAMPLE = 0.88  # patients per delivered encounter; the surplus encounters are the undelivered history
MAX_ENCOUNTERS = 25
GROWTH_MONTHS = 20.0  # time constant of the volume's exponential growth

RACES = {"Caucasian": 0.748, "AfricanAmerican": 0.189, "Hispanic": 0.020, "Other": 0.015, "Asian": 0.006, UNKNOWN: 0.022}
GENDERS = {"Female": 0.5379, "Male": 0.4620, "Unknown/Invalid": 0.0001}
AGE_SHARES = [0.002, 0.007, 0.016, 0.037, 0.095, 0.170, 0.221, 0.256, 0.169, 0.027]  # the 10 brackets [0-10) .. [90-100)
ADMISSION_TYPES = {1: 0.530, 2: 0.182, 3: 0.185, 5: 0.047, 6: 0.052, 8: 0.003, 7: 0.0006, 4: 0.0004}
ADMISSION_SOURCES = {  # by admission type group: emergency (1, 7), urgent (2), elective (3, 4), not recorded (5, 6, 8)
    "emergency": {7: 0.90, 1: 0.05, 4: 0.02, 6: 0.02, 17: 0.01},
    "urgent": {1: 0.45, 7: 0.35, 4: 0.07, 6: 0.05, 2: 0.03, 17: 0.05},
    "elective": {1: 0.80, 7: 0.02, 4: 0.05, 6: 0.04, 2: 0.04, 5: 0.02, 17: 0.03},
    "unknown": {17: 0.50, 7: 0.30, 1: 0.17, 20: 0.02, 9: 0.01},
}
DISPOSITIONS = {1: 0.592, 3: 0.137, 6: 0.127, 18: 0.036, 2: 0.021, 22: 0.020, 11: 0.016, 5: 0.012, 25: 0.010, 4: 0.008,
                7: 0.006, 23: 0.004, 13: 0.004, 14: 0.004, 28: 0.0014, 8: 0.0011, 15: 0.0006, 24: 0.0005}
EXPIRED = (11, 19, 20, 21)
HOSPICE = (13, 14)
PAYERS = {"MC": 0.53, "HM": 0.103, "SP": 0.082, "BC": 0.076, "MD": 0.058, "CP": 0.041, "UN": 0.040, "CM": 0.032,
          "OG": 0.017, "PO": 0.010, "DM": 0.009, "CH": 0.002, "WC": 0.002, "OT": 0.001, "MP": 0.001, "SI": 0.001}
SPECIALTIES = {"InternalMedicine": 0.28, "Emergency/Trauma": 0.145, "Family/GeneralPractice": 0.143, "Cardiology": 0.104,
               "Surgery-General": 0.059, "Nephrology": 0.031, "Orthopedics": 0.027, "Orthopedics-Reconstructive": 0.024,
               "Radiologist": 0.022, "Pulmonology": 0.017, "Psychiatry": 0.016, "Urology": 0.013,
               "ObstetricsandGynecology": 0.013, "Surgery-Cardiovascular/Thoracic": 0.012, "Gastroenterology": 0.011,
               "Surgery-Vascular": 0.010, "Surgery-Neuro": 0.009, "PhysicalMedicineandRehabilitation": 0.008,
               "Oncology": 0.006, "Pediatrics": 0.005, "Hematology/Oncology": 0.004, "Neurology": 0.004,
               "Pediatrics-Endocrinology": 0.003, "Otolaryngology": 0.002}
GLU = {"None": 0.947, "Norm": 0.026, ">200": 0.015, ">300": 0.012}
A1C = {"None": 0.833, ">8": 0.081, "Norm": 0.049, ">7": 0.037}
A1C_TESTED_AFTER_DRIFT = 0.30  # share tested once the drift is complete (0.167 before)
MEDICATION_ON = {  # share of encounters on each medication; examide and citoglipton never prescribed, as in the original
    "metformin": 0.196, "repaglinide": 0.015, "nateglinide": 0.007, "chlorpropamide": 0.001, "glimepiride": 0.051,
    "acetohexamide": 0.0001, "glipizide": 0.125, "glyburide": 0.105, "tolbutamide": 0.0002, "pioglitazone": 0.072,
    "rosiglitazone": 0.063, "acarbose": 0.003, "miglitol": 0.0004, "troglitazone": 0.0001, "tolazamide": 0.0004,
    "examide": 0.0, "citoglipton": 0.0, "insulin": 0.534, "glyburide-metformin": 0.007, "glipizide-metformin": 0.0001,
    "glimepiride-pioglitazone": 0.0001, "metformin-rosiglitazone": 0.0001, "metformin-pioglitazone": 0.0001,
}
# Common codes of each chapter, most frequent first (sql/readmission/icd9_chapter.sql maps them back; a test checks it).
CODES = {
    "circulatory": ["428", "414", "410", "427", "401", "434", "403", "785", "424", "435", "440", "411", "402",
                    "433", "443", "453", "459", "398", "425"],
    "respiratory": ["486", "491", "786", "493", "518", "496", "507", "511", "466", "482", "481", "492"],
    "digestive": ["577", "574", "562", "578", "558", "560", "787", "530", "535", "569", "571", "575", "556"],
    "diabetes": ["250", "250.02", "250.8", "250.6", "250.13", "250.83", "250.7", "250.01", "250.82", "250.4", "250.81",
                 "250.11", "250.12", "250.22", "250.42", "250.92"],
    "injury": ["996", "820", "997", "998", "824", "812", "959", "821", "965", "969", "986"],
    "musculoskeletal": ["715", "722", "730", "724", "733", "719", "718", "721", "728", "711", "714"],
    "genitourinary": ["599", "584", "585", "590", "788", "592", "593", "618", "620", "600", "581", "583"],
    "neoplasms": ["162", "174", "153", "157", "185", "197", "198", "189", "188", "200", "202", "211", "225", "239"],
    "other": ["276", "780", "682", "V57", "38", "707", "272", "278", "285", "296", "305", "331", "345", "8", "294",
              "V58", "V45", "311", "E888", "781", "784", "790", "799", "V43", "E885", "E849", "V10", "E878", "E932",
              "365.44", "V66", "E942"],
}
# chapter shares of diag_1 / diag_2 / diag_3 (order of CHAPTERS), age tilt per decade above 65, frailty tilt
DIAG_SHARES = np.array([[0.300, 0.140, 0.090, 0.086, 0.068, 0.049, 0.050, 0.034, 0.183],
                        [0.310, 0.106, 0.041, 0.127, 0.024, 0.017, 0.082, 0.025, 0.268],
                        [0.300, 0.070, 0.039, 0.170, 0.019, 0.019, 0.066, 0.018, 0.299]])
DIAG_AGE_TILT = np.array([0.15, 0.05, 0.0, -0.2, -0.05, 0.0, 0.05, 0.10, -0.05])
DIAG_FRAILTY_TILT = np.array([0.10, 0.10, 0.0, 0.05, -0.05, -0.15, 0.05, 0.10, 0.0])
DIAG_UNKNOWN = (0.0002, 0.0035, 0.014)

# The true model: logit = intercept + effects; each effect moves from its 1999-2005 value (first) to its drifted value.
INTERCEPT = (-3.55, -3.3)
SIGNAL = (1.3, 1.1)  # every effect is scaled by this: readmissions are harder to predict after the drift
EFFECTS = {
    "log1p_inpatient": (0.85, 0.55), "log1p_emergency": (0.35, 0.55), "log1p_outpatient": (0.15, 0.15),
    "diagnoses": (0.07, 0.04), "stay": (0.04, 0.07), "medications": (0.10, 0.10), "elective": (-0.2, -0.2),
    "transfer_in": (0.15, 0.15), "glucose_over_300": (0.15, 0.15), "a1c_over_8_unchanged": (0.2, 0.45),
    "a1c_over_8_changed": (-0.05, -0.05), "insulin_adjusted": (0.2, 0.2), "insulin_steady": (0.05, 0.05),
    "heart_failure": (0.15, 0.15), "frailty": (0.35, 0.35),
}
DISPOSITION_EFFECTS = {3: (0.35, 0.65), 6: (0.2, 0.1), 2: (0.35, 0.35), 22: (0.45, 0.45), 5: (0.4, 0.4), 7: (0.55, 0.55),
                       18: (0.15, 0.15), 25: (0.1, 0.1), 4: (0.3, 0.3), 23: (0.4, 0.4), 28: (0.3, 0.3), 13: (-1.5, -1.5),
                       14: (-1.5, -1.5)}
CHAPTER_EFFECTS = {"circulatory": (0.1, 0.2), "respiratory": (0.05, 0.25), "diabetes": (0.2, 0.2), "injury": (-0.1, -0.1),
                   "musculoskeletal": (-0.45, -0.45), "genitourinary": (0.1, 0.1), "neoplasms": (0.35, 0.35)}


def _days(day: dt.date) -> int:
    return (day - HISTORY_START).days


def drift(days: np.ndarray) -> np.ndarray:
    """0 until 2006-01, rising linearly to 1 at 2008-07, 1 after (days since HISTORY_START)."""
    return np.clip((days - _days(DRIFT_START)) / (_days(DRIFT_FULL) - _days(DRIFT_START)), 0.0, 1.0)


def monthly_volumes(rows: int = DEFAULT_ROWS) -> dict[str, int]:
    """Delivered encounters per month: a volume growing slowly, then faster after 2005, fitted so
    that the three windows hold about 50 : 15 : 8 of `rows` (1999-2008, exactly `rows` in all);
    the months after 2008 keep December 2008's volume."""
    edges = np.cumsum([0] + [months for months, _ in WINDOW_SHARES])
    t = np.arange(edges[-1])
    design = np.array([[1.0, np.exp(t[a:b] / GROWTH_MONTHS).mean()] for a, b in itertools.pairwise(edges)])
    means = np.array([share / months for months, share in WINDOW_SHARES])
    (level, growth), *_ = np.linalg.lstsq(design, means, rcond=None)
    rate = level + growth * np.exp(t / GROWTH_MONTHS)
    exact = rate / rate.sum() * rows
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact)[: rows - counts.sum()]] += 1  # largest remainders: the total is exactly `rows`
    after = _month_index(LAST_MONTH) - _month_index(LAST_LABELLED_MONTH)
    counts = np.concatenate([counts, np.full(after, counts[-1])])
    return {month_label(_month_start(FIRST_MONTH, i)): int(n) for i, n in enumerate(counts)}


def _month_index(month: dt.date) -> int:
    return (month.year - FIRST_MONTH.year) * 12 + month.month - FIRST_MONTH.month


def _month_start(base: dt.date, offset: int) -> dt.date:
    months = base.year * 12 + base.month - 1 + offset
    return dt.date(months // 12, months % 12 + 1, 1)


def _categorical(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One draw per row of a (rows, categories) matrix of unnormalized log-probabilities."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((rng.random(len(logits))[:, None] > cumulative).sum(axis=1), logits.shape[1] - 1)


def _choice(rng: np.random.Generator, shares: dict, n: int) -> np.ndarray:
    values = np.array(list(shares))
    p = np.array(list(shares.values()), dtype=np.float64)
    return values[rng.choice(len(values), size=n, p=p / p.sum())]


def _effect(name: str, d: np.ndarray, table: dict | None = None) -> np.ndarray:
    before, after = (table or EFFECTS)[name]
    return before + d * (after - before)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def true_logit(enc: dict[str, np.ndarray], frailty: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The true log-odds of a readmission within 30 days from an encounter's observed columns,
    the patient's hidden frailty and the drift `d` in [0, 1] at the encounter's date."""
    changed = enc["change"] == "Ch"
    a1c_high = enc["A1Cresult"] == ">8"
    logit = (
        _effect("log1p_inpatient", d) * np.log1p(enc["number_inpatient"])
        + _effect("log1p_emergency", d) * np.log1p(enc["number_emergency"])
        + _effect("log1p_outpatient", d) * np.log1p(enc["number_outpatient"])
        + _effect("diagnoses", d) * (enc["number_diagnoses"] - 7)
        + _effect("stay", d) * (enc["time_in_hospital"] - 4)
        + _effect("medications", d) * (enc["num_medications"] - 16) / 8
        + _effect("elective", d) * (enc["admission_type_id"] == 3)
        + _effect("transfer_in", d) * np.isin(enc["admission_source_id"], (4, 6))
        + _effect("glucose_over_300", d) * (enc["max_glu_serum"] == ">300")
        + _effect("a1c_over_8_unchanged", d) * (a1c_high & ~changed)
        + _effect("a1c_over_8_changed", d) * (a1c_high & changed)
        + _effect("insulin_adjusted", d) * np.isin(enc["insulin"], ("Up", "Down"))
        + _effect("insulin_steady", d) * (enc["insulin"] == "Steady")
        + _effect("heart_failure", d) * (enc["diag_1"] == "428")
        + _effect("frailty", d) * frailty
    )
    for code in DISPOSITION_EFFECTS:
        logit += _effect(code, d, DISPOSITION_EFFECTS) * (enc["discharge_disposition_id"] == code)
    for chapter in CHAPTER_EFFECTS:
        logit += _effect(chapter, d, CHAPTER_EFFECTS) * (enc["diag_1_chapter"] == chapter)
    logit = INTERCEPT[0] + d * (INTERCEPT[1] - INTERCEPT[0]) + (SIGNAL[0] + d * (SIGNAL[1] - SIGNAL[0])) * logit
    return np.where(np.isin(enc["discharge_disposition_id"], EXPIRED), -12.0, logit)


def _diagnoses(rng: np.random.Generator, age: np.ndarray, frailty: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    tilt = np.outer((age - 65) / 10, DIAG_AGE_TILT) + np.outer(frailty, DIAG_FRAILTY_TILT)
    for position in range(3):
        chapter = _categorical(rng, np.log(DIAG_SHARES[position])[None, :] + tilt)
        codes = np.empty(len(age), dtype=object)
        for index, name in enumerate(CHAPTERS):
            rows = np.flatnonzero(chapter == index)
            weights = 1.0 / np.arange(1, len(CODES[name]) + 1) ** 0.8
            codes[rows] = np.array(CODES[name], dtype=object)[rng.choice(len(weights), len(rows), p=weights / weights.sum())]
        codes[rng.random(len(age)) < DIAG_UNKNOWN[position]] = UNKNOWN
        out[f"diag_{position + 1}"] = codes
        out[f"diag_{position + 1}_chapter"] = np.where(codes == UNKNOWN, None, np.array(CHAPTERS, dtype=object)[chapter])
    return out


def _medications(rng: np.random.Generator, n: int, frailty: np.ndarray, d: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in MEDICATIONS:
        share = MEDICATION_ON[name]
        if name == "insulin":
            on = rng.random(n) < _sigmoid(np.log(share / (1 - share)) + 0.2 * frailty + 0.35 * d)
            status = _choice(rng, {"Steady": 0.57, "Down": 0.22, "Up": 0.21}, n)
        else:
            on = rng.random(n) < share
            status = _choice(rng, {"Steady": 0.9, "Up": 0.055, "Down": 0.045}, n)
        out[name] = np.where(on, status, "No")
    return out


def _encounters(rng: np.random.Generator, patients: dict[str, np.ndarray], index: np.ndarray, days: np.ndarray,
                history: np.ndarray) -> dict[str, np.ndarray]:
    """The observed columns and the true logit of one encounter for each patient in `index`."""
    n = len(index)
    frailty = patients["frailty"][index]
    age = patients["age0"][index] + (days - patients["first_day"][index]) / 365.25
    d = drift(days)
    enc: dict[str, np.ndarray] = {"patient": index, "day": days, "age_years": age, "drift": d}
    enc["race"] = patients["race"][index]
    enc["gender"] = patients["gender"][index]

    types = np.array(list(ADMISSION_TYPES))
    type_logits = np.log(np.array(list(ADMISSION_TYPES.values())))[None, :] + np.outer(0.2 * frailty + 0.3 * d, types == 1)
    enc["admission_type_id"] = types[_categorical(rng, type_logits - np.outer(0.3 * frailty, types == 3))]
    group = np.select([np.isin(enc["admission_type_id"], (1, 7)), enc["admission_type_id"] == 2,
                       np.isin(enc["admission_type_id"], (3, 4))], ["emergency", "urgent", "elective"], "unknown")
    enc["admission_source_id"] = np.zeros(n, dtype=np.int64)
    for name, shares in ADMISSION_SOURCES.items():
        rows = np.flatnonzero(group == name)
        enc["admission_source_id"][rows] = _choice(rng, shares, len(rows))

    enc.update(_diagnoses(rng, age, frailty))
    chapter1 = enc["diag_1_chapter"]
    surgical = np.isin(chapter1, ("musculoskeletal", "injury"))
    enc["time_in_hospital"] = np.clip(1 + rng.negative_binomial(2.0, 2.0 / (2.0 + 3.4 * np.exp(0.15 * frailty))), 1, 14)
    enc["num_lab_procedures"] = np.clip(np.round(43 + 19 * rng.standard_normal(n) + 3 * frailty
                                                 + 1.5 * (enc["time_in_hospital"] - 4.4)), 1, 132).astype(np.int64)
    enc["num_procedures"] = np.clip(rng.poisson(1.2 * np.where(surgical, 2.2, 1.0)), 0, 6)
    enc["num_medications"] = np.clip(np.round(np.exp(np.log(14.0) + 0.06 * (enc["time_in_hospital"] - 4.4) + 0.1 * frailty
                                                     + 0.05 * enc["num_procedures"] + 0.4 * rng.standard_normal(n))),
                                     1, 81).astype(np.int64)
    enc["number_outpatient"] = rng.poisson(np.exp(-1.35 + 0.35 * frailty))
    enc["number_emergency"] = rng.poisson(np.exp(-2.1 + 0.5 * frailty + 0.2 * d))
    enc["number_inpatient"] = ((history > (days - 365)[:, None]).sum(axis=1) + rng.poisson(np.exp(-1.7 + 0.6 * frailty)))
    cap = np.where((days >= _days(RECORDING_16_DIAGNOSES)) & (rng.random(n) < 0.6), 16, 9)
    enc["number_diagnoses"] = np.minimum(2 + rng.poisson(np.exp(np.log(7.0) + 0.12 * frailty + 0.01 * (age - 65))), cap)

    codes = np.array(list(DISPOSITIONS))
    old, frail = np.clip((age - 65) / 10, -3, 3), frailty
    disposition_logits = np.log(np.array(list(DISPOSITIONS.values())))[None, :] + (
        np.outer(0.4 * old + 0.4 * frail, codes == 3) + np.outer(0.2 * old + 0.2 * frail, codes == 6)
        + np.outer(0.4 * old + 0.5 * frail, np.isin(codes, EXPIRED + HOSPICE)))
    enc["discharge_disposition_id"] = codes[_categorical(rng, disposition_logits)]

    enc["max_glu_serum"] = _choice(rng, GLU, n)
    tested = rng.random(n) < (1 - A1C["None"]) + d * (A1C_TESTED_AFTER_DRIFT - (1 - A1C["None"]))
    enc["A1Cresult"] = np.where(tested, _choice(rng, {k: v for k, v in A1C.items() if k != "None"}, n), "None")
    enc.update(_medications(rng, n, frailty, d))
    adjusted = np.zeros(n, dtype=np.int64)
    active = np.zeros(n, dtype=np.int64)
    for name in MEDICATIONS:
        adjusted += np.isin(enc[name], ("Up", "Down"))
        active += enc[name] != "No"
    switched = (active > 0) & (rng.random(n) < 0.36)
    enc["change"] = np.where((adjusted > 0) | switched, "Ch", "No")
    enc["diabetesMed"] = np.where(active > 0, "Yes", "No")

    senior = age >= 65
    payer = np.where(senior & (rng.random(n) < 0.75), "MC", _choice(rng, {k: v for k, v in PAYERS.items() if k != "MC"}, n))
    medicaid = np.isin(enc["race"], ("AfricanAmerican", "Hispanic")) & ~senior & (rng.random(n) < 0.12)
    payer = np.where(medicaid, "MD", payer)
    enc["payer_code"] = np.where(rng.random(n) < 0.40 - 0.05 * d, UNKNOWN, payer)
    specialty = _choice(rng, SPECIALTIES, n)
    specialty = np.where((chapter1 == "circulatory") & (rng.random(n) < 0.3), "Cardiology", specialty)
    specialty = np.where(surgical & (rng.random(n) < 0.3), "Orthopedics", specialty)
    enc["medical_specialty"] = np.where(rng.random(n) < 0.49, UNKNOWN, specialty)
    enc["logit"] = true_logit(enc, frailty, d)
    return enc


def _patients(rng: np.random.Generator, n: int, volumes: np.ndarray) -> dict[str, np.ndarray]:
    """Patients with a first-encounter day drawn in proportion to the monthly volume (1998 at
    January 1999's), an age at that day, race, gender and the hidden frailty."""
    weights = np.concatenate([np.full(12, volumes[0]), volumes]).astype(np.float64)
    month = rng.choice(len(weights), size=n, p=weights / weights.sum())
    starts = np.array([_days(_month_start(HISTORY_START, m)) for m in range(len(weights) + 1)])
    first_day = starts[month] + np.floor(rng.random(n) * (starts[month + 1] - starts[month])).astype(np.int64)
    bracket = rng.choice(10, size=n, p=np.array(AGE_SHARES) / sum(AGE_SHARES))
    later = drift(first_day)  # new patients after 2005 are about two years older
    return {
        "first_day": first_day,
        "age0": np.clip(10 * bracket + 10 * rng.random(n) + 2.0 * later * (bracket < 9), 0, 99.9),
        "race": _choice(rng, RACES, n),
        "gender": _choice(rng, GENDERS, n),
        "frailty": rng.standard_normal(n),
        "nbr": np.cumsum(rng.integers(1, 2_500, n)) + 100_000,
    }


def _simulate(rng: np.random.Generator, patients: dict[str, np.ndarray], end_day: int) -> dict[str, np.ndarray]:
    """Every patient's encounter sequence up to `end_day` (column arrays): labels drawn from the
    true probability, the next encounter's day from the label."""
    n = len(patients["frailty"])
    day = patients["first_day"].copy()
    history = np.full((n, MAX_ENCOUNTERS), -10**6, dtype=np.int64)
    active = np.flatnonzero(day <= end_day)
    steps = []
    for step in range(MAX_ENCOUNTERS):
        if not len(active):
            break
        enc = _encounters(rng, patients, active, day[active], history[active])
        p = _sigmoid(enc.pop("logit"))
        later = _sigmoid(-0.45 + 0.6 * (np.log(p / (1 - p)) + 2.2))  # readmitted after 30 days, among the others
        readmitted = np.where(rng.random(len(active)) < p, "<30", np.where(rng.random(len(active)) < later, ">30", "NO"))
        enc["readmitted"] = readmitted
        enc[TRUE_PROBABILITY] = p
        steps.append(enc)
        history[active, step] = day[active]
        frail = patients["frailty"][active]
        stay = enc["time_in_hospital"]
        gap = np.select(
            [readmitted == "<30", readmitted == ">30"],
            [stay + rng.integers(1, 30, len(active)), stay + 30 + rng.exponential(400 * np.exp(-0.3 * frail))],
            stay + 365 + rng.exponential(900 * np.exp(-0.3 * frail)),
        ).astype(np.int64)
        day[active] += gap
        stays = (day[active] <= end_day) & ~np.isin(enc["discharge_disposition_id"], EXPIRED)
        stays &= (readmitted != "NO") | (rng.random(len(active)) < 0.5)
        active = active[stays]
    return {name: np.concatenate([enc.pop(name) for enc in steps]) for name in list(steps[0])}  # one column's copies at a time


RAW_COLUMNS = [
    "encounter_id", "patient_nbr", "race", "gender", "age", "admission_type_id", "discharge_disposition_id",
    "admission_source_id", "time_in_hospital", "payer_code", "medical_specialty", "num_lab_procedures",
    "num_procedures", "num_medications", "number_outpatient", "number_emergency", "number_inpatient", "diag_1",
    "diag_2", "diag_3", "number_diagnoses", "max_glu_serum", "A1Cresult", *MEDICATIONS, "change", "diabetesMed",
    "readmitted", "encounter_date",
]


def generate_world(rows: int = DEFAULT_ROWS, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(encounters, truth), row-aligned, every month 1999-01..2009-12, ordered by date and id.
    Encounters have the raw columns (RAW_COLUMNS) as delivered; truth is encounter_id and the
    true probability of a readmission within 30 days. Deterministic from (rows, seed)."""
    rng = np.random.default_rng(seed)
    volumes = np.array(list(monthly_volumes(rows).values()))
    patients = _patients(rng, int(np.ceil(OVERSAMPLE * volumes.sum())), volumes)
    simulated = _simulate(rng, patients, _days(_month_start(LAST_MONTH, 1)) - 1)
    dates = simulated["day"] + np.datetime64(HISTORY_START, "D")
    month = dates.astype("datetime64[M]").astype(np.int64) - np.datetime64(FIRST_MONTH, "M").astype(np.int64)
    kept = []
    for index, volume in enumerate(volumes):
        candidates = np.flatnonzero(month == index)
        kept.append(rng.choice(candidates, size=min(volume, len(candidates)), replace=False))
    kept = np.concatenate(kept)
    kept = kept[np.lexsort((rng.random(len(kept)), simulated["day"][kept]))]
    columns = {name: simulated.pop(name)[kept] for name in list(simulated)}  # the unkept encounters go as each column is cut
    bracket = np.minimum(columns["age_years"] // 10, 9).astype(np.int64)
    columns["age"] = np.array([f"[{10 * b}-{10 * b + 10})" for b in range(10)])[bracket]
    columns["encounter_id"] = np.cumsum(rng.integers(1, 400, len(kept))) + 10_000
    columns["patient_nbr"] = patients["nbr"][columns["patient"]]
    columns["encounter_date"] = dates[kept]
    # column by column, each text column's Python strings freed once it is a Series: at 1M encounters,
    # converting them all at once peaked at 6.9 GiB
    encounters = pl.DataFrame([pl.Series(name, values.tolist() if values.dtype.kind in "OU" else values)
                               for name, values in ((name, columns.pop(name)) for name in RAW_COLUMNS)])
    encounters = encounters.with_columns(pl.col(pl.Int32, pl.Int64).cast(pl.Int64), pl.col("encounter_date").cast(pl.Date))
    return encounters, pl.DataFrame({"encounter_id": encounters["encounter_id"], TRUE_PROBABILITY: columns[TRUE_PROBABILITY]})


def deliver_months(layout: DataLayout, rows: int = DEFAULT_ROWS, seed: int = 7, first: str = "1999-01",
                   last: str = "2009-12") -> dict:
    """Deliver every month from `first` to `last` of the world: one Parquet file and `_SUCCESS`
    in `landing/readmission/<YYYY-MM>/`, the truth in `truth/readmission/<YYYY-MM>/`. A month whose
    landing folder exists is left as it is (a delivery is read-only). Returns counts."""
    start, stop = parse_month(first), parse_month(last)
    if not FIRST_MONTH <= start <= stop <= LAST_MONTH:
        raise ValueError(f"months {first}..{last}: the world covers {month_label(FIRST_MONTH)}..{month_label(LAST_MONTH)}")
    encounters, truth = generate_world(rows, seed)
    labels = encounters["encounter_date"].dt.strftime("%Y-%m")
    written, skipped, rows_written = [], [], 0
    for index in range(_month_index(start), _month_index(stop) + 1):
        label = month_label(_month_start(FIRST_MONTH, index))
        landing = layout.landing(JOB, label)
        if landing.exists():
            skipped.append(label)
            continue
        selected = labels == label
        with write_once_dir(layout.truth(JOB, label), last="truth.parquet") as tmp:
            truth.filter(selected).write_parquet(tmp / "truth.parquet")
        with write_once_dir(landing, last=SUCCESS_MARKER) as tmp:
            month_rows = encounters.filter(selected)
            month_rows.write_parquet(tmp / "encounters.parquet")
            (tmp / SUCCESS_MARKER).write_text(f"rows={len(month_rows)}\n")
        written.append(label)
        rows_written += len(month_rows)
    return {"months_written": written, "months_skipped": skipped, "rows_written": rows_written,
            "landing_area": str(layout.landing_area(JOB))}
