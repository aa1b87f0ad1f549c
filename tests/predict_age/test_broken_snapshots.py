"""A corpus of broken snapshots, each with its documented outcome (README, "Data contract and
failure behaviour"): a fatal error naming file and column, or a quarantine with counts and a
failing source check. Built from a valid generated snapshot, one defect at a time."""

import dagster as dg
import polars as pl
import pytest

from platform_assets.predict_age.assets import source_snapshot
from platform_assets.predict_age.config import PredictAgeConfig
from platform_assets.predict_age.logic.generator import generate_chunk
from platform_assets.predict_age.logic.source import build_source_snapshot
from platform_core.contract import ContractError
from platform_core.storage import SUCCESS_MARKER, current
from resources import Warehouse
from tests.conftest import QUARTER

ROWS = 2_000


def valid() -> pl.DataFrame:
    return pl.from_arrow(generate_chunk(QUARTER.start, ROWS, 0, seed=5, pid_start=1)[0])


def deliver(tmp_path, frame: pl.DataFrame | None = None, raw: bytes | None = None):
    landing = tmp_path / "data" / "landing" / "predict_age" / QUARTER.label
    landing.mkdir(parents=True)
    path = landing / "part-00000.parquet"
    if raw is not None:
        path.write_bytes(raw)
    else:
        frame.write_parquet(path)
    (landing / SUCCESS_MARKER).write_text("")
    return landing


def run_source(tmp_path, frame):
    deliver(tmp_path, frame)
    return dg.materialize([source_snapshot], partition_key=QUARTER.partition_key, raise_on_error=False,
                          resources={"warehouse": Warehouse(data_dir=str(tmp_path / "data")), "predict_age": PredictAgeConfig()})


def failed_checks(result):
    return sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)


def quarantine(stats) -> dict:
    return {(q["column_name"], q["reason"]): q["rows"] for q in stats.quarantine}


FATAL = {
    "missing_column": (lambda f: f.drop("birth_year"), r"part-00000\.parquet: missing required column\(s\) birth_year"),
    "pid_as_text": (lambda f: f.with_columns(pl.col("pid").cast(pl.String)), r"column pid must be an integer, found (large_)?string \(first values: \[.1., .2."),
    "null_pid": (lambda f: f.with_columns(pl.when(pl.col("pid") == 5).then(None).otherwise(pl.col("pid")).alias("pid")),
                 r"column pid has 1 NULL"),
    "empty_file": (lambda f: f.head(0), r"the delivery is empty"),
}


@pytest.mark.parametrize("case", sorted(FATAL))
def test_fatal_defects_fail_with_file_and_column(tmp_path, case):
    mutate, message = FATAL[case]
    landing = deliver(tmp_path, mutate(valid()))
    with pytest.raises(ContractError, match=message):
        build_source_snapshot(landing, tmp_path / "out", QUARTER.start, 18, 100)
    assert not (tmp_path / "out").exists()  # nothing half-written


@pytest.mark.parametrize("raw", [b"pid,approximate_age,birth_year\n1,40,\n", "truncated"])
def test_unreadable_files_are_named(tmp_path, raw):
    if raw == "truncated":
        valid().write_parquet(tmp_path / "ok.parquet")
        raw = (tmp_path / "ok.parquet").read_bytes()[:5000]
    landing = deliver(tmp_path, raw=raw)
    with pytest.raises(ContractError, match=r"part-00000\.parquet: unreadable Parquet file"):
        build_source_snapshot(landing, tmp_path / "out", QUARTER.start, 18, 100)


def test_ages_given_as_numbers_are_accepted_and_classified(tmp_path):
    frame = valid().with_columns(pl.col("approximate_age").str.strip_chars().cast(pl.Int64, strict=False))
    stats = build_source_snapshot(deliver(tmp_path, frame), tmp_path / "out", QUARTER.start, 18, 100)
    assert stats.usable_approximate_age > 0 and stats.rows_out == ROWS


def test_extreme_ages_future_years_and_unicode_junk_are_quarantined(tmp_path):
    frame = valid().with_columns(
        pl.Series("approximate_age", ["-1", "0", "200", "４５", "🙂"] * (ROWS // 5)),
        pl.Series("birth_year", ["2031", "2999", "１９７８", "19x5", "1978"] * (ROWS // 5)),
        pl.Series("gender", ["Ж", "M", "F", "", "🙂"] * (ROWS // 5)),
        pl.Series("first_name", ["Zoë", "🙂", "  mary ", "", "JOSÉ"] * (ROWS // 5)),
    )
    stats = build_source_snapshot(deliver(tmp_path, frame), tmp_path / "out", QUARTER.start, 18, 100)
    q = quarantine(stats)
    n = ROWS // 5
    assert q[("approximate_age", "out_of_range")] == 2 * n and q[("approximate_age", "zero")] == n
    assert q[("approximate_age", "not_a_number")] == 2 * n
    assert q[("birth_year", "future")] == 2 * n and q[("birth_year", "not_a_year")] == 2 * n
    assert q[("gender", "unknown_category")] == 2 * n
    assert stats.usable_approximate_age == 0 and stats.usable_birth_year == n and stats.rows_out == ROWS
    names = pl.read_parquet(current(tmp_path / "out") / "source_snapshot.parquet")["first_name"].unique().to_list()
    assert {"ZOË", "MARY", "JOSÉ", "🙂", None} == set(names)


def test_non_numbers_in_numeric_columns_are_counted(tmp_path):
    frame = valid().with_columns(pl.Series("household_size", ["two", "3"] * (ROWS // 2)))
    stats = build_source_snapshot(deliver(tmp_path, frame), tmp_path / "out", QUARTER.start, 18, 100)
    assert quarantine(stats)[("household_size", "not_a_integer")] == ROWS // 2


def test_extra_columns_are_listed_and_ignored(tmp_path):
    frame = valid().with_columns(pl.lit("x").alias("loyalty_tier"))
    stats = build_source_snapshot(deliver(tmp_path, frame), tmp_path / "out", QUARTER.start, 18, 100)
    assert stats.extra_columns == ["loyalty_tier"]
    assert "loyalty_tier" not in pl.read_parquet(current(tmp_path / "out") / "source_snapshot.parquet").columns


def test_all_null_ages_fail_the_usable_age_check(tmp_path):
    frame = valid().with_columns(pl.lit(None, pl.String).alias("approximate_age"), pl.lit(None, pl.String).alias("birth_year"))
    result = run_source(tmp_path, frame)
    assert failed_checks(result) == ["usable_age_rate"] and not result.success


def test_duplicate_pids_above_the_rate_fail_and_are_counted(tmp_path):
    frame = valid()
    frame = pl.concat([frame, frame.head(100)])  # 100 duplicate pids: 4.8% > 1%
    result = run_source(tmp_path, frame)
    assert failed_checks(result) == ["duplicate_pid_rate"]
    meta = next(e for e in result.get_asset_check_evaluations() if e.check_name == "duplicate_pid_rate").metadata
    assert meta["duplicate_pids"].value == 100
    assert "part-00000.parquet" in meta["sample"].value  # names the file and rows of the duplicates


def test_a_column_full_of_unknown_codes_fails_the_unknown_value_check(tmp_path):
    frame = valid().with_columns(pl.lit("Q").alias("marital_status"))
    result = run_source(tmp_path, frame)
    assert failed_checks(result) == ["unknown_value_rate"]


def test_a_format_change_in_one_age_column_fails_even_when_birth_years_are_fine(tmp_path):
    frame = valid().with_columns(("x" + pl.col("approximate_age")).alias("approximate_age"))  # every age unusable
    stats = build_source_snapshot(deliver(tmp_path / "a", frame), tmp_path / "out", QUARTER.start, 18, 100)
    assert stats.usable_approximate_age == 0 and stats.usable_birth_year > 0.05 * ROWS
    result = run_source(tmp_path / "b", frame)
    assert failed_checks(result) == ["usable_age_rate"] and not result.success
    gate = next(e for e in result.get_asset_check_evaluations() if e.check_name == "usable_age_rate")
    assert "| approximate_age | 0.0 |" in gate.metadata["columns"].value


def test_integral_decimals_are_ages_and_fractions_are_not(tmp_path):
    frame = valid().head(4).with_columns(pl.Series("approximate_age", ["45.0", "45.00", "45.5", "45"]),
                                         pl.Series("birth_year", ["1978.0", "1978.5", "", ""]))
    build_source_snapshot(deliver(tmp_path, frame), tmp_path / "out", QUARTER.start, 18, 100)
    rows = pl.read_parquet(current(tmp_path / "out") / "source_snapshot.parquet").sort("pid")
    assert rows["approximate_age"].to_list() == [45, 45, None, 45]
    assert rows["approximate_age_status"].to_list() == ["usable", "usable", "not_a_number", "usable"]
    assert rows["birth_year"].to_list()[:2] == [1978, None]
