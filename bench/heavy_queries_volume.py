"""Peak memory of `make run JOB=heavy_queries` at several log volumes, and where it goes.

    python bench/heavy_queries_volume.py --rows 50000 200000 --work /tmp/hq-volume --corpus-cache /tmp/hq-cache

For each `--rows` (queries a day, 44 days) a fresh data directory and Dagster home under `--work`
(the measured corpus copied in from `--corpus-cache`, built there by the first run when absent),
then `/usr/bin/time -v make run JOB=heavy_queries ROWS=<n>`. While it runs, the resident memory of
the whole process tree is sampled every 0.5 s and charged to the step running then: `generate`
until the first stage line, then the stage whose line `make run` prints next. Reported per size:
the kernel's maximum resident set (`time -v`), the peak sampled per step, wall seconds per stage,
queries a second of featurization (query_features: validation and test rows and the sample) and
of the replay (featurize + score every replayed query), the load average before and after, and
the exit code. A JSON record goes to `--json` when given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
STAGE_LINE = re.compile(r"^  (\w+) \[[^\]]+\]: (?:([\d,]+) (?:-> ([\d,]+) )?rows, )?([\d.]+)s in the stage")


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_once(rows: int, work: Path, corpus_cache: Path | None, env_extra: dict[str, str]) -> dict:
    data, home = work / f"data-{rows}", work / f"home-{rows}"
    for path in (data, home):
        shutil.rmtree(path, ignore_errors=True)
    if corpus_cache and corpus_cache.exists():
        shutil.copytree(corpus_cache, data / "cache" / "heavy_queries")
    env = {**os.environ, "PLATFORM_DATA_DIR": str(data), "DAGSTER_HOME": str(home), **env_extra}
    timing = work / f"time-{rows}.txt"
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", str(timing), "make", "run", "JOB=heavy_queries", f"ROWS={rows}"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched = psutil.Process(proc.pid)
    state = {"step": "generate", "peaks": {}, "done": False}

    def sample() -> None:
        while not state["done"]:
            rss = _tree_rss(watched)
            state["peaks"][state["step"]] = max(state["peaks"].get(state["step"], 0), rss)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stages, lines = [], []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        print(line, end="", flush=True)
        if state["step"] == "generate" and ("query log:" in line or "using the delivery" in line):
            state["step"] = "stage"
        elif m := STAGE_LINE.match(line):  # the samples since the previous stage line belong to this stage
            stages.append({"stage": m.group(1), "seconds": float(m.group(4)),
                           "rows_in": int(m.group(2).replace(",", "")) if m.group(2) else None,
                           "peak_rss_gib": round(state["peaks"].pop("stage", 0) / 2**30, 2)})
    code = proc.wait()
    state["done"] = True
    sampler.join()
    wall = time.perf_counter() - started
    report = timing.read_text() if timing.exists() else ""
    max_rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    generated = re.search(r"query log: \d+ days, ([\d,]+) rows", "\n".join(lines))
    return {"rows_per_day": rows, "exit_code": code, "wall_s": round(wall, 1),
            "max_rss_gib": round(int(max_rss.group(1)) / 2**20, 2) if max_rss else None,
            "log_rows": int(generated.group(1).replace(",", "")) if generated else None,
            "generate_peak_rss_gib": round(state["peaks"].get("generate", 0) / 2**30, 2),
            "stages": stages, "load_before": [round(x, 1) for x in load_before],
            "load_after": [round(x, 1) for x in os.getloadavg()], "tail": lines[-25:]}


def throughput(result: dict, data: Path) -> dict:
    """Queries a second of featurization and of the replay, from the run's own stage records."""
    import polars as pl

    by_name = {s["stage"]: s for s in result["stages"]}
    out = {}
    features = sorted((data / "warehouse" / "heavy_queries" / "query_features").glob("*/v-*"))
    if features and "query_features" in by_name:
        rows = sum(pl.scan_parquet(str(f)).select(pl.len()).collect().item()
                   for f in features[-1].glob("*_rows.parquet"))
        out["featurized_rows"] = rows
        out["featurize_queries_per_s"] = round(rows / by_name["query_features"]["seconds"])
    if "query_replay" in by_name and by_name["query_replay"]["rows_in"]:
        out["replay_queries_per_s"] = round(by_name["query_replay"]["rows_in"] / by_name["query_replay"]["seconds"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/heavy_queries_volume"))
    parser.add_argument("--corpus-cache", type=Path, help="a data root's cache/heavy_queries to copy in (saves the build)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for rows in args.rows:
        result = run_once(rows, args.work, args.corpus_cache, {})
        result.update(throughput(result, args.work / f"data-{rows}"))
        result["cpus"], result["memory_gib"] = os.cpu_count(), round(psutil.virtual_memory().total / 2**30, 1)
        results.append(result)
        print(json.dumps({k: v for k, v in result.items() if k != "tail"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return max(r["exit_code"] for r in results)


if __name__ == "__main__":
    sys.exit(main())
