"""The contract engine cleans coded columns by a lookup of the distinct values a delivery holds;
it must give exactly what the row-by-row expression gives, and count the same problems."""

import polars as pl
import pytest

from platform_core import contract as engine
from platform_core import duck
from platform_core.contract import Column, Contract, column_problems, open_delivery
from platform_core.storage import SUCCESS_MARKER

CONTRACT = Contract(key="id", columns={
    "id": Column("BIGINT", required=True),
    "colour": Column("VARCHAR", allowed=("RED", "GREEN", "O'NEIL")),
    "domain": Column("VARCHAR", allowed=("gmail", "other"), case="lower"),
    "code": Column("VARCHAR", allowed=("1", "2")),
    "size": Column("INTEGER"),
    "name": Column("VARCHAR", text=True),
})
COLOURS = ["RED", "GREEN", " red", "green ", "", "  ", None, "BLUE", "o'neil", "O'NEIL", "'; DROP TABLE x; --", "Ré"]
DOMAINS = ["gmail", "GMAIL", " Other ", "yahoo", None, ""]


def deliver(tmp_path, rows: int = 600) -> None:
    frame = pl.DataFrame({
        "id": range(rows),
        "colour": [COLOURS[i % len(COLOURS)] for i in range(rows)],
        "domain": [DOMAINS[i % len(DOMAINS)] for i in range(rows)],
        "code": [(i % 4) for i in range(rows)],  # delivered as integers: 0 and 3 are unknown codes
        "size": [str(i % 7) if i % 5 else "x" for i in range(rows)],  # text where an integer is expected
        "name": [f" n{i % 3} " for i in range(rows)],
    })
    frame.write_parquet(tmp_path / "part-0.parquet")
    (tmp_path / SUCCESS_MARKER).write_text("")


def cleaned(con) -> pl.DataFrame:
    return con.sql("SELECT * EXCLUDE (source_file) FROM raw_source ORDER BY id").pl()


def clean_with(tmp_path, monkeypatch, max_dirty: int) -> tuple[pl.DataFrame, list[dict], dict]:
    monkeypatch.setattr(engine, "MAX_DIRTY_VALUES", max_dirty)
    con = duck.connect(1)
    delivery = open_delivery(con, tmp_path, CONTRACT)
    return cleaned(con), column_problems(con, CONTRACT, delivery["present"], delivery["coded"]), delivery["coded"]


def test_lookup_cleaning_equals_the_row_by_row_expression(tmp_path, monkeypatch):
    deliver(tmp_path)
    lookup, lookup_problems, coded = clean_with(tmp_path, monkeypatch, 1000)
    generic, generic_problems, fallback = clean_with(tmp_path, monkeypatch, 0)
    assert all(p.dirty is not None for p in coded.values()) and all(p.dirty is None for p in fallback.values())
    assert lookup.equals(generic)
    assert lookup_problems == generic_problems == [
        {"column_name": "colour", "reason": "unknown_category", "rows": 150},  # BLUE, the injection string, Ré
        {"column_name": "domain", "reason": "unknown_category", "rows": 100},  # yahoo
        {"column_name": "code", "reason": "unknown_category", "rows": 300},  # 0 and 3
        {"column_name": "size", "reason": "not_a_integer", "rows": 120},
    ]
    assert lookup["colour"].to_list()[:12] == ["RED", "GREEN", "RED", "GREEN", None, None, None, None, "O'NEIL", "O'NEIL", None, None]
    assert lookup["domain"].to_list()[:6] == ["gmail", "gmail", "other", None, None, None]
    assert lookup["code"].to_list()[:4] == [None, "1", "2", None]
    assert dict(coded["colour"].dirty)[" red"] == "RED" and dict(coded["colour"].dirty)["BLUE"] is None


@pytest.mark.parametrize("problems_without_profile", [True, False])
def test_counts_do_not_depend_on_who_profiles(tmp_path, monkeypatch, problems_without_profile):
    deliver(tmp_path)
    con = duck.connect(1)
    delivery = open_delivery(con, tmp_path, CONTRACT)
    profile = None if problems_without_profile else delivery["coded"]
    assert sum(p["rows"] for p in column_problems(con, CONTRACT, delivery["present"], profile)) == 670
