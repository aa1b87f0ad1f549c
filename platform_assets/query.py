"""`make query SQL="..."`: run SQL against the catalog's views, on local disk or object storage.

    make query SQL="SELECT prediction_source, count(*) FROM predict_age_final_results_2025q3 GROUP BY 1"

The catalog is opened read-only (from a local copy when it lives in S3), so a running pipeline
can still replace its views.
"""

from __future__ import annotations

import argparse
import os
import sys

from platform_core import duck
from platform_core.storage import DataLayout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sql", help="a query over the catalog's views")
    parser.add_argument("--data-dir", default=os.getenv("PLATFORM_DATA_DIR", "data"))
    args = parser.parse_args(argv)
    with duck.read_catalog(DataLayout.at(args.data_dir).catalog) as con:
        con.sql(args.sql).show(max_rows=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
