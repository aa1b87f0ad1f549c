"""readmission's gold stage: a month's `feature_store` and `label_store`, from its silver table.

feature_store: KEYS + NUMERIC_FEATURES + CATEGORICAL_FEATURES (schema.py), no label, so nothing
that scores or monitors can read the target by accident. label_store: KEYS + readmitted_30d
(0/1), only encounters whose `readmitted` is known. Both are joined on encounter_id; each is
written as one atomic version of `warehouse/readmission/<table>/<YYYY-MM>/<table>.parquet`. A month
whose silver table was set aside is set aside in both (silver.set_aside, with the same reason), so
an older version of its gold is never read as current.
"""

from __future__ import annotations

from datetime import date

from platform_assets.readmission.logic.schema import JOB, LABEL
from platform_assets.readmission.logic.silver import SILVER, chapter_counts, month_of, set_aside, set_aside_reason
from platform_core import duck
from platform_core.periods import month_label
from platform_core.storage import DataLayout, atomic_dir, current

FEATURE_STORE = "feature_store"
LABEL_STORE = "label_store"


def _silver(layout: DataLayout, label: str, threads: int | None):
    con = duck.connect(threads)
    duck.view(con, SILVER, current(layout.table(JOB, SILVER, label)) / "encounters.parquet")
    return con


def _carried_set_aside(layout: DataLayout, table: str, label: str) -> dict | None:
    """The figures of a month whose silver was set aside, after setting it aside in `table`."""
    reason = set_aside_reason(layout, SILVER, label)
    if reason is None:
        return None
    set_aside(layout, table, label, reason)
    return {"month": label, "rows": 0, "positives": 0, "set_aside": reason}


def build_feature_store(layout: DataLayout, month: str | date, threads: int | None = None) -> dict:
    """Write the month's feature store; figures: rows, NULLs per column (only columns with any),
    encounters per diagnosis chapter ('unknown' = NULL chapter) and unknown chapters per column."""
    label = month_label(month_of(month))
    carried = _carried_set_aside(layout, FEATURE_STORE, label)
    if carried:
        return carried
    con = _silver(layout, label, threads)
    with atomic_dir(layout.table(JOB, FEATURE_STORE, label)) as tmp:
        target = tmp / f"{FEATURE_STORE}.parquet"
        duck.copy_to_parquet(con, duck.load_sql(JOB, FEATURE_STORE), None, target)
        duck.view(con, "chapters", target)
        cur = con.execute("SELECT count(*), count(*) - count(COLUMNS(*)) FROM chapters")
        names = [d[0] for d in cur.description][1:]
        rows, *nulls = cur.fetchone()
        chapters = chapter_counts(con)
    con.close()
    return {
        "month": label,
        "rows": rows,
        "null_counts": {name: n for name, n in zip(names, nulls) if n},
        "chapters": chapters,
        "unknown_codes": {column: counts.get("unknown", 0) for column, counts in chapters.items()},
    }


def build_label_store(layout: DataLayout, month: str | date, threads: int | None = None) -> dict:
    """Write the month's label store; figures: rows, positives, rate, encounters without a label."""
    label = month_label(month_of(month))
    carried = _carried_set_aside(layout, LABEL_STORE, label)
    if carried:
        return carried
    con = _silver(layout, label, threads)
    with atomic_dir(layout.table(JOB, LABEL_STORE, label)) as tmp:
        target = tmp / f"{LABEL_STORE}.parquet"
        duck.copy_to_parquet(con, duck.load_sql(JOB, LABEL_STORE), None, target)
        rows, positives = con.execute(f"SELECT count(*), coalesce(sum({LABEL}), 0) FROM {duck.parquet_source(target)}").fetchone()
        unlabelled = con.execute(f"SELECT count(*) FILTER (WHERE readmitted IS NULL) FROM {SILVER}").fetchone()[0]
    con.close()
    return {"month": label, "rows": rows, "positives": int(positives), "label_rate": positives / rows if rows else None,
            "without_label": unlabelled}
