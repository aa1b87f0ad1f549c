"""`make run JOB=wait_times` at the default size for several seeds, both days (the default day
and the next), each seed in its own data directory and Dagster instance: does every run pass its
blocking checks, how many entities are too new to train and served by the fallback, how long.

    .venv/bin/python bench/wait_times_seeds.py --seeds 7 12345 2024 --root /tmp/wait_times_seeds

Each run is `python -m platform_assets.run --job wait_times --seed S [--partition P]`, what `make
run` calls. Prints a markdown table and writes JSON to bench/results/wait_times_seeds.json.
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
DAYS = (None, "2025-09-01")  # the job's default day, then the next


def run(seed: int, partition: str | None, root: Path) -> dict:
    home = root / f"seed_{seed}" / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "PLATFORM_DATA_DIR": str(root / f"seed_{seed}" / "data"), "DAGSTER_HOME": str(home)}
    command = [sys.executable, "-m", "platform_assets.run", "--job", "wait_times", "--seed", str(seed)]
    started = time.perf_counter()
    done = subprocess.run(command + (["--partition", partition] if partition else []), cwd=REPO, env=env,
                          capture_output=True, text=True)
    output = done.stdout + done.stderr
    (root / f"seed_{seed}" / f"run_{partition or 'default'}.log").write_text(output)
    return outcome(seed, partition or "default", output, done.returncode, time.perf_counter() - started)


def outcome(seed: int, partition: str, output: str, exit_code: int, seconds: float) -> dict:
    """What one run printed: its checks line, entities too few to train, tier-1 entities on the fallback."""
    checks = re.search(r"^Checks: (\d+)/(\d+) passed(.*)$", output, re.M)
    too_few = re.search(r"too few observations to train \(forecast by the fallback\): ([\d,]+) \(([^)]*)\)", output)
    critical = re.search(r"tier-1 entities on the fallback \(too new to train, or failed\): ([\d,]+): (.*)$", output, re.M)
    return {"seed": seed, "partition": partition, "exit": exit_code, "seconds": round(seconds, 1),
            "checks": f"{checks[1]}/{checks[2]}{checks[3]}" if checks else None,
            "too_few": too_few[1] if too_few else "0", "too_few_by_tier": too_few[2] if too_few else "",
            "critical_on_fallback": critical[2].strip() if critical else "",
            "stopped": next((line for line in output.splitlines() if " stopped:" in line), None)}


def report(rows: list[dict]) -> None:
    """Print the markdown table and write the JSON."""
    print("| seed | day | exit | seconds | checks | too few to train | tier-1 on the fallback |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['seed']} | {r['partition']} | {r['exit']} | {r['seconds']:.0f} | {r['checks']} | "
              f"{r['too_few']} ({r['too_few_by_tier']}) | {r['critical_on_fallback']} |")
        if r["stopped"]:
            print(f"|  | stopped: {r['stopped']} | | | | | |")
    (REPO / "bench" / "results" / "wait_times_seeds.json").write_text(json.dumps(rows, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 12345, 2024])
    parser.add_argument("--root", type=Path, default=Path("/tmp/wait_times_seeds"))
    args = parser.parse_args()
    rows = [run(seed, day, args.root) for seed in args.seeds for day in DAYS]
    report(rows)
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
