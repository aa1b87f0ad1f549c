"""`python -m platform_assets.predict_age.generate --quarter 2025q3 --rows 1000000 --seed 7`: write a
synthetic quarterly snapshot into the landing area (and its ground truth apart)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from platform_assets.predict_age.logic.generator import generate_daily_arrivals, generate_snapshot
from platform_core.periods import Quarter, parse_day
from platform_core.storage import DataLayout

JOB = "predict_age"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quarter", default="2025q3", help="quarter label, e.g. 2025q3")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", default=os.getenv("PLATFORM_DATA_DIR", "data"))
    parser.add_argument("--daily", metavar="YYYY-MM-DD", help="write that day's arrival file instead of a snapshot")
    args = parser.parse_args(argv)
    layout = DataLayout.at(args.data_dir)
    target = layout.landing(JOB, parse_day(args.daily), feed="daily") if args.daily else layout.landing(JOB, Quarter.parse(args.quarter))
    if target.exists():  # a delivery is read-only to the platform
        sys.exit(f"generate: {target} exists (a delivery, or an earlier synthetic one); remove it yourself to write a new one")
    start = time.perf_counter()
    if args.daily:
        day = parse_day(args.daily)
        snap = generate_daily_arrivals(layout.landing(JOB, day, feed="daily"), layout.truth(JOB, day, feed="daily"), day, args.rows, args.seed)
        print(f"generated {snap.rows:,} arrivals for {day} in {time.perf_counter() - start:.1f}s: {snap.landing_dir}")
        return
    quarter = Quarter.parse(args.quarter)
    snap = generate_snapshot(layout.landing(JOB, quarter), layout.truth(JOB, quarter), quarter, args.rows,
                             args.seed, args.chunk_rows)
    took = time.perf_counter() - start
    print(f"generated {snap.rows:,} rows for {quarter.label} in {took:.1f}s ({snap.rows / took:,.0f} rows/s): "
          f"{snap.files} file(s) in {snap.landing_dir}, ground truth in {snap.truth_dir}")


if __name__ == "__main__":
    main()
