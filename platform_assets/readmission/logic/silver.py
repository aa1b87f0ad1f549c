"""readmission's silver stage: one month's delivery typed and cleaned (`encounters_silver`).

Writes, in one atomic version of `warehouse/readmission/encounters_silver/<YYYY-MM>/`:
`encounters.parquet` (one row per encounter_id; sql/readmission/silver.sql), `quarantine.parquet`
(per column and reason the values set to NULL and the rows set aside, with an example value and
file) and `rejected.parquet` (the rows set aside: encounter_id, source_file, source_row, reason).
A delivery in which one column's problems exceed `max_problem_share` of the rows is refused with
a ContractError naming the file, column and an example value, and nothing is written.

In a range of history months one refused month must not stop the others (`build_or_set_aside`):
it is set aside instead, as a version of its silver table that holds only `set_aside.json` (the
month and why), carried to the gold tables, so training and the prerequisite gates see it as a
month without data that is named, never as a silent gap; its delivery is left untouched. A later
delivery that reads replaces the marker with data.
"""

from __future__ import annotations

import json
from datetime import date

from platform_assets.readmission.logic.schema import JOB
from platform_assets.readmission.logic.source import delivery_problems, one_line, open_month, sql_params
from platform_core import duck
from platform_core.contract import ContractError
from platform_core.periods import month_label, parse_month
from platform_core.storage import DataLayout, atomic_dir, current, read_json

SILVER = "encounters_silver"
SET_ASIDE = "set_aside.json"
# Reasons that are errors upstream. All are counted; all but unparseable_icd9 (the code is kept, only
# its chapter is unknown) refuse the delivery above `max_problem_share` of its rows in one column.
PROBLEMS = ("not_allowed", "out_of_range", "unparseable_icd9", "not_a_integer", "not_a_date", "date_outside_month",
            "missing_date", "missing_patient", "duplicate")
KEPT_AS_DELIVERED = ("unparseable_icd9",)


def month_of(month: str | date) -> date:
    """A month given as a date, `YYYY-MM` or its partition key `YYYY-MM-01`."""
    return month if isinstance(month, date) else parse_month(month)


def build_silver(layout: DataLayout, month: str | date, threads: int | None = None,
                 max_problem_share: float = 0.05) -> dict:
    """Type and clean `landing/readmission/<month>/` into `encounters_silver/<month>/`. Returns the
    figures: rows_in, rows_out, rows set aside by reason, unknown ('?') values per column, problems
    (quarantine rows), chapter counts and unparseable codes per diagnosis column."""
    first = month_of(month)
    label = month_label(first)
    con = duck.connect(threads)
    delivery = open_month(con, layout.landing(JOB, label), first)
    problems = delivery_problems(con)
    rows_in = delivery["rows_in"]
    for problem in problems:
        refusable = problem["reason"] in PROBLEMS and problem["reason"] not in KEPT_AS_DELIVERED
        if refusable and problem["rows"] > max_problem_share * rows_in:
            example = "all empty" if problem["example_value"] is None else f"e.g. {problem['example_value']!r}"
            raise ContractError(
                f"{problem['example_file']}: column {problem['column_name']} has {problem['rows']:,} of {rows_in:,} rows "
                f"{problem['reason']} ({example}); more than {max_problem_share:.0%} is refused")
    params = sql_params()
    with atomic_dir(layout.table(JOB, SILVER, label)) as tmp:
        duck.copy_to_parquet(con, duck.load_sql(JOB, "silver"),
                             {k: params[k] for k in ("allowed", "unknown", "ranges", "medications", "medication_values")},
                             tmp / "encounters.parquet")
        duck.copy_to_parquet(con, "SELECT encounter_id, source_file, source_row, reject_reason AS reason FROM screened "
                                  "WHERE reject_reason IS NOT NULL ORDER BY source_file, source_row",
                             None, tmp / "rejected.parquet")
        con.execute("CREATE TEMP TABLE quarantine (column_name VARCHAR, reason VARCHAR, rows BIGINT, "
                    "example_value VARCHAR, example_file VARCHAR)")
        con.executemany("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?)",
                        [[p["column_name"], p["reason"], p["rows"], p["example_value"], p["example_file"]] for p in problems])
        duck.copy_to_parquet(con, "SELECT * FROM quarantine", None, tmp / "quarantine.parquet")
        duck.view(con, "chapters", tmp / "encounters.parquet")
        rows_out = con.execute("SELECT count(*) FROM chapters").fetchone()[0]
        chapters = chapter_counts(con)
    con.close()
    rejected = {p["reason"]: p["rows"] for p in problems if p["reason"] in ("date_outside_month", "missing_date",
                                                                             "missing_patient", "duplicate")}
    return {
        "month": label,
        "files": delivery["files"],
        "extra_columns": delivery["extra"],
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_set_aside": rejected,
        "duplicates": rejected.get("duplicate", 0),
        "unknown_values": {p["column_name"]: p["rows"] for p in problems if p["reason"] == "unknown"},
        "unparseable_codes": {p["column_name"]: p["rows"] for p in problems if p["reason"] == "unparseable_icd9"},
        "problems": [p for p in problems if p["reason"] in PROBLEMS],
        "quarantine": problems,
        "chapters": chapters,
    }


def set_aside(layout: DataLayout, table: str, month: str, reason: str) -> None:
    """Make a month of `table` a version holding only SET_ASIDE: no data, and why."""
    with atomic_dir(layout.table(JOB, table, month)) as tmp:
        (tmp / SET_ASIDE).write_text(json.dumps({"month": month, "reason": reason}) + "\n")


def set_aside_reason(layout: DataLayout, table: str, month: str) -> str | None:
    """Why a month of `table` was set aside, or None when it was not (or was never built)."""
    directory = layout.table(JOB, table, month)
    marker = current(directory) / SET_ASIDE if directory.exists() else None
    return read_json(marker)["reason"] if marker is not None and marker.exists() else None


def build_or_set_aside(layout: DataLayout, month: str | date, threads: int | None = None) -> dict:
    """build_silver's figures, or, for a delivery it refuses, the month set aside:
    {month, set_aside: the refusal, one line naming the file}."""
    label = month_label(month_of(month))
    try:
        return {**build_silver(layout, label, threads), "set_aside": None}
    except ContractError as refused:
        reason = one_line(refused)
        set_aside(layout, SILVER, label, reason)
        return {"month": label, "set_aside": reason}


def chapter_counts(con) -> dict[str, dict[str, int]]:
    """Encounters per diagnosis column and chapter ('unknown': NULL chapter) of the view `chapters`."""
    out: dict[str, dict[str, int]] = {}
    for row in duck.query(con, JOB, "chapter_counts"):
        out.setdefault(row["column_name"], {})[row["chapter"]] = row["rows"]
    return out
