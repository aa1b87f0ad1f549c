"""Fan-out: a quarter's batches as separate Dagster runs (2 at a time) against one process
running them one after another, on the same data, models and instance kind.

    python bench/fanout.py --rows 10000000 --batches 10     (after bench/run.py --rows 10000000)

Both sides execute the `predict_age_batches` job through Dagster (execute_in_process on a SQLite
instance); the separate runs each start a fresh Python process, as a run launcher does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN_BATCHES = """
import sys, dagster as dg
from platform_assets.definitions import defs
with dg.DagsterInstance.get() as instance:
    for batch in sys.argv[2:]:
        key = dg.MultiPartitionKey({"batch": batch, "quarter": sys.argv[1]})
        assert defs.resolve_job_def("predict_age_batches").execute_in_process(instance=instance, partition_key=key).success
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch-rows", type=int, default=250_000)
    parser.add_argument("--batches", type=int, default=10, help="how many of the quarter's batches to run each way")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    buckets = max(1, -(-args.rows // args.batch_rows))
    home = Path(tempfile.mkdtemp())
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = {**os.environ, "PLATFORM_DATA_DIR": str(ROOT / "bench" / "cache" / str(args.rows)), "DAGSTER_HOME": str(home),
           "PREDICT_AGE_BATCHES": str(buckets), "PLATFORM_SENSORS": "off", "PLATFORM_THREADS": "2"}
    batches = [f"{b:03d}" for b in range(min(args.batches, buckets))]

    def run(batch_keys: list[str]) -> None:
        subprocess.run([sys.executable, "-c", RUN_BATCHES, "2025-07-01", *batch_keys], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    start = time.perf_counter()
    run(batches)
    one_process = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(lambda b: run([b]), batches))
    separate = time.perf_counter() - start
    result = {"rows": args.rows, "buckets": buckets, "batches_run": len(batches), "concurrency": args.concurrency,
              "one_process_s": round(one_process, 2), "separate_runs_s": round(separate, 2),
              "per_batch_one_process_s": round(one_process / len(batches), 2),
              "per_batch_separate_runs_s": round(separate / len(batches), 2)}
    out = ROOT / "bench" / "results" / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-fanout-{args.rows}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
