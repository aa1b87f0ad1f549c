"""One job's `make run` at several sizes, side by side in one session: wall time, peak memory
(`/usr/bin/time -v`'s maximum resident set: the largest process of the run's tree), the
checks line, and the load average around each run. CPU time (user + system, the run and the
processes it waited for) is given beside the wall time: on a shared machine it moves far less
with the load than the wall time does.

    .venv/bin/python bench/job_sizes.py --job engagement --rows 100000 1000000 --root /tmp/job-sizes

Each size runs `python -m platform_assets.run --job JOB --rows N` (what `make run JOB=... ROWS=N`
calls) in its own data directory and Dagster instance, so sizes do not share caches. The time
ratio against the first size is the figure issue #25 asks for: a job whose time grows no faster
than its size has a ratio at most the size ratio. Prints a markdown table and writes JSON to
bench/results/<stamp>-<job>-sizes.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load() -> float:
    return os.getloadavg()[0]


def run(job: str, rows: int, seed: int, partition: str | None, root: Path) -> dict:
    where = root / f"{job}-{rows}"
    home = where / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "PLATFORM_DATA_DIR": str(where / "data"), "DAGSTER_HOME": str(home)}
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "platform_assets.run", "--job", job,
               "--rows", str(rows), "--seed", str(seed)] + (["--partition", partition] if partition else [])
    load_before, started = load(), time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    (where / f"run-{partition or 'default'}.log").write_text(output)
    peak_kib = re.search(r"Maximum resident set size \(kbytes\): (\d+)", output)
    cpu = [float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", output)]
    checks = re.search(r"^Checks: (\d+/\d+ passed.*)$", output, re.M)
    return {"job": job, "rows": rows, "partition": partition or "default", "exit": done.returncode,
            "seconds": round(seconds, 1), "cpu_seconds": round(sum(cpu), 1), "peak_gib": round(int(peak_kib[1]) / 2**20, 2) if peak_kib else None,
            "checks": checks[1] if checks else None, "load_before": round(load_before, 1), "load_after": round(load(), 1)}


def report(rows: list[dict], out: Path) -> None:
    first = rows[0]
    print("| job | rows | day | exit | wall | CPU | peak RSS | size ratio | time ratio | CPU ratio | checks | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['job']} | {r['rows']:,} | {r['partition']} | {r['exit']} | {r['seconds'] / 60:.1f} min | "
              f"{r['cpu_seconds'] / 60:.1f} min | {r['peak_gib']} GiB | {r['rows'] / first['rows']:.1f} | "
              f"{r['seconds'] / first['seconds']:.2f} | {r['cpu_seconds'] / first['cpu_seconds']:.2f} | "
              f"{r['checks']} | {r['load_before']} -> {r['load_after']} |")
    out.write_text(json.dumps(rows, indent=2))
    print(f"\nwritten to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", required=True)
    parser.add_argument("--rows", type=int, nargs="+", required=True, help="sizes, the reference size first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--partition", action="append", default=None,
                        help="days to run in turn at each size (default: the job's default partition only)")
    parser.add_argument("--root", type=Path, default=Path("/tmp/job-sizes"))
    args = parser.parse_args()
    results = []
    for rows in args.rows:
        for partition in args.partition or [None]:
            results.append(run(args.job, rows, args.seed, partition, args.root))
            print(json.dumps(results[-1]), flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report(results, REPO / "bench" / "results" / f"{stamp}-{args.job}-sizes.json")


if __name__ == "__main__":
    main()
