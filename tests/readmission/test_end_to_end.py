"""readmission end to end through Dagster on a small world: gold months, the prerequisite gates,
three tuned algorithms registered with the seed's metadata, champions on test AUC, the month's
scores in the catalog, the comparison of every version; then each prerequisite failing on its
own (no new registry version), and the proof that no test or OOT encounter reached training.

The world is the job's own (`deliver_months`), delivered from 2007-01 so the history the job fills
is 25 months instead of 121 (the per-month cost of the silver and gold stages, not the rows, sets
the time), with one month of the train window (2007-05) delivered as a Parquet file whose pages
cannot be decoded: the range run sets that month aside, names it in a warning, and trains on the
rest. The model config is the repository's with windows inside those months and a tiny search
budget (3 candidates, 2 folds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
import yaml

from platform_assets.definitions import build_definitions
from platform_assets.readmission import definitions as readmission
from platform_assets.readmission.config import ReadmissionConfig
from platform_assets.readmission.logic.artifacts import SEED_FIELDS
from platform_assets.readmission.logic.model_config import DEFAULT_CONFIG_PATH
from platform_assets.readmission.logic.schema import JOB
from platform_assets.readmission.logic.world import deliver_months
from platform_assets.run import JobRunFailed, run_partition
from platform_core.registry import ModelRef, ModelRegistry
from platform_core.storage import DataLayout, current
from resources import Warehouse

FIRST, MONTH, CORRUPT = "2007-01", "2009-01", "2007-05"
PARTITION = "2009-01-01"
ROWS = 20_000  # encounters 1999-2008 in the whole world: about 2,100 in 2007, 2,200 in 2008, 190 in 2009-01
WINDOWS = {"train": {"start": date(2007, 1, 1), "end": date(2007, 12, 31)},
           "test": {"start": date(2008, 1, 1), "end": date(2008, 6, 30)},
           "oot": {"start": date(2008, 7, 1), "end": date(2008, 12, 31)}}
REGISTRY_FIELDS = {"files", "job", "model", "version", "created_at"}  # what the registry adds to the seed's fields
WARNINGS = {"readmission_models.champion_near_best_auc", "readmission_models.equal_opportunity_conclusive",
            "readmission_models.champion_calibrated", "readmission_models.not_worse_than_champion",
            "readmission_models.gates_conclusive", "training_prerequisites.no_month_set_aside"}
JOB_FROM_FIRST = dataclasses.replace(readmission.job, history_start=f"{FIRST}-01")


def write_config(path: Path, windows: dict = WINDOWS, **changes) -> Path:
    """The repository's model config with these windows, a tiny search and `changes` on top."""
    document = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    document.update(windows=windows, **changes)
    document["search"].update(candidates=3, folds=2)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def run(root: Path, instance: dg.DagsterInstance, config_file: Path) -> dict:
    layout = DataLayout.at(root / "data")
    defs = build_definitions(Warehouse(data_dir=str(layout.root)),
                             {JOB: ReadmissionConfig(config_file=str(config_file), nthread=1)})
    return run_partition(JOB_FROM_FIRST, PARTITION, instance, defs, progress=lambda _line: None)


def open_instance(home: Path) -> dg.DagsterInstance:
    if not home.exists():
        home.mkdir(parents=True)
        shutil.copy(Path(__file__).resolve().parents[2] / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    """The world delivered and the job run once for 2009-01; the folder holds data and the instance."""
    root = tmp_path_factory.mktemp("readmission_e2e")
    layout = DataLayout.at(root / "data")
    deliver_months(layout, rows=ROWS, seed=7, first=FIRST, last=MONTH)
    delivered = layout.landing(JOB, CORRUPT) / "encounters.parquet"  # the deliverer's mistake, before the job runs
    sound = delivered.read_bytes()
    delivered.write_bytes(bytes(b ^ 0x5A if 4 <= i < len(sound) // 3 else b for i, b in enumerate(sound)))
    shutil.copy(delivered, root / "corrupt_as_delivered.parquet")
    with open_instance(root / "dagster_home") as instance:
        recorded = run(root, instance, write_config(root / "model_config.yaml"))
    return root, recorded


@pytest.fixture
def copy(trained, tmp_path) -> Path:
    """A private copy of the trained world: data, registry, catalog and Dagster instance."""
    root = tmp_path / "copy"
    shutil.copytree(trained[0], root)
    return root


def registered(layout: DataLayout) -> dict[str, list[str]]:
    registry = ModelRegistry(layout.models)
    return {model: registry.versions(JOB, model) for model in registry.models(JOB)}


def gold_rows(layout: DataLayout, table: str, window: dict) -> pl.DataFrame:
    months = pl.date_range(window["start"], window["end"], "1mo", eager=True).dt.strftime("%Y-%m")
    return pl.concat([pl.read_parquet(str(current(layout.table(JOB, table, m)) / "*.parquet")) for m in months
                      if m != CORRUPT])


def test_a_month_end_to_end(trained):
    root, recorded = trained
    layout = DataLayout.at(root / "data")
    checks = {c["check"]: c["passed"] for c in recorded["checks"]}
    assert {"training_prerequisites.model_config_valid", "training_prerequisites.gold_data_present",
            "training_prerequisites.enough_partitions", "encounters_silver.duplicate_rate",
            "encounters_silver.unparseable_code_rate", "readmission_models.equal_opportunity",
            "readmission_scores.one_score_per_encounter", "readmission_scores.probabilities_valid"} | WARNINGS <= set(checks)
    blocking = {name: passed for name, passed in checks.items() if name not in WARNINGS}
    assert all(blocking.values()), blocking
    assert [s["partition"] for s in recorded["stages"]["encounters_silver"]] == [f"{FIRST}..{MONTH}"]  # one range run

    # the corrupt month: set aside by name with its file, warned about, its delivery untouched, the rest trained on
    reason = f"{layout.landing(JOB, CORRUPT) / 'encounters.parquet'}: unreadable Parquet file ("
    stages = recorded["stages"]
    for stage in ("encounters_silver", "feature_store", "label_store"):
        assert [a["month"] for a in stages[stage][0]["set_aside"]] == [CORRUPT], stage
        assert stages[stage][0]["set_aside"][0]["reason"].startswith(reason), stage
    assert checks["training_prerequisites.no_month_set_aside"] is False
    assert (layout.landing(JOB, CORRUPT) / "encounters.parquet").read_bytes() == (root / "corrupt_as_delivered.parquet").read_bytes()
    assert [a["month"] for a in stages["training_prerequisites"][0]["set_aside"]] == [CORRUPT]
    assert stages["encounters_silver"][0]["months"] == 25 and stages["encounters_silver"][0]["rows_in"] > 0
    assert f"Set aside (refused deliveries, no data for them; training went on without them): 1 month(s)\n  {CORRUPT}  " \
        f"{reason}" in readmission.job.summary(recorded, layout)
    # the champion judged on OOT: every figure beside its interval and verdict, in the metadata and the summary
    quality = recorded["stages"]["readmission_models"][0]["oot_quality"]
    assert {"calibration (worst OOT decile)", "best achievable AUC - champion's"} <= set(quality)
    assert all(q["verdict"] in ("pass", "fail", "inconclusive") and q["interval"][0] <= q["value"] <= q["interval"][1]
               for q in quality.values())
    assert "Champion on the OOT window, which chose nothing" in readmission.job.summary(recorded, layout)
    assert recorded["stages"]["readmission_models"][0]["calibration_plot"].startswith("![calibration by decile")
    assert "data:image/png;base64,iVBOR" in recorded["stages"]["readmission_models"][0]["calibration_plot"]  # a PNG, in the UI

    registry = ModelRegistry(layout.models)
    versions = registered(layout)
    assert sorted(versions) == ["logistic_regression", "random_forest", "xgboost"]
    assert all(len(v) == 1 for v in versions.values())
    metadata = {m: registry.metadata(ModelRef(JOB, m, v[0])) for m, v in versions.items()}

    # overall champion: the simplest algorithm whose TEST AUC is not significantly below the best, whatever OOT says
    test_auc = {m: meta["performance"]["test"]["auc_roc"] for m, meta in metadata.items()}
    comparison = recorded["stages"]["readmission_models"][0]["champions"]["overall_comparison"]
    assert [c["algorithm"] for c in comparison] == ["logistic_regression", "random_forest", "xgboost"]
    assert {c["algorithm"]: c["test_auc"] for c in comparison} == pytest.approx(test_auc, abs=1e-4)
    assert next(c for c in comparison if c["minus_best"] == 0)["test_auc"] == pytest.approx(max(test_auc.values()), abs=1e-4)
    best = next(c["algorithm"] for c in comparison if c["qualifies"])
    champion = registry.champion(JOB)
    assert list(champion) == [best] and champion[best].version == versions[best][0]
    assert recorded["stages"]["readmission_models"][0]["champion"] == str(champion[best])
    for model, meta in metadata.items():
        assert registry.champion(JOB, model)[model].version == versions[model][0]
        assert 0.5 < meta["performance"]["test"]["auc_roc"] < 1 and 0.5 < meta["performance"]["oot"]["auc_roc"] < 1

    # metadata.json: exactly the seed's fields plus the registry's hashes and bookkeeping
    for model, meta in metadata.items():
        assert set(meta) == set(SEED_FIELDS) | REGISTRY_FIELDS, model
        assert set(meta["performance"]) == {"test", "oot"}
        assert set(meta["performance"]["test"]) == {"accuracy", "precision", "recall", "f1", "auc_roc"}
        assert meta["temporal_splits"] == {n: {k: str(d) for k, d in w.items()} for n, w in WINDOWS.items()}
        stored = layout.models / JOB / model / versions[model][0]
        assert meta["files"] and all(hashlib.sha256((stored / name).read_bytes()).hexdigest() == digest
                                     for name, digest in meta["files"].items())
        assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in meta["files"])

    features = len(pl.read_parquet(str(current(layout.table(JOB, "feature_store", MONTH)) / "*.parquet")))
    with duckdb.connect(str(layout.catalog), read_only=True) as con:
        rows, ids, versions_scored, low, high = con.execute(
            "SELECT count(*), count(DISTINCT encounter_id), list(DISTINCT model_version), min(readmission_probability), "
            "max(readmission_probability) FROM readmission_scores_2009_01").fetchone()
        compared = con.execute("SELECT model, version, overall_champion FROM readmission_model_comparison").fetchall()
    assert features > 50 and rows == ids == features and 0 <= low <= high <= 1
    assert versions_scored == [str(champion[best])]
    assert sorted((m, v) for m, v, _ in compared) == sorted((m, v[0]) for m, v in versions.items())
    assert [m for m, _, overall in compared if overall] == [best]

    monitoring = recorded["stages"]["readmission_monitoring"][0]
    assert monitoring["dagster/row_count"] == features and monitoring["model_version"] == str(champion[best])
    summary = readmission.job.summary(recorded, layout)
    assert "xgboost" in summary and str(champion[best].version) in summary


def test_no_test_or_oot_encounter_reaches_training(trained):
    """The leakage figures the model asset recorded, checked against the gold tables themselves."""
    root, recorded = trained
    layout = DataLayout.at(root / "data")
    model = recorded["stages"]["readmission_models"][0]
    proof = model["leakage_proof"]
    assert proof["test_encounters_in_train"] == 0 and proof["oot_encounters_in_train"] == 0
    assert str(WINDOWS["train"]["start"]) <= proof["train_first_date"] <= proof["train_last_date"] <= str(WINDOWS["train"]["end"])

    windows = {name: gold_rows(layout, "label_store", w) for name, w in WINDOWS.items()}
    assert model["samples"] == {name: len(frame) for name, frame in windows.items()}
    assert proof["train_rows"] == proof["encoders_fitted_on_rows"] == len(windows["train"])
    assert windows["train"]["encounter_id"].is_in(windows["oot"]["encounter_id"].implode()).sum() == 0
    assert windows["oot"]["encounter_date"].min() > WINDOWS["train"]["end"]
    registry = ModelRegistry(layout.models)
    train_window = [str(WINDOWS["train"]["start"]), str(WINDOWS["train"]["end"])]
    for model_name, versions in registered(layout).items():
        ref = ModelRef(JOB, model_name, versions[0])
        meta = registry.metadata(ref)
        assert (meta["training_samples"], meta["test_samples"], meta["oot_samples"]) == \
            (len(windows["train"]), len(windows["test"]), len(windows["oot"]))
        # the stored encoders and scaler say what they were fitted on: the train window's rows, no others
        fitted = json.loads(registry.load_file(ref, "preprocessing.json"))["preprocessor"]["fitted_on"]
        assert fitted == {"window": train_window, "rows": len(windows["train"])}


def _fails_before_training(root: Path, config_file: Path, reason: str) -> str:
    layout = DataLayout.at(root / "data")
    before = registered(layout)
    champions_before = ModelRegistry(layout.models).champion_history(JOB)
    with open_instance(root / "dagster_home") as instance:
        with pytest.raises(JobRunFailed, match=reason) as failed:
            run(root, instance, config_file)
        model_runs = instance.fetch_materializations(dg.AssetKey([JOB, "readmission_models"]), limit=10).records
    assert registered(layout) == before  # training did not run: no new version, no new champion
    assert ModelRegistry(layout.models).champion_history(JOB) == champions_before
    assert len(model_runs) == 1  # only the fixture's
    return str(failed.value)


def test_a_broken_config_stops_training(copy):
    config = write_config(copy / "broken.yaml", {**WINDOWS, "test": {"start": date(2007, 10, 1), "end": date(2008, 6, 30)}})
    message = _fails_before_training(copy, config, "model_config_valid")
    assert "test starts 2007-10-01, not after train ends 2007-12-31" in message
    assert "gold_data_present failed: reason=not checked: the model config is invalid" in message
    assert "enough_partitions failed: reason=not checked: the model config is invalid" in message


def test_missing_gold_data_stops_training(copy):
    """OOT asks for months never built (2009-02..2009-06), and one built label month is lost."""
    config = write_config(copy / "later_oot.yaml", {**WINDOWS, "oot": {"start": date(2008, 7, 1), "end": date(2009, 6, 30)}})
    shutil.rmtree(DataLayout.at(copy / "data").table(JOB, "label_store", "2007-03"))
    message = _fails_before_training(copy, config, "gold_data_present")
    assert "feature_store.oot lacks 5 month(s): 2009-02..2009-06" in message
    assert "label_store.train lacks 1 month(s): 2007-03" in message
    assert "label_store.oot lacks 5 month(s): 2009-02..2009-06" in message
    assert "model_config_valid" not in message and "enough_partitions" not in message


def test_too_few_partitions_without_the_month_set_aside_stop_training_naming_it(copy):
    config = write_config(copy / "more_partitions.yaml", min_partitions=25)
    message = _fails_before_training(copy, config, "enough_partitions")
    assert f"only 24 monthly partition(s) with features and labels; at least 25 needed (1 month(s) set aside: {CORRUPT} (" \
        in message and f"landing/readmission/{CORRUPT}/encounters.parquet: unreadable Parquet file (" in message
    assert "model_config_valid" not in message and "gold_data_present" not in message
