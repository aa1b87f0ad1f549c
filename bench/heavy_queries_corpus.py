"""Build (or reuse) a measured heavy_queries corpus and report what it holds and what it cost.

    python bench/heavy_queries_corpus.py --size default --cache /tmp/hq-cache
    python bench/heavy_queries_corpus.py --size large --rows-per-day 2000

Prints the corpus figures (executions, errors, cost ranges, data and build seconds) and, for a
log of `--rows-per-day` built around it, the scaled heavy thresholds and the resulting heavy
share. Results go to bench/results/<date>-heavy-queries-corpus-<size>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl

from platform_assets.heavy_queries.logic.corpus import DEFAULT_CORPUS, LARGE_CORPUS, SMALL_CORPUS, build_corpus, load_corpus
from platform_assets.heavy_queries.logic.querylog import LogSpec, choose_thresholds, generate_log, log_figures

SIZES = {"small": SMALL_CORPUS, "default": DEFAULT_CORPUS, "large": LARGE_CORPUS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "cache" / "heavy_queries")
    parser.add_argument("--rows-per-day", type=int, default=LogSpec.rows_per_day)
    args = parser.parse_args()
    started = time.perf_counter()
    build = build_corpus(args.cache, SIZES[args.size],
                         progress=lambda done, total: print(f"\r  measured {done}/{total}", end="", flush=True))
    print(f"\ncorpus {args.size} ({build.key}): {'reused' if build.reused else 'built'} in {time.perf_counter() - started:.1f}s")
    corpus = load_corpus(build)
    log_started = time.perf_counter()
    qlog = generate_log(corpus, LogSpec(rows_per_day=args.rows_per_day))
    valid = qlog.log.filter(pl.col("query_id").is_not_null()).unique("query_id")
    thresholds, heavy_rate = choose_thresholds(valid)
    result = {
        "size": args.size, "key": build.key, "reused": build.reused, "corpus": build.figures,
        "log_seconds": round(time.perf_counter() - log_started, 1),
        "log": log_figures(qlog, thresholds),
        "thresholds": {"cpu_ms": thresholds.cpu_ms, "peak_memory_bytes": thresholds.peak_memory_bytes, "heavy_rate": heavy_rate},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"{datetime.now():%Y-%m-%d}-heavy-queries-corpus-{args.size}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
