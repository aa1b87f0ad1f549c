"""The readmission world: deterministic, the reference's window sizes and label rate, "?" as in
the original, a known true probability, and a drift that makes 2008 harder than 2006-2007."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from platform_assets.readmission.logic import icd9, source, world
from platform_assets.readmission.logic.schema import JOB, TRUE_PROBABILITY
from platform_core.storage import SUCCESS_MARKER, DataLayout

ROWS = 30_000
SEED = 2


@pytest.fixture(scope="module")
def generated():
    return world.generate_world(ROWS, SEED)


def _windows(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    year = pl.col("encounter_date").dt.year()
    return {"train": frame.filter(year <= 2005), "test": frame.filter(year.is_between(2006, 2007)),
            "oot": frame.filter(year == 2008), "later": frame.filter(year >= 2009)}


def expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """AUC of `score` expected over labels drawn from `p` (no label noise: the pairs are weighted
    by p_i (1 - p_j)); with score = p it is the best achievable AUC."""
    order = np.argsort(score, kind="stable")
    p = np.asarray(p, dtype=np.float64)[order]
    negatives_below = np.concatenate([[0.0], np.cumsum(1 - p)[:-1]])
    return float((p * negatives_below).sum() / (p.sum() * (1 - p).sum() - (p * (1 - p)).sum()))


def test_world_is_deterministic(generated):
    encounters, truth = generated
    again_encounters, again_truth = world.generate_world(ROWS, SEED)
    assert encounters.equals(again_encounters) and truth.equals(again_truth)
    assert not encounters.equals(world.generate_world(ROWS, SEED + 1)[0])


def test_columns_types_and_ids(generated):
    encounters, truth = generated
    assert encounters.columns == world.RAW_COLUMNS == list(source.CONTRACT.columns)
    for name, column in source.CONTRACT.columns.items():
        expected = {"BIGINT": pl.Int64, "INTEGER": pl.Int64, "DATE": pl.Date, "VARCHAR": pl.String}[column.kind]
        assert encounters.schema[name] == expected, name
    assert encounters["encounter_id"].is_unique().all() and encounters["encounter_id"].is_sorted()
    assert truth.columns == ["encounter_id", TRUE_PROBABILITY] and truth["encounter_id"].equals(encounters["encounter_id"])
    assert truth[TRUE_PROBABILITY].is_between(0, 1).all()
    assert encounters["encounter_date"].min().isoformat() == "1999-01-01"
    assert encounters["encounter_date"].max().isoformat() <= "2009-12-31"
    per_patient = encounters.group_by("patient_nbr").len()["len"]
    assert 1.3 < len(encounters) / len(per_patient) < 2.2 and per_patient.max() >= 5  # patients come back


def test_values_are_the_contract_values(generated):
    encounters, _ = generated
    for name, allowed in source.ALLOWED.items():
        extra = set(encounters[name].unique()) - set(allowed) - set(source.UNKNOWN_CODES)
        assert not extra, f"{name}: {extra}"
    for name, (lowest, highest) in source.RANGES.items():
        assert encounters[name].is_between(lowest, highest).all(), name
    assert encounters.filter(pl.col("encounter_date").dt.year() <= 2007)["number_diagnoses"].max() == 9
    assert encounters.filter(pl.col("encounter_date").dt.year() == 2008)["number_diagnoses"].max() > 9


def test_every_world_code_maps_to_its_chapter():
    codes = [(code, chapter) for chapter, listed in world.CODES.items() for code in listed]
    assert [c for _, c in icd9.chapters([code for code, _ in codes])] == [chapter for _, chapter in codes]


def test_window_sizes_follow_the_reference():
    volumes = list(world.monthly_volumes(75_000).values())
    assert sum(volumes[:120]) == 75_000 and len(volumes) == 132
    assert all(later >= earlier for earlier, later in itertools.pairwise(volumes))  # growing
    assert 50_500 <= sum(volumes[:84]) <= 52_000
    assert 15_000 <= sum(volumes[84:108]) <= 16_000
    assert 8_000 <= sum(volumes[108:120]) <= 8_500


def test_generated_months_hold_their_volume(generated):
    encounters, _ = generated
    counts = dict(encounters.group_by(pl.col("encounter_date").dt.strftime("%Y-%m")).len().iter_rows())
    assert counts == world.monthly_volumes(ROWS)


def test_label_rate_and_unknown_shares(generated):
    encounters, _ = generated
    shares = encounters["readmitted"].value_counts(normalize=True)
    share = dict(zip(shares["readmitted"], shares["proportion"]))
    assert 0.09 < share["<30"] < 0.14 and 0.25 < share[">30"] < 0.40 and 0.50 < share["NO"] < 0.65
    unknown = {c: (encounters[c] == "?").mean() for c in ("race", "payer_code", "medical_specialty", "diag_3")}
    assert 0.012 < unknown["race"] < 0.035
    assert 0.33 < unknown["payer_code"] < 0.45
    assert 0.45 < unknown["medical_specialty"] < 0.53
    assert 0.005 < unknown["diag_3"] < 0.03


def test_truth_is_calibrated_and_best_auc_in_range(generated):
    encounters, truth = generated
    frame = encounters.with_columns(truth[TRUE_PROBABILITY], (pl.col("readmitted") == "<30").alias("y"))
    for name, part in _windows(frame).items():
        assert abs(part["y"].mean() - part[TRUE_PROBABILITY].mean()) < 0.02, name
        p = part[TRUE_PROBABILITY].to_numpy()
        assert 0.70 < expected_auc(p, p) < 0.82, name


def _design(part: pl.DataFrame, levels: dict[str, list], center: np.ndarray | None = None, scale: np.ndarray | None = None):
    """Standardized numeric columns, one-hot categoricals (the train window's levels) and an intercept."""
    numeric = part.select(NUMERIC).to_numpy().astype(np.float64)
    center = numeric.mean(axis=0) if center is None else center
    scale = numeric.std(axis=0) + 1e-9 if scale is None else scale
    dummies = [(part[c].cast(pl.String) == str(v)).to_numpy()[:, None] for c in CATEGORICAL for v in levels[c]]
    return np.hstack([np.ones((len(part), 1)), (numeric - center) / scale, *dummies]), center, scale


def _fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1.0, steps: int = 12) -> np.ndarray:
    """Ridge-penalized logistic regression by Newton's method (numpy only: fast to import; one BLAS
    thread, as threads spinning on a shared, busy machine make it ten times slower)."""
    from threadpoolctl import threadpool_limits

    beta = np.zeros(x.shape[1])
    with threadpool_limits(1):
        for _ in range(steps):
            p = 1 / (1 + np.exp(-x @ beta))
            hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(x.shape[1])
            beta += np.linalg.solve(hessian, x.T @ (y - p) - ridge * beta)
    return beta


NUMERIC = ["time_in_hospital", "num_lab_procedures", "num_procedures", "num_medications", "number_outpatient",
           "number_emergency", "number_inpatient", "number_diagnoses"]
CATEGORICAL = ["age", "admission_type_id", "discharge_disposition_id", "admission_source_id", "max_glu_serum",
               "A1Cresult", "insulin", "change", "diag_1"]


def test_drift_makes_oot_harder_than_test(generated):
    """The best achievable AUC drops from test to OOT, and a model fitted on the train window
    loses more against it on OOT than on test."""
    encounters, truth = generated
    windows = _windows(encounters.with_columns(truth[TRUE_PROBABILITY]))
    train = windows["train"]
    levels = {c: [v for v, n in train[c].cast(pl.String).value_counts().iter_rows() if n >= 20] for c in CATEGORICAL}
    x, center, scale = _design(train, levels)
    beta = _fit_logistic(x, (train["readmitted"] == "<30").to_numpy().astype(np.float64))
    best, gap = {}, {}
    for name in ("test", "oot"):
        p = windows[name][TRUE_PROBABILITY].to_numpy()
        best[name] = expected_auc(p, p)
        gap[name] = best[name] - expected_auc(_design(windows[name], levels, center, scale)[0] @ beta, p)
    assert best["test"] - best["oot"] > 0.01, best
    assert 0 < gap["test"] < gap["oot"] < 0.06, gap


def test_deliver_months_writes_landing_and_truth_and_never_touches_a_delivery(tmp_path):
    layout = DataLayout.at(tmp_path)
    done = world.deliver_months(layout, rows=6_000, seed=SEED, first="2008-11", last="2009-01")
    assert done["months_written"] == ["2008-11", "2008-12", "2009-01"] and not done["months_skipped"]
    landing = layout.landing(JOB, "2008-12")
    assert (landing / SUCCESS_MARKER).exists()
    delivered = pl.read_parquet(landing / "encounters.parquet")
    truth = pl.read_parquet(layout.truth(JOB, "2008-12") / "truth.parquet")
    assert len(delivered) == world.monthly_volumes(6_000)["2008-12"] == len(truth)
    assert delivered["encounter_date"].dt.strftime("%Y-%m").unique().to_list() == ["2008-12"]
    assert truth["encounter_id"].equals(delivered["encounter_id"])
    assert TRUE_PROBABILITY not in delivered.columns

    before = {p.name: p.stat().st_mtime_ns for p in landing.iterdir()}
    again = world.deliver_months(layout, rows=6_000, seed=SEED, first="2008-12", last="2009-02")
    assert again["months_skipped"] == ["2008-12", "2009-01"] and again["months_written"] == ["2009-02"]
    assert {p.name: p.stat().st_mtime_ns for p in landing.iterdir()} == before
    with pytest.raises(ValueError, match="the world covers"):
        world.deliver_months(layout, rows=6_000, first="1998-12", last="1999-01")
