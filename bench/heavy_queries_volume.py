"""Peak memory of `make run JOB=heavy_queries` at several log volumes, and where it goes.

    python bench/heavy_queries_volume.py --rows 50000 200000 --work /tmp/hq-volume --corpus-cache /tmp/hq-cache

For each `--rows` (queries a day, 44 days) a fresh data directory and Dagster home under `--work`
(the measured corpus copied in from `--corpus-cache` when given, else built by the run),
then `/usr/bin/time -v make run JOB=heavy_queries ROWS=<n>`. While it runs, the resident memory of
the whole process tree is sampled every 0.5 s and charged to the step running then: `generate`
until the first stage line, then the stage whose line `make run` prints next. Reported per size:
the kernel's maximum resident set (`time -v`), the peak sampled per step, wall seconds per stage,
queries a second of featurization and
of ONNX scoring, apart, on the last replayed day after the run (`throughput`), the load average
before and after, and the exit code. A JSON record goes to `--json` when given.
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


def throughput(data: Path) -> dict:
    """Queries a second of featurization and of ONNX scoring, apart, over the last replayed day of the run's
    window (the champion, its stored history state, batches as the replay reads them; the featurizer's text
    cache emptied first, so each distinct text is read once, as in a run)."""
    import json
    from datetime import date

    from platform_assets.heavy_queries.logic.batches import day_file, iter_batches
    from platform_assets.heavy_queries.logic.history import HistoryState
    from platform_assets.heavy_queries.logic.onnx_model import onnx_probabilities
    from platform_assets.heavy_queries.logic.serving import load_model
    from platform_core.registry import ModelRegistry
    from platform_core.storage import DataLayout, current

    layout = DataLayout.at(data)
    model = load_model(registry=ModelRegistry(layout.models))
    day = date.fromisoformat(model.model_version.split("/")[1][:10])
    states = json.loads((current(layout.table("heavy_queries", "query_features", day.isoformat())) / "states.json").read_text())
    window = current(layout.table("heavy_queries", "query_window", day.isoformat()))
    model.featurizer.clear_cache()
    rows = featurize_s = score_s = 0.0
    for batch in iter_batches(day_file(window, day)):
        started = time.perf_counter()
        X = model.featurizer.featurize_frame(batch, {day: HistoryState.from_dict(states[day.isoformat()])})
        featurized = time.perf_counter()
        onnx_probabilities(model.session, X)
        score_s += time.perf_counter() - featurized
        featurize_s += featurized - started
        rows += batch.height
    return {"rate_day": day.isoformat(), "rate_rows": int(rows), "featurize_queries_per_s": round(rows / featurize_s),
            "score_queries_per_s": round(rows / score_s), "featurize_and_score_queries_per_s": round(rows / (featurize_s + score_s)),
            "load_during_rates": round(os.getloadavg()[0], 1)}


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
        if result["exit_code"] == 0:
            result.update(throughput(args.work / f"data-{rows}"))
        result["cpus"], result["memory_gib"] = os.cpu_count(), round(psutil.virtual_memory().total / 2**30, 1)
        results.append(result)
        print(json.dumps({k: v for k, v in result.items() if k != "tail"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return max(r["exit_code"] for r in results)


if __name__ == "__main__":
    sys.exit(main())
