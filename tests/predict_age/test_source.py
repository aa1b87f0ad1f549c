"""The source contract: fatal problems name file and column; row problems are classified."""

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from platform_assets.predict_age.logic.source import build_source_snapshot
from platform_core.contract import ContractError
from platform_core.periods import Quarter
from platform_core.storage import current

Q = Quarter.parse("2025q3")


def deliver(landing, table: pa.Table, name="part-00000.parquet", marker=True):
    landing.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, landing / name)
    if marker:
        (landing / "_SUCCESS").write_text("")
    return landing


def raw(pids, ages, years, **extra):
    return pa.table({"pid": pa.array(pids, pa.int64()), "approximate_age": pa.array(ages, pa.string()),
                     "birth_year": pa.array(years, pa.string()), **extra})


def snapshot_rows(tmp_path):
    con = duckdb.connect()
    return {r[0]: r[1:] for r in con.execute(
        f"SELECT pid, approximate_age, approximate_age_status, birth_year, birth_year_status, birth_year_age "
        f"FROM '{current(tmp_path / 'out')}/source_snapshot.parquet'").fetchall()}


def test_ages_and_birth_years_are_classified_never_dropped(tmp_path):
    ages = ["47", " 52", "", "U", "0", "00", "120", "abc", None, "-1", "7", "200"]
    years = ["1978", "", "0", "0000", "2031", "19x5", "1890", None, "1978", "2010", "1925", "1924"]
    land = deliver(tmp_path / "landing", raw(list(range(1, 13)), ages, years))
    stats = build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)
    assert (stats.rows_in, stats.rows_out, stats.duplicate_pids) == (12, 12, 0)
    rows = snapshot_rows(tmp_path)
    assert rows[1] == (47, "usable", 1978, "usable", 47)  # 2025 - 1978 at 2025-07-01
    assert rows[2][:2] == (52, "usable")
    assert [rows[i][1] for i in range(3, 13)] == [
        "blank", "unknown_code", "zero", "zero", "out_of_range", "not_a_number", "null", "out_of_range",
        "out_of_range", "out_of_range"]
    assert [rows[i][3] for i in range(2, 13)] == [
        "blank", "zero", "zero", "future", "not_a_year", "out_of_range", "null", "usable", "out_of_range",
        "usable", "out_of_range"]
    assert rows[11][4] == 100 and rows[12][4] is None  # 2025 - 1925 = 100 is in bounds, 101 is not
    reasons = {(q["column_name"], q["reason"]): q["rows"] for q in stats.quarantine}
    assert reasons[("approximate_age", "out_of_range")] == 4
    assert sum(v for (c, _), v in reasons.items() if c == "approximate_age") == 10


def test_birth_year_age_depends_on_the_quarter(tmp_path):
    land = deliver(tmp_path / "landing", raw([1], [""], ["1978"]))
    build_source_snapshot(land, tmp_path / "out", Quarter.parse("2025q1").start, 18, 100)
    assert snapshot_rows(tmp_path)[1][4] == 46  # on 2025-01-01 nobody born in 1978 has had a birthday


def test_duplicate_pids_are_quarantined_with_a_count(tmp_path):
    land = deliver(tmp_path / "landing", raw([1, 2, 2, 3, 3, 3], ["40"] * 6, [""] * 6))
    stats = build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)
    assert (stats.rows_in, stats.rows_out, stats.duplicate_pids) == (6, 3, 3)
    assert {"column_name": "pid", "reason": "duplicate", "rows": 3} in stats.quarantine
    dupes = duckdb.connect().execute(f"SELECT count(*) FROM '{current(tmp_path / 'out')}/duplicate_pids.parquet'").fetchone()[0]
    assert dupes == 3


def test_the_first_row_of_a_duplicate_pid_is_kept_by_file_then_row(tmp_path):
    land = deliver(tmp_path / "landing", raw([7, 1, 7], ["41", "50", "42"], ["", "", ""]), marker=False)
    deliver(land, raw([7, 2], ["43", "60"], ["", ""]), name="part-00001.parquet")
    stats = build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)
    assert (stats.rows_out, stats.duplicate_pids) == (3, 2)
    assert {pid: row[0] for pid, row in snapshot_rows(tmp_path).items()} == {7: 41, 1: 50, 2: 60}
    later = duckdb.connect().execute(f"SELECT pid, parse_filename(source_file), source_row FROM "
                                     f"'{current(tmp_path / 'out')}/duplicate_pids.parquet' ORDER BY ALL").fetchall()
    assert later == [(7, "part-00000.parquet", 2), (7, "part-00001.parquet", 0)]


def test_missing_required_column_names_file_and_column(tmp_path):
    land = deliver(tmp_path / "landing", pa.table({"pid": [1], "approximate_age": ["40"]}))
    with pytest.raises(ContractError, match=r"part-00000\.parquet: missing required column\(s\) birth_year"):
        build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)
    assert not (tmp_path / "out").exists()


def test_string_pid_is_refused_with_sample_values(tmp_path):
    land = deliver(tmp_path / "landing", pa.table({"pid": ["x1"], "approximate_age": ["40"], "birth_year": [""]}))
    with pytest.raises(ContractError, match=r"column pid must be an integer.*x1"):
        build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)


def test_null_pid_is_refused(tmp_path):
    land = deliver(tmp_path / "landing", raw([1, None], ["40", "41"], ["", ""]))
    with pytest.raises(ContractError, match=r"column pid has 1 NULL"):
        build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)


def test_incomplete_delivery_and_empty_snapshot_are_refused(tmp_path):
    land = deliver(tmp_path / "a", raw([1], ["40"], [""]), marker=False)
    with pytest.raises(ContractError, match="delivery incomplete"):
        build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)
    land = deliver(tmp_path / "b", raw([], [], []))
    with pytest.raises(ContractError, match="delivery is empty"):
        build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)


def test_unreadable_file_is_named(tmp_path):
    land = tmp_path / "landing"
    land.mkdir()
    (land / "part-00000.parquet").write_text("pid,approximate_age\n1,40\n")
    (land / "_SUCCESS").write_text("")
    with pytest.raises(ContractError, match=r"part-00000\.parquet: unreadable Parquet file"):
        build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)


def test_extra_and_absent_optional_columns_are_reported(tmp_path):
    land = deliver(tmp_path / "landing", raw([1], ["40"], [""], favourite_colour=["red"]))
    stats = build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)
    assert stats.extra_columns == ["favourite_colour"]
    assert "first_name" in stats.absent_optional_columns and "pid" not in stats.absent_optional_columns


def test_a_pid_beyond_signed_64_bits_is_out_of_range_not_null(tmp_path):
    table = pa.table({"pid": pa.array([1, 2**63 + 5], pa.uint64()), "approximate_age": ["40", "41"], "birth_year": ["", ""]})
    land = deliver(tmp_path / "landing", table)
    with pytest.raises(ContractError, match=r"column pid has 1 value\(s\) out of range for BIGINT \(e.g. 9223372036854775813\)"):
        build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100)


def test_hidden_and_underscore_files_are_not_data(tmp_path):
    land = deliver(tmp_path / "landing", raw([1, 2], ["40", "41"], ["", ""]))
    pq.write_table(raw([3], ["50"], [""]), land / ".part-00001.parquet")  # a writer's temporary
    (land / "_tmp.parquet").write_text("not parquet at all")
    assert build_source_snapshot(land, tmp_path / "out", Q.start, 18, 100).rows_in == 2
