"""`python -m platform_assets.generate --quarter 2025q3 --rows 1000000 --seed 7`: write a
synthetic quarterly snapshot into the landing area (and its ground truth apart)."""

from __future__ import annotations

import argparse
import os
import time

from platform_core.generator import generate_snapshot
from platform_core.quarters import Quarter
from platform_core.storage import DataLayout

JOB = "predict_age"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quarter", default="2025q3", help="quarter label, e.g. 2025q3")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", default=os.getenv("PLATFORM_DATA_DIR", "data"))
    args = parser.parse_args(argv)
    quarter = Quarter.parse(args.quarter)
    layout = DataLayout.at(args.data_dir)
    start = time.perf_counter()
    snap = generate_snapshot(layout.landing(JOB, quarter), layout.truth(JOB, quarter), quarter, args.rows,
                             args.seed, args.chunk_rows)
    took = time.perf_counter() - start
    print(f"generated {snap.rows:,} rows for {quarter.label} in {took:.1f}s ({snap.rows / took:,.0f} rows/s): "
          f"{snap.files} file(s) in {snap.landing_dir}, ground truth in {snap.truth_dir}")


if __name__ == "__main__":
    main()
