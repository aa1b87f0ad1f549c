"""Values outside their column's range (1e308, infinities, NaN, labels outside [0, 1]) are set
aside with their column and reason, never trained on or scored; the contract engine's bounds
that do it; and the delivery checks' failure metadata, which must name column, rows and rate as
plain values (`make run` prints only those)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from platform_assets.engagement.logic.customers import BOUNDS, CONTRACT, build_customers, delivery_gates
from platform_assets.engagement.logic.delivery import deliver_month
from platform_assets.engagement.logic.world import FEATURES, KEY, LABEL
from platform_core import duck
from platform_core.contract import Column, Contract, ContractError, column_problems, open_delivery
from platform_core.periods import parse_month
from platform_core.storage import SUCCESS_MARKER, DataLayout

MONTH = "2025-07"
LABELLED, NEW = 3_000, 1_000


@pytest.fixture(scope="module")
def delivered(tmp_path_factory) -> pl.DataFrame:
    layout = DataLayout.at(tmp_path_factory.mktemp("world"))
    deliver_month(layout.landing("engagement", MONTH), layout.truth("engagement", MONTH), parse_month(MONTH), LABELLED, 7, NEW)
    return pl.read_parquet(next(layout.landing("engagement", MONTH).glob("*.parquet")))


def deliver(tmp_path, frame: pl.DataFrame):
    landing = tmp_path / "landing"
    landing.mkdir()
    frame.write_parquet(landing / "part-00000.parquet")
    (landing / SUCCESS_MARKER).write_text("")
    return landing


def gates_by_name(stats, max_quarantine_rate: float = 0.01) -> dict:
    return {g.name: g for g in delivery_gates(stats, 0.01, 0.05, max_quarantine_rate, 1_000)}


def with_values(frame: pl.DataFrame, column: str, values: dict[int, float]) -> pl.DataFrame:
    """`frame` with column set to values[row] on those rows (as Float64: 1e308 does not fit Float32)."""
    return frame.with_columns(pl.Series(column, [values.get(i, v) for i, v in enumerate(frame[column].cast(pl.Float64))]))


def test_every_numeric_column_has_a_finite_range_in_the_contract():
    numeric = [name for name, col in CONTRACT.columns.items() if col.kind == "DOUBLE"]
    assert set(numeric) == {*FEATURES, LABEL}
    for name in numeric:
        low, high = CONTRACT.columns[name].bounds
        assert math.isfinite(low) and math.isfinite(high) and low < high < 3.4e38, name  # float32's largest is 3.4e38
    assert BOUNDS[LABEL] == (0.0, 1.0)


def test_the_generated_world_is_inside_every_range(delivered, tmp_path):
    stats = build_customers(deliver(tmp_path, delivered), tmp_path / "customers", 1)
    assert stats.set_aside == 0 and stats.quarantine == []
    assert (stats.rows_out, stats.labelled, stats.to_score) == (LABELLED + NEW, LABELLED, NEW)
    assert all(g.passed for g in delivery_gates(stats, 0.01, 0.05, 0.01, 1_000))


def test_huge_and_infinite_features_are_set_aside_never_scored_or_trained_on(delivered, tmp_path):
    to_score = delivered.filter(pl.col(LABEL).is_null())[KEY].to_list()
    frame = delivered.with_row_index("row")
    row_of = dict(zip(frame[KEY].to_list(), frame["row"].to_list()))
    planted = {row_of[to_score[0]]: 1e308, row_of[to_score[1]]: float("inf"), row_of[to_score[2]]: float("-inf"),
               0: float("inf"), 1: float("nan"), 2: -3.0}  # rows 0-2 are labelled (training) rows
    hostile = with_values(delivered, "feed_time_minutes_day", planted)
    target = tmp_path / "customers"
    stats = build_customers(deliver(tmp_path, hostile), target, 1)

    assert stats.set_aside == 6 and stats.rows_out == LABELLED + NEW - 6
    assert (stats.labelled, stats.to_score) == (LABELLED - 3, NEW - 3)
    assert stats.quarantine == [{"column_name": "feed_time_minutes_day", "reason": "nan", "rows": 1},
                                {"column_name": "feed_time_minutes_day", "reason": "infinite", "rows": 3},
                                {"column_name": "feed_time_minutes_day", "reason": "out_of_range", "rows": 2}]
    customers = pl.read_parquet(next(target.glob("**/customers.parquet")))
    planted_ids = [frame[KEY][r] for r in planted]
    assert customers.filter(pl.col(KEY).is_in(planted_ids)).is_empty()
    assert customers["feed_time_minutes_day"].is_finite().all() and customers["feed_time_minutes_day"].max() <= 1_440
    quarantine = pl.read_parquet(next(target.glob("**/quarantine.parquet")))
    assert sorted(quarantine[KEY].to_list()) == sorted(planted_ids)
    assert dict(zip(quarantine[KEY], quarantine["reason"]))[to_score[0]] == "out_of_range"
    assert dict(zip(quarantine[KEY], quarantine["value"]))[to_score[0]] == 1e308
    quarantine_rate = gates_by_name(stats)["quarantine_rate"]
    assert quarantine_rate.passed and quarantine_rate.metadata["set_aside"] == 6  # 0.15% of the rows: below the 1% limit


def test_a_label_outside_0_1_is_set_aside_not_turned_into_a_customer_to_score(delivered, tmp_path):
    labelled_rows = delivered.with_row_index("row").filter(pl.col(LABEL).is_not_null())["row"].to_list()
    bad = labelled_rows[::3]  # a third of the labelled rows get -5
    stats = build_customers(deliver(tmp_path, with_values(delivered, LABEL, dict.fromkeys(bad, -5.0))), tmp_path / "c", 1)

    assert stats.to_score == NEW  # not 2,000: the -5s are not customers to score
    assert stats.labelled == LABELLED - len(bad) and stats.set_aside == len(bad)
    assert stats.quarantine == [{"column_name": LABEL, "reason": "out_of_range", "rows": len(bad)}]
    failed = gates_by_name(stats)["quarantine_rate"]
    rate = round(len(bad) / (LABELLED + NEW), 6)
    assert not failed.passed and failed.blocking
    assert {k: failed.metadata[k] for k in ("column", "rows", "rate", "set_aside", "set_aside_rate", "limit")} == {
        "column": LABEL, "rows": len(bad), "rate": rate, "set_aside": len(bad), "set_aside_rate": rate, "limit": 0.01}
    assert gates_by_name(stats, max_quarantine_rate=0.3)["quarantine_rate"].passed


def test_a_missing_label_column_is_named(delivered, tmp_path):
    renamed = delivered.rename({LABEL: "engagement"})
    with pytest.raises(ContractError, match=f"missing required column\\(s\\) {LABEL}"):
        build_customers(deliver(tmp_path, renamed), tmp_path / "c", 1)


def test_unknown_value_rate_names_its_worst_column_with_plain_values(delivered, tmp_path):
    every_tenth = pl.int_range(pl.len()) % 10 == 0
    hostile = delivered.with_columns(pl.when(every_tenth).then(pl.lit("Q")).otherwise(pl.col("gender")).alias("gender"),
                                     pl.when(pl.int_range(pl.len()) % 50 == 0).then(pl.lit("mars")).otherwise(pl.col("location"))
                                     .alias("location"))
    stats = build_customers(deliver(tmp_path, hostile), tmp_path / "c", 1)
    failed = gates_by_name(stats)["unknown_value_rate"]
    assert not failed.passed
    assert {k: failed.metadata[k] for k in ("column", "rows", "rate", "columns_over_limit", "limit")} == {
        "column": "gender", "rows": 400, "rate": 0.1, "columns_over_limit": 1, "limit": 0.05}
    assert all(isinstance(v, (int, float, str, bool)) for v in failed.metadata.values())
    assert stats.set_aside == 0  # unknown codes are cast to NULL, not ranges: the rows stay


BOUNDED = Contract(key="id", columns={
    "id": Column("BIGINT", required=True),
    "x": Column("DOUBLE", bounds=(-0.5, 1.0)),
    "n": Column("INTEGER", bounds=(0, 100)),
    "t": Column("INTEGER", bounds=(0, 100)),
    "free": Column("DOUBLE"),
})


def test_engine_bounds_null_and_list_every_value_outside_them(tmp_path):
    landing = deliver(tmp_path, pl.DataFrame({
        "id": range(8), "x": [0.5, 1e308, math.inf, -math.inf, math.nan, None, -1.0, 1.0],
        "n": [1, 2, 300, 4, 5, 6, 7, -1], "t": ["1", "2", "x", "400", "5", None, "7", "100"],
        "free": [1e308, math.inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]}))
    con = duck.connect(1)
    delivery = open_delivery(con, landing, BOUNDED)
    typed = con.sql("SELECT id, x, n, t, free FROM raw_source ORDER BY id").fetchall()
    assert [r[1] for r in typed] == [0.5, None, None, None, None, None, None, 1.0]  # inside, bounds included, or NULL
    assert [r[2] for r in typed] == [1, 2, None, 4, 5, 6, 7, None] and [r[3] for r in typed] == [1, 2, None, None, 5, None, 7, 100]
    assert typed[0][4] == 1e308 and typed[1][4] == math.inf  # a column without bounds is untouched
    listed = con.sql("SELECT id, column_name, reason FROM range_problems ORDER BY id, column_name").fetchall()
    assert listed == [(1, "x", "out_of_range"), (2, "n", "out_of_range"), (2, "x", "infinite"), (3, "t", "out_of_range"),
                      (3, "x", "infinite"), (4, "x", "nan"), (6, "x", "out_of_range"), (7, "n", "out_of_range")]
    assert column_problems(con, BOUNDED, delivery["present"], delivery["coded"]) == [
        {"column_name": "x", "reason": "nan", "rows": 1}, {"column_name": "x", "reason": "infinite", "rows": 2},
        {"column_name": "x", "reason": "out_of_range", "rows": 2}, {"column_name": "n", "reason": "out_of_range", "rows": 2},
        {"column_name": "t", "reason": "not_a_integer", "rows": 1}, {"column_name": "t", "reason": "out_of_range", "rows": 1}]


def test_engine_without_bounds_lists_nothing(tmp_path):
    unbounded = Contract(key="id", columns={"id": Column("BIGINT", required=True), "x": Column("DOUBLE")})
    con = duck.connect(1)
    open_delivery(con, deliver(tmp_path, pl.DataFrame({"id": [1, 2], "x": [1e308, math.inf]})), unbounded)
    assert con.sql("SELECT x FROM raw_source ORDER BY id").fetchall() == [(1e308,), (math.inf,)]
    assert con.execute("SELECT count(*) FROM range_problems").fetchone() == (0,)


@pytest.mark.parametrize("column", [
    lambda: Column("VARCHAR", bounds=(0, 1)), lambda: Column("DOUBLE", bounds=(0, math.inf)),
    lambda: Column("DOUBLE", bounds=(math.nan, 1)), lambda: Column("INTEGER", bounds=(2, 1))])
def test_engine_refuses_bounds_that_are_not_finite_numeric_ranges(column):
    with pytest.raises(ValueError, match="bounds need"):
        column()


def test_range_problems_is_a_table_duckdb_can_join(tmp_path):
    """customers.sql anti-joins range_problems on (source_file, source_row): the types must match raw_source's."""
    con = duck.connect(1)
    open_delivery(con, deliver(tmp_path, pl.DataFrame({"id": [1, 2], "x": [0.0, 9.0], "n": [1, 1], "t": [1, 1],
                                                       "free": [0.0, 0.0]})), BOUNDED)
    kept = con.sql("SELECT id FROM raw_source ANTI JOIN range_problems USING (source_file, source_row)").fetchall()
    assert kept == [(1,)]
