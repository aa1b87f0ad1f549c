"""heavy_queries: labels (each condition), filters counted, zero-cost categories, sampling, split ordering."""

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from platform_assets.heavy_queries.logic.config import PRODUCTION, ModelConfig, calibrate_thresholds
from platform_assets.heavy_queries.logic.labels import (
    DEFECT_REASONS,
    build_labelled,
    label_figures,
    label_log,
    usable_rows_gate,
    zero_cost_gate,
)
from platform_assets.heavy_queries.logic.pipeline import catalog_stats
from platform_assets.heavy_queries.logic.sampling import boundary_sample, random_undersample
from platform_assets.heavy_queries.logic.splits import assign_splits
from platform_core.contract import ContractError
from platform_core.storage import SUCCESS_MARKER, DataLayout, current, write_once_dir
from tests.heavy_queries.helpers import JOB, THRESHOLDS, deliver, generate_log, small_config


def _row(query_id, cpu_ms=10, memory=1_000, error=None, curated=True, query_type="SELECT", query="select a from t",
         when=datetime(2026, 1, 5, 12)):
    return {"query_id": query_id, "user": "u", "source": "superset", "catalog": "hive", "schema": "tpch_sf1",
            "query_type": query_type, "query": query, "create_time": when, "cpu_time_ms": cpu_ms, "wall_time_ms": cpu_ms,
            "peak_memory_bytes": memory, "error_type": error, "curated": curated}


def _label(tmp_path, rows, config=None):
    path = tmp_path / "log.parquet"
    pl.DataFrame(rows).write_parquet(path)
    return label_log([path], config or ModelConfig(thresholds=PRODUCTION))


def test_each_heavy_condition_labels_heavy(tmp_path):
    kept, _ = _label(tmp_path, [
        _row("light", cpu_ms=299_999, memory=10 * 2**30),
        _row("cpu", cpu_ms=300_000),
        _row("memory", memory=10 * 2**30 + 1),
        _row("error", error="EXCEEDED_MEMORY_LIMIT"),
        _row("user_error", error="USER_ERROR"),
    ])
    got = dict(kept.select("query_id", "heavy_reason").iter_rows())
    assert got == {"light": None, "cpu": "cpu", "memory": "memory", "error": "resource_error", "user_error": None}
    assert dict(kept.select("query_id", "heavy").iter_rows()) == {
        "light": False, "cpu": True, "memory": True, "error": True, "user_error": False}


def test_filters_are_counted_with_one_reason_each(tmp_path):
    kept, set_aside = _label(tmp_path, [
        _row("a"), _row("a", when=datetime(2026, 1, 5, 13)), _row("b", curated=False), _row("c", query_type="DROP_TABLE"),
        _row("d", cpu_ms=-5), _row("e", query=""), _row("f"),
    ])
    assert sorted(kept["query_id"].to_list()) == ["a", "f"]
    assert kept.filter(pl.col("query_id") == "a")["create_time"].item() == datetime(2026, 1, 5, 12)  # earliest copy kept
    assert dict(set_aside.select("query_id", "filter_reason").iter_rows()) == {
        "a": "duplicate_query_id", "b": "non_curated", "c": "query_type_excluded", "d": "invalid_cost", "e": "missing_required"}


def test_build_labelled_writes_kept_and_set_aside_and_leaves_landing_untouched(tmp_path):
    layout = DataLayout.at(tmp_path / "data")
    log, truth = generate_log(days=2, per_day=30)
    day = deliver(layout, log, truth)[0]
    before = {p.name: p.stat().st_mtime_ns for p in layout.landing(JOB, day).iterdir()}
    figures = build_labelled(layout.landing(JOB, day), layout.table(JOB, "labelled", day), small_config())
    written = current(layout.table(JOB, "labelled", day))
    kept, aside = pl.read_parquet(written / "labelled.parquet"), pl.read_parquet(written / "set_aside.parquet")
    assert figures["rows_in"] == 30 == len(kept) + len(aside)
    assert figures["set_aside"]["non_curated"] == aside.filter(pl.col("filter_reason") == "non_curated").height
    assert figures["heavy"] == kept["heavy"].sum()
    assert {p.name: p.stat().st_mtime_ns for p in layout.landing(JOB, day).iterdir()} == before


def test_missing_column_names_file_and_column(tmp_path):
    path = tmp_path / "log.parquet"
    pl.DataFrame([_row("a")]).drop("peak_memory_bytes").write_parquet(path)
    with pytest.raises(ContractError, match=r"log\.parquet.*peak_memory_bytes"):
        label_log([path], small_config())


def test_unreadable_parquet_names_the_file_and_what_to_do(tmp_path):
    layout = DataLayout.at(tmp_path / "data")
    with write_once_dir(layout.landing(JOB, "2026-01-05"), last=SUCCESS_MARKER) as tmp:
        pl.DataFrame([_row("a")]).write_parquet(tmp / "part-00000.parquet")
        (tmp / "part-00001.parquet").write_bytes(b"PAR1 truncated by the producer")
        (tmp / SUCCESS_MARKER).write_text("rows=1\n")
    with pytest.raises(ContractError) as refused:
        build_labelled(layout.landing(JOB, "2026-01-05"), layout.table(JOB, "labelled", "2026-01-05"), small_config(),
                       date(2026, 1, 5))
    message = str(refused.value)
    assert "part-00001.parquet: not a readable Parquet file" in message and "deliver the day again" in message
    assert len(message.splitlines()) == 1


def test_rows_created_on_another_day_are_set_aside_and_counted(tmp_path):
    rows = [_row("today"), _row("late", when=datetime(2026, 1, 2, 23, 59)), _row("ancient", when=datetime(2024, 12, 1)),
            _row("tomorrow", when=datetime(2026, 1, 6, 0, 1)), _row("no_time", when=None)]
    path = tmp_path / "log.parquet"
    pl.DataFrame(rows).write_parquet(path)
    kept, aside = label_log([path], small_config(), date(2026, 1, 5))
    assert kept["query_id"].to_list() == ["today"] and kept["day"].to_list() == [date(2026, 1, 5)]
    assert dict(aside.select("query_id", "filter_reason").iter_rows()) == {
        "late": "outside_delivered_day", "ancient": "outside_delivered_day", "tomorrow": "outside_delivered_day",
        "no_time": "missing_required"}
    assert label_figures(kept, aside)["set_aside"]["outside_delivered_day"] == 3
    assert label_log([path], small_config())[0].height == 4  # without a delivered day, nothing is judged by it


def test_usable_rows_gate_names_the_day_reason_count_and_rate():
    days = pl.DataFrame([
        {"day": date(2026, 1, 4), "rows_in": 2_000, **dict.fromkeys(DEFECT_REASONS, 0), "duplicate_query_id": 12},
        {"day": date(2026, 1, 5), "rows_in": 2_000, **dict.fromkeys(DEFECT_REASONS, 0), "invalid_cost": 1_980}])
    gate = usable_rows_gate(days, 0.05)
    assert not gate.passed and gate.metadata["days_over"] == 1
    assert gate.metadata["failed"] == ("2026-01-05 invalid_cost: 1,980 of 2,000 rows (99.0%) set aside, defects 99.0% "
                                       "> 5.0%")
    assert usable_rows_gate(days.head(1), 0.05).passed and "failed" not in usable_rows_gate(days.head(1), 0.05).metadata


def test_a_broken_catalog_statistics_file_names_the_file(tmp_path):
    layout = DataLayout.at(tmp_path / "data")
    target = layout.landing(JOB, "current", feed="catalog")
    target.mkdir(parents=True)
    (target / "catalog_stats.json").write_text('{"tpch_sf1": {"lineitem": 6001215, "ord')
    with pytest.raises(ContractError, match=r"catalog_stats\.json: not valid JSON \(.* at line 1 column \d+"):
        catalog_stats(layout)
    (target / "catalog_stats.json").write_text('{"tpch_sf1": {"lineitem": "lots"}}')
    with pytest.raises(ContractError, match=r"catalog_stats\.json: tpch_sf1\.lineitem has rows 'lots'"):
        catalog_stats(layout)
    (target / "catalog_stats.json").write_text('{"tpch_sf1": {"lineitem": 6001215}}')
    assert catalog_stats(layout) == {"tpch_sf1": {"lineitem": 6001215}}


def test_zero_cost_gate_routes_only_categories_shown_light(tmp_path):
    rows = [_row(f"s{i}", query="show tables", query_type="SHOW") for i in range(600)]
    rows += [_row(f"d{i}", query="describe t", query_type="DESCRIBE") for i in range(40)]
    rows += [_row(f"e{i}", query="explain select 1", query_type="EXPLAIN", cpu_ms=400_000 if i < 30 else 1) for i in range(600)]
    kept, _ = _label(tmp_path, rows)
    gate = zero_cost_gate(kept, ModelConfig(thresholds=PRODUCTION))
    verdicts = {r["category"]: r["verdict"] for r in gate.metadata["categories"]}
    assert verdicts["show"] == "validated"  # 0 of 600: upper bound 0.6% < 1%
    assert verdicts["describe"] == "insufficient_data"  # 0 of 40: upper bound 8.8%
    assert verdicts["explain"] == "too_heavy"  # 30 of 600: lower bound 3.5% >= 1%
    assert verdicts["use"] == "no_data"
    assert gate.metadata["validated"] == ["show"]
    # statements that read no table are routed unless shown heavy; a catalog lookup only once shown light
    assert gate.metadata["routed"] == ["show", "describe", "set", "use", "constant_select"]
    assert not gate.passed


def _frame(n_small=5_000, n_heavy=200, seed=3):
    rng = np.random.default_rng(seed)
    cpu = np.concatenate([np.exp(rng.uniform(np.log(5), np.log(999), n_small)), rng.uniform(1_000, 5_000, n_heavy)])
    return pl.DataFrame({"query_id": [f"q{i:06d}" for i in range(len(cpu))], "cpu_time_ms": cpu.astype(np.int64),
                         "peak_memory_bytes": np.full(len(cpu), 1_000, dtype=np.int64),
                         "heavy": np.arange(len(cpu)) >= n_small})


def test_boundary_sampling_keeps_every_heavy_at_five_to_one_and_prefers_the_boundary():
    frame = _frame()
    sample, figures = boundary_sample(frame, THRESHOLDS, ratio=5.0, max_boost=2.0, min_multiplier=0.05, seed=1)
    assert sample["heavy"].sum() == 200
    assert figures["ratio_achieved"] == pytest.approx(5.0, rel=0.1)
    assert figures["expected_small"] == pytest.approx(1_000, rel=1e-3)
    multipliers = figures["multiplier_range"]
    assert multipliers[0] >= 0.05 - 1e-9 and multipliers[1] <= 2.0 + 1e-9
    small = frame.filter(~pl.col("heavy")).with_columns(pl.col("query_id").is_in(sample["query_id"].implode()).alias("kept"))
    near = small.filter(pl.col("cpu_time_ms") >= 500)["kept"].mean()
    far = small.filter(pl.col("cpu_time_ms") < 20)["kept"].mean()
    assert near > 3 * far
    again, _ = boundary_sample(frame, THRESHOLDS, seed=1)
    assert again["query_id"].to_list() == sample["query_id"].to_list()


def test_random_undersampling_same_ratio_no_boundary_preference():
    frame = _frame()
    sample, figures = random_undersample(frame, ratio=5.0, seed=1)
    assert figures["ratio_achieved"] == pytest.approx(5.0, rel=0.1)
    small = frame.filter(~pl.col("heavy")).with_columns(pl.col("query_id").is_in(sample["query_id"].implode()).alias("kept"))
    near = small.filter(pl.col("cpu_time_ms") >= 500)["kept"].mean()
    far = small.filter(pl.col("cpu_time_ms") < 20)["kept"].mean()
    assert abs(near - far) < 0.08


def test_splits_are_ordered_in_time():
    days = [date(2026, 1, 1) + timedelta(days=d) for d in range(50)]
    frame = pl.DataFrame({"day": days, "heavy": [False] * 50})
    out, figures = assign_splits(frame, 30, 7, 7)
    by_split = {name: out.filter(pl.col("split") == name)["day"] for name in ("history", "train", "validation", "test")}
    assert [len(v) for v in by_split.values()] == [6, 30, 7, 7]
    assert by_split["history"].max() < by_split["train"].min()
    assert by_split["train"].max() < by_split["validation"].min()
    assert by_split["validation"].max() < by_split["test"].min()
    assert by_split["test"].max() == date(2026, 2, 19)
    assert figures["test"]["first_day"] == "2026-02-13"


def test_calibrated_thresholds_make_heavy_a_minority():
    rng = np.random.default_rng(0)
    cpu, memory = rng.lognormal(5, 1.5, 10_000), rng.lognormal(18, 1.0, 10_000)
    t = calibrate_thresholds(cpu, memory, heavy_share=0.10)
    share = float(((cpu >= t.cpu_ms) | (memory > t.peak_memory_bytes)).mean())
    assert 0.05 <= share <= 0.10
