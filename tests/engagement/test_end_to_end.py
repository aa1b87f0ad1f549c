"""engagement end to end through Dagster on a small generated month: validated customers, a
gated pipeline in the registry, scores in the catalog, the summary; and a proxy feature that
blocks deployment."""

import duckdb
import polars as pl
import pytest

from platform_assets.definitions import build_definitions
from platform_assets.engagement import definitions as engagement
from platform_assets.engagement.config import EngagementConfig
from platform_assets.engagement.logic.delivery import deliver_month
from platform_assets.run import JobRunFailed, run_partition
from platform_core.periods import parse_month
from platform_core.registry import ModelRegistry
from platform_core.storage import DataLayout
from resources import Warehouse

MONTH = "2025-07"
LABELLED, NEW = 6_000, 1_500


def run(layout: DataLayout, instance, month: str = MONTH) -> dict:
    config = EngagementConfig(folds=2, min_labelled_rows=1_000, min_group_rows=50)
    defs = build_definitions(Warehouse(data_dir=str(layout.root)), {"engagement": config})
    return run_partition(engagement.job, parse_month(month).isoformat(), instance, defs, progress=lambda _line: None)


# 1,200 test rows may not settle every fairness comparison, nor a champion comparison within 0.01 of R²
WARNING = {"engagement_model.fairness_conclusive", "engagement_model.gates_conclusive"}


def failed_checks(recorded: dict) -> set[str]:
    return {c["check"] for c in recorded["checks"] if not c["passed"]}


@pytest.fixture
def month(tmp_path) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    deliver_month(layout.landing("engagement", MONTH), layout.truth("engagement", MONTH), parse_month(MONTH), LABELLED, 7, NEW)
    return layout


def test_a_month_end_to_end(month, instance):
    recorded = run(month, instance)
    failed = failed_checks(recorded)
    assert recorded["checks"] and failed <= WARNING, failed
    assert {c["check"] for c in recorded["checks"]} >= {
        "customers.duplicate_rate", "engagement_model.holdout_quality", "engagement_model.demographic_parity_gender",
        "engagement_model.equalized_odds_age_group", "engagement_model.no_proxy_features",
        "engagement_model.confidence_calibrated", "engagement_scores.tiers_complete"}

    with duckdb.connect(str(month.catalog), read_only=True) as con:
        rows, ids, tiers, low, high = con.execute(
            "SELECT count(*), count(DISTINCT customer_id), count(engagement_tier), min(engagement_score), max(engagement_score) "
            "FROM engagement_scores_2025_07").fetchone()
        versions = con.execute("SELECT list(DISTINCT model_version) FROM engagement_scores_2025_07").fetchone()[0]
    assert rows == ids == tiers == NEW and 0 <= low <= high <= 1
    champion = ModelRegistry(month.models).champion("engagement")["pipeline"]
    assert versions == [str(champion)]
    stored = month.models / "engagement" / "pipeline" / champion.version
    assert sorted(p.name for p in stored.iterdir()) == ["metadata.json", "model.ubj", "pipeline.json"]

    scores = recorded["stages"]["engagement_scores"][0]
    assert scores["against_truth"]["r2"] > 0.6  # against the true engagement of the scored customers
    summary = engagement.job.summary(recorded, month)
    for expected in ("test split   R²", "vs truth", "Gates on the test split", "test RMSE", "tier accuracy - mean confidence", "demographic_parity_location", "engagement_tier  Low",
                     "customers/s", f"Checks: {len(recorded['checks']) - len(failed)}/{len(recorded['checks'])} passed"):
        assert expected in summary, expected

    # the next month is judged against this champion on its own test rows, then replaces it
    deliver_month(month.landing("engagement", "2025-08"), month.truth("engagement", "2025-08"), parse_month("2025-08"),
                  LABELLED, 7, NEW)
    august = run(month, instance, "2025-08")
    model = august["stages"]["engagement_model"][0]
    assert model["champion_before"] == str(champion) and 0.6 < model["champion_r2_before"] <= 1
    assert failed_checks(august) <= WARNING
    lost = model["judged"]["R² lost against the champion"]  # paired, on August's test rows
    assert lost["rows"] == 1_200 and lost["interval"][0] <= lost["value"] <= lost["interval"][1]
    assert lost["value"] == pytest.approx(model["champion_r2_before"] - model["r2"], abs=1e-3)
    assert f"{lost['value']} [{lost['interval'][0]}, {lost['interval'][1]}] <= 0.01" in engagement.job.summary(august, month)
    assert ModelRegistry(month.models).champion("engagement")["pipeline"].version.startswith("2025-08-")


def test_a_proxy_feature_blocks_deployment(month, instance):
    """A feature that is the gender in disguise, and labels that follow it: selected by the model,
    flagged as a proxy; the pipeline is registered but not promoted and nothing is scored."""
    part = next(month.landing("engagement", MONTH).glob("*.parquet"))
    frame = pl.read_parquet(part)
    female = (pl.col("gender") == "F").cast(pl.Float64)
    frame = frame.with_columns(
        (female + pl.col("noise_00") * 0.05).alias("noise_00"),
        pl.when(pl.col("engagement_score").is_not_null())
        .then((pl.col("engagement_score") + 0.3 * female).clip(0, 1)).alias("engagement_score"))
    frame.write_parquet(part)
    with pytest.raises(JobRunFailed, match="no_proxy_features"):
        run(month, instance)
    assert not ModelRegistry(month.models).champion_history("engagement")
    assert ModelRegistry(month.models).versions("engagement", "pipeline")  # kept for inspection
    assert not month.table_area("engagement", "engagement_scores").exists()  # blocked: nothing scored or published
