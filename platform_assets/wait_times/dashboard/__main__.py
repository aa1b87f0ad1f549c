"""Serve the dashboard: `python -m platform_assets.wait_times.dashboard --data-dir data --port 8050`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from platform_assets.wait_times.dashboard.app import Truth, create_app
from platform_core.storage import DataLayout


def world_truth(layout: DataLayout) -> Truth | None:
    """The synthetic world's true expected wait, when the data directory holds a synthetic world."""
    if not (layout.truth("wait_times", "world") / "world.json").exists():
        return None
    from platform_assets.wait_times.logic.delivery import load_world

    return load_world(layout).true_expected_wait


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m platform_assets.wait_times.dashboard", description=__doc__)
    parser.add_argument("--data-dir", default=os.getenv("PLATFORM_DATA_DIR", "data"),
                        help="data root (default: $PLATFORM_DATA_DIR or ./data)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--refresh-seconds", type=float, default=3.0, help="how often the pipeline status is re-read")
    parser.add_argument("--stale-hours", type=float, default=4.0,
                        help="an entity is stale without an observation in this many hours before its park closed")
    parser.add_argument("--dagster-home", default=os.getenv("DAGSTER_HOME"),
                        help="the Dagster instance the runs are recorded on, to show a failed run as failed "
                             "(default: $DAGSTER_HOME; without one, the status is status.json's alone)")
    args = parser.parse_args(argv)
    layout = DataLayout.at(args.data_dir)
    home = Path(args.dagster_home) if args.dagster_home and Path(args.dagster_home).is_dir() else None
    app = create_app(layout, truth=world_truth(layout), refresh_seconds=args.refresh_seconds, stale_hours=args.stale_hours,
                     dagster_home=home)
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
