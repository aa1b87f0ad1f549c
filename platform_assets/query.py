"""`make query SQL="..."`: run SQL against the catalog's views, on local disk or object storage.

    make query SQL="SELECT prediction_source, count(*) FROM predict_age_final_results_2025q3 GROUP BY 1"

The catalog is opened read-only (from a local copy when it lives in S3), so a running pipeline
can still replace its views.
"""

from __future__ import annotations

import argparse
import os
import sys

import duckdb

from platform_core import duck
from platform_core.storage import DataLayout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sql", help="a query over the catalog's views")
    parser.add_argument("--data-dir", default=os.getenv("PLATFORM_DATA_DIR", "data"))
    args = parser.parse_args(argv)
    catalog = DataLayout.at(args.data_dir).catalog
    if not catalog.exists():
        print(f"query: no catalog at {catalog} yet: run a job first (make run)", file=sys.stderr)
        return 1
    with duck.read_catalog(catalog) as con:
        try:
            con.sql(args.sql).show(max_rows=100)
        except duckdb.Error as exc:
            views = sorted(name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall())
            print(f"query: {str(exc).splitlines()[0]}\nviews in {catalog}: {', '.join(views) or 'none'}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
