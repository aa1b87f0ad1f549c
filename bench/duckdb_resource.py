"""dagster-duckdb's `DuckDBResource` against the platform's own connections (`platform_core/duck.py`),
side by side in one run: the settings each connection carries, the time to open one, the same
aggregation over a Parquet file, and whether the catalog's reader can write.

    .venv/bin/python bench/duckdb_resource.py --rows 10000000 --repeats 3

Issue #25 asks the warehouse's connections to be built on `DuckDBResource` unless a measured
reason says otherwise; this is the measurement (results in BENCHMARKS.md, "DuckDBResource").
Writes JSON to bench/results/<stamp>-duckdb-resource.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_core import duck  # noqa: E402

SETTINGS = ("memory_limit", "threads", "temp_directory", "preserve_insertion_order")
QUERY = "SELECT k % 1000 AS g, count(*) AS n, round(avg(v), 9) AS mean FROM read_parquet(?) GROUP BY g ORDER BY g"


def settings(con: duckdb.DuckDBPyConnection) -> dict:
    return {name: str(con.execute(f"SELECT current_setting('{name}')").fetchone()[0]) for name in SETTINGS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--opens", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "facts.parquet"
        duckdb.execute(f"COPY (SELECT i AS k, random() AS v FROM range({args.rows}) t(i)) TO '{data}' (FORMAT parquet)")
        platform = duck.connect(2)
        config = {**settings(platform), "threads": 2, "preserve_insertion_order": False,
                  "memory_limit": os.getenv("PLATFORM_DUCKDB_MEMORY_LIMIT", "4GB")}  # as set, not as displayed
        platform.close()
        from dagster_duckdb import DuckDBResource

        resource = DuckDBResource(database=":memory:", connection_config=config)
        opened = {}
        for name, open_one in (("platform_core.duck.connect", lambda: duck.connect(2)),
                               ("DuckDBResource.get_connection", None)):
            start = time.perf_counter()
            for _ in range(args.opens):
                if open_one:
                    open_one().close()
                else:
                    with resource.get_connection():
                        pass
            opened[name] = round((time.perf_counter() - start) / args.opens * 1000, 3)

        seconds: dict[str, list[float]] = {"platform_core.duck.connect": [], "DuckDBResource.get_connection": []}
        carried = {}
        for _ in range(args.repeats):  # interleaved, so a change of load falls on both alike
            con = duck.connect(2)
            carried["platform_core.duck.connect"] = settings(con)
            start = time.perf_counter()
            platform_rows = con.execute(QUERY, [str(data)]).fetchall()
            seconds["platform_core.duck.connect"].append(round(time.perf_counter() - start, 3))
            con.close()
            with resource.get_connection() as con:
                carried["DuckDBResource.get_connection"] = settings(con)
                start = time.perf_counter()
                resource_rows = con.execute(QUERY, [str(data)]).fetchall()
                seconds["DuckDBResource.get_connection"].append(round(time.perf_counter() - start, 3))
            assert resource_rows == platform_rows

        catalog = Path(tmp) / "catalog.duckdb"
        duck.publish_views(catalog, {"facts": data})

        writes = {}
        with DuckDBResource(database=str(catalog)).get_connection() as con:
            try:
                con.execute("CREATE TABLE written_by_a_reader AS SELECT 1 AS x")
                writes["DuckDBResource.get_connection"] = "wrote a table into the catalog"
            except duckdb.Error as exc:
                writes["DuckDBResource.get_connection"] = f"refused: {type(exc).__name__}"
        with duck.read_catalog(catalog) as con:
            try:
                con.execute("CREATE TABLE written_by_a_reader_2 AS SELECT 1 AS x")
                writes["platform_core.duck.read_catalog"] = "wrote a table into the catalog"
            except duckdb.Error as exc:
                writes["platform_core.duck.read_catalog"] = f"refused: {type(exc).__name__}"

    report = {"command": " ".join(["python", *sys.argv]), "machine": f"{os.cpu_count()} cores", "rows": args.rows,
              "duckdb": duckdb.__version__, "settings": carried, "open_ms": opened, "query_seconds": seconds,
              "catalog_reader_writes": writes, "load_average_after": [round(v, 2) for v in os.getloadavg()]}
    out = ROOT / "bench" / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}-duckdb-resource.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
