"""ICD-9 diagnosis codes grouped into the chapters the readmission literature uses.

The mapping lives once, as DuckDB macros in sql/readmission/icd9_chapter.sql (the silver table
applies it in SQL); this module installs them and maps codes from Python with the same macros.
"""

from __future__ import annotations

import duckdb

from platform_assets.readmission.logic.schema import JOB
from platform_core import duck

CHAPTERS = ["circulatory", "respiratory", "digestive", "diabetes", "injury", "musculoskeletal", "genitourinary",
            "neoplasms", "other"]


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Define icd9_status(code) ('ok' | 'unknown' | 'unparseable') and icd9_chapter(code) on `con`."""
    con.execute(duck.load_sql(JOB, "icd9_chapter"))


def chapters(codes: list[str | None]) -> list[tuple[str, str | None]]:
    """(status, chapter) of each code, in order."""
    con = duckdb.connect(":memory:")
    install(con)
    result = con.execute("SELECT icd9_status(code), icd9_chapter(code) FROM unnest($codes) WITH ORDINALITY AS t(code, i) "
                         "ORDER BY i", {"codes": list(codes)}).fetchall()
    con.close()
    return [tuple(row) for row in result]
