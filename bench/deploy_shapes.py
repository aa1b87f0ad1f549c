"""One quarter, two deployment shapes, one run: `local` (disk + SQLite) against `s3` (SeaweedFS's
S3 API + PostgreSQL, both started on 127.0.0.1 for the run). Each shape runs
`python -m platform_assets.run` exactly as `make run` does, with only the environment
changed (PLATFORM_ENV, PLATFORM_DATA_DIR, DAGSTER_HOME, DAGSTER_PG_URL, PLATFORM_LOG_BUCKET).

    python bench/deploy_shapes.py --rows 1000000             (make bench-shapes ROWS=1000000)

Reported per shape: generation of the snapshot, then the pipeline (prepare, every batch, publish)
as `make run` measured it. Results go to bench/results/<date>-shapes-<rows>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.servers import BUCKET, new_database, postgres_server, s3_server  # noqa: E402


def run_shape(shape: str, rows: int, env: dict) -> dict:
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True)
    shutil.copy(ROOT / ("dagster.yaml" if shape == "local" else f"deploy/{shape}/dagster.yaml"), home / "dagster.yaml")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "platform_assets.run", "--job", "predict_age", "--partition", "2025q3", "--rows", str(rows)],
                          cwd=ROOT, env={**env, "PLATFORM_ENV": shape, "PLATFORM_SENSORS": "off"},
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{shape}: {done.stdout}\n{done.stderr}")
    generated = float(re.search(r"-> \S+ in ([0-9.]+)s", done.stdout).group(1))
    pipeline = float(re.search(r"end to end \(wall, incl. Dagster runs\)\s+([0-9.]+)", done.stdout).group(1))
    return {"wall_s": round(wall, 1), "generate_s": generated, "pipeline_s": pipeline,
            "summary": done.stdout.splitlines()[:12]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as pg, s3_server():
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_", "DAGSTER_"))}
        results["local"] = run_shape("local", args.rows, {
            **base, "PLATFORM_DATA_DIR": f"{tmp}/data", "DAGSTER_HOME": f"{tmp}/home-local"})
        results["s3"] = run_shape("s3", args.rows, {
            **base, "PLATFORM_DATA_DIR": f"s3://{BUCKET}/shapes", "DAGSTER_HOME": f"{tmp}/home-s3",
            "DAGSTER_PG_URL": new_database(pg), "PLATFORM_LOG_BUCKET": BUCKET})
    record = {"rows": args.rows, "shapes": results,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
              "command": f"python bench/deploy_shapes.py --rows {args.rows}"}
    out = ROOT / "bench" / "results" / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-shapes-{args.rows}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{args.rows:,} rows: shape, generate s, pipeline s, wall s")
    for shape, r in results.items():
        print(f"  {shape:6} {r['generate_s']:8.1f} {r['pipeline_s']:10.1f} {r['wall_s']:8.1f}")
    print(f"  s3 / local pipeline: {results['s3']['pipeline_s'] / results['local']['pipeline_s']:.2f}x  -> {out}")


if __name__ == "__main__":
    main()
