"""`make query SQL="..."`: read-only SQL over the catalog's views, on local disk or object storage.

    make query SQL="SELECT prediction_source, count(*) FROM predict_age_final_results_2025q3 GROUP BY 1"
    make query SQL_FILE=report.sql          (any size, several lines)
    ... | make query SQL_FILE=-             (standard input)

Read-only in fact, not by convention: the catalog is opened read-only (from a local copy when it
lives in S3); only SELECT-shaped statements run (SELECT, FROM, WITH, VALUES, DESCRIBE, SHOW,
SUMMARIZE, EXPLAIN), each checked before any runs; files outside the data root cannot be read;
and the configuration is locked, so no statement can lift these limits. A running pipeline can
still replace its views meanwhile.
"""

from __future__ import annotations

import argparse
import os
import sys

import duckdb

from platform_core import duck
from platform_core.storage import DataLayout

ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


class QueryRefused(ValueError):
    pass


def lock_down(con: duckdb.DuckDBPyConnection, data_roots: list[str]) -> None:
    """Reads only under the data root, no extensions, no network, and no way to undo it."""
    con.execute("SET allowed_directories = ?", [[r.rstrip("/") + "/" for r in data_roots]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def checked_statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """Every statement of `sql`, refused whole if any is not a read (COPY, ATTACH, INSTALL, SET, ...)."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"the SQL does not parse: {str(exc).splitlines()[0]}") from None
    if not statements:
        raise QueryRefused("the SQL is empty: give a SELECT over the catalog's views")
    for i, statement in enumerate(statements, 1):
        if statement.type not in ALLOWED:
            kind = statement.type.name.replace("_STATEMENT", "")
            raise QueryRefused(f"statement {i} of {len(statements)} is {kind}, which make query refuses: the catalog is "
                               "read-only, and only SELECT, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN run; nothing was run")
    return [s.query for s in statements]


def run(con: duckdb.DuckDBPyConnection, sql: str, data_roots: list[str]) -> None:
    statements = checked_statements(con, sql)
    lock_down(con, data_roots)
    for statement in statements:
        con.sql(statement).show(max_rows=100)


def read_sql(args: argparse.Namespace) -> str:
    if args.sql_file == "-":
        return sys.stdin.read()
    if args.sql_file:
        with open(args.sql_file, encoding="utf-8", errors="replace") as f:
            return f.read()
    return args.sql or ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sql", nargs="?", help="a query over the catalog's views")
    parser.add_argument("--sql-file", help="a file holding the query; - reads standard input")
    parser.add_argument("--data-dir", default=os.getenv("PLATFORM_DATA_DIR", "data"))
    args = parser.parse_args(argv)
    layout = DataLayout.at(args.data_dir)
    catalog = layout.catalog
    try:
        sql = read_sql(args)
    except OSError as exc:
        print(f"query: cannot read the SQL file {args.sql_file}: {exc.strerror}; give a readable file or SQL=\"...\"",
              file=sys.stderr)
        return 2
    if not catalog.exists():
        print(f"query: no catalog at {catalog} yet: run a job first (make run)", file=sys.stderr)
        return 1
    roots = sorted({str(layout.root), os.path.abspath(args.data_dir)} if "://" not in str(layout.root) else {str(layout.root)})
    with duck.read_catalog(catalog) as con:
        try:
            run(con, sql, roots)
        except QueryRefused as exc:
            print(f"query: {exc}.", file=sys.stderr)
            return 2
        except duckdb.Error as exc:
            views = sorted(name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall())
            print(f"query: {str(exc).splitlines()[0]}\nviews in {catalog}: {', '.join(views) or 'none'}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
