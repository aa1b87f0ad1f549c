"""Reading Parquet from an S3 API: DuckDB through fsspec (what the platform does) against DuckDB's
own httpfs extension, Polars' object store and local disk, on the same files, in one run.

    python bench/object_storage.py --rows 1000000            (make bench-s3 ROWS=1000000)

A SeaweedFS server is started on 127.0.0.1 for the run and stopped after. httpfs ships on PyPI
only for duckdb 1.5.5 (`duckdb-extension-httpfs`), so it runs in its own virtual environment
(bench/cache/duckdb-1.5.5, created on first use). Each query runs REPEATS times after one warm-up;
medians are reported. Results go to bench/results/<date>-object-storage-<rows>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_assets.predict_age.logic.generator import generate_snapshot  # noqa: E402
from platform_core.periods import Quarter  # noqa: E402
from platform_core.storage import DataLayout  # noqa: E402
from tests.integration.servers import BUCKET, s3_server  # noqa: E402

REPEATS = 5
QUERIES = {  # one column: projection pushdown, few bytes; all columns: the whole files, as a stage reads them
    "one column": "SELECT sum(pid) FROM read_parquet({files})",
    "all columns": "CREATE OR REPLACE TEMP TABLE everything AS SELECT * FROM read_parquet({files})",
}
HTTPFS_VENV = ROOT / "bench" / "cache" / "duckdb-1.5.5"
HTTPFS_CHILD = r"""
import json, os, statistics, sys, time, duckdb, duckdb_extension_httpfs
from pathlib import Path
ext = next(Path(duckdb_extension_httpfs.__file__).parent.rglob("httpfs.duckdb_extension"))
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f"LOAD '{ext}'")
env = os.environ
con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{env['AWS_ACCESS_KEY_ID']}', SECRET '{env['AWS_SECRET_ACCESS_KEY']}', "
            f"REGION '{env['AWS_REGION']}', ENDPOINT '{env['AWS_ENDPOINT_URL'].removeprefix('http://')}', "
            "URL_STYLE 'path', USE_SSL false)")
out = {}
for name, sql in json.loads(sys.argv[1]).items():
    con.execute(sql)
    times = []
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter(); con.execute(sql); times.append(time.perf_counter() - t)
    out[name] = statistics.median(times)
print(json.dumps(out))
"""


def timed(run, repeats: int = REPEATS) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def duckdb_times(files: list[str], fsspec: bool) -> dict[str, float]:
    import duckdb

    from platform_core import duck

    con = duck.connect() if fsspec else duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    return {name: timed(lambda q=q: con.execute(q.format(files=listed))) for name, q in QUERIES.items()}


def polars_times(files: list[str]) -> dict[str, float]:
    import polars as pl

    def one_column():
        pl.scan_parquet(files).select(pl.col("pid").sum()).collect()

    def all_columns():
        pl.scan_parquet(files).collect()

    return {"one column": timed(one_column), "all columns": timed(all_columns)}


def httpfs_times(files: list[str]) -> dict[str, float]:
    python = HTTPFS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "uv", "venv", "-q", "-p", sys.executable, str(HTTPFS_VENV)], check=True)
        subprocess.run([sys.executable, "-m", "uv", "pip", "install", "-q", "--python", str(python),
                        "duckdb==1.5.5", "duckdb-extension-httpfs==1.5.5"], check=True)
    listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    queries = {name: q.format(files=listed) for name, q in QUERIES.items()}
    done = subprocess.run([str(python), "-c", HTTPFS_CHILD, json.dumps(queries), str(REPEATS)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    quarter = Quarter.parse("2025q3")
    with tempfile.TemporaryDirectory() as tmp, s3_server():
        local = DataLayout.at(tmp)
        generate_snapshot(local.landing("bench", quarter), local.truth("bench", quarter), quarter, args.rows,
                          chunk_rows=250_000)
        remote = DataLayout.at(f"s3://{BUCKET}/bench")
        landing = remote.landing("bench", quarter)
        local_files = sorted(local.landing("bench", quarter).glob("*.parquet"))
        for f in local_files:
            landing.fs.put_file(str(f), (landing / f.name).path)
        s3_files = [str(landing / f.name) for f in local_files]
        size_mb = sum(f.stat().st_size for f in local_files) / 1e6
        results = {
            "local disk, DuckDB 2.0": duckdb_times([str(f) for f in local_files], fsspec=False),
            "S3, DuckDB 2.0 + fsspec/s3fs (platform)": duckdb_times(s3_files, fsspec=True),
            "S3, DuckDB 1.5.5 + httpfs": httpfs_times(s3_files),
            "S3, Polars object store": polars_times(s3_files),
        }
    record = {"rows": args.rows, "files": len(local_files), "megabytes": round(size_mb, 1), "repeats": REPEATS,
              "median_seconds": {k: {q: round(v, 3) for q, v in r.items()} for k, r in results.items()},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
              "command": f"python bench/object_storage.py --rows {args.rows}"}
    out = ROOT / "bench" / "results" / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-object-storage-{args.rows}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    base = results["local disk, DuckDB 2.0"]
    print(f"{args.rows:,} rows, {len(local_files)} files, {size_mb:.1f} MB; median of {REPEATS} (s)")
    print(f"{'reader':42} {'one column':>16} {'all columns':>16}")
    for name, r in results.items():
        cells = [f"{r[q]:.3f} ({r[q] / base[q]:.1f}x)" for q in QUERIES]
        print(f"{name:42} {cells[0]:>16} {cells[1]:>16}")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
