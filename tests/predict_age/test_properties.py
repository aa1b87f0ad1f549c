"""Property tests: whatever raw values arrive, cleaning ends in a classified value or a counted
quarantine reason, and never crashes or loses a row."""

import shutil
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platform_assets.predict_age.logic.source import build_source_snapshot
from platform_assets.predict_age.logic.staging import build_staging_features
from platform_core.storage import SUCCESS_MARKER, current
from tests.conftest import QUARTER

AGE_STATUSES = {"usable", "null", "blank", "unknown_code", "not_a_number", "zero", "out_of_range"}
YEAR_STATUSES = {"usable", "null", "blank", "not_a_year", "zero", "future", "out_of_range"}

raw_text = st.one_of(
    st.none(), st.just(""), st.just("U"), st.integers(-1000, 10000).map(str),
    st.integers(0, 130).map(lambda n: f" {n} "), st.text(max_size=6),
)
optional_ints = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(rows: list[dict]):
    work = Path(tempfile.mkdtemp())
    try:
        landing = work / "landing"
        landing.mkdir()
        pl.DataFrame(rows, schema={"pid": pl.Int64, "approximate_age": pl.String, "birth_year": pl.String,
                                   "gender": pl.String, "household_size": pl.Int64, "state": pl.String}
                     ).write_parquet(landing / "part-00000.parquet")
        (landing / SUCCESS_MARKER).write_text("")
        stats = build_source_snapshot(landing, work / "source", QUARTER.start, 18, 100)
        staged = build_staging_features(current(work / "source"), work / "staging", QUARTER.start, 3)
        snapshot = pl.read_parquet(current(work / "source") / "source_snapshot.parquet")
        return stats, staged, snapshot
    finally:
        shutil.rmtree(work)


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(raw_text, raw_text), min_size=1, max_size=40))
def test_every_age_and_birth_year_is_classified(values):
    rows = [{"pid": i, "approximate_age": a, "birth_year": b} for i, (a, b) in enumerate(values)]
    stats, staged, snapshot = run(rows)
    assert stats.rows_out == len(rows) == staged["rows"]
    assert set(snapshot["approximate_age_status"]) <= AGE_STATUSES
    assert set(snapshot["birth_year_status"]) <= YEAR_STATUSES
    usable = snapshot.filter(pl.col("approximate_age_status") == "usable")["approximate_age"]
    assert usable.is_between(18, 100).all() and usable.len() == stats.usable_approximate_age
    ages = snapshot.filter(pl.col("birth_year_status") == "usable")["birth_year_age"]
    assert ages.is_between(18, 100).all()
    quarantined = sum(q["rows"] for q in stats.quarantine if q["column_name"] == "approximate_age")
    assert quarantined + stats.usable_approximate_age == len(rows)


@PROPERTY_SETTINGS
@given(st.lists(st.fixed_dictionaries({
    "pid": st.integers(0, 30), "approximate_age": raw_text, "birth_year": raw_text,
    "gender": st.one_of(st.none(), st.text(max_size=3)), "household_size": optional_ints,
    "state": st.one_of(st.none(), st.sampled_from(["CA", "ny", " TX ", "ZZ", ""])),
}), min_size=1, max_size=40))
def test_whole_snapshots_never_crash_and_every_row_is_accounted_for(rows):
    stats, staged, _ = run(rows)
    assert stats.rows_out + stats.duplicate_pids == stats.rows_in == len(rows)
    assert stats.rows_out == len({r["pid"] for r in rows}) == staged["rows"]
    assert staged["rows_with_existing_age"] + staged["rows_needing_prediction"] == staged["rows"]
