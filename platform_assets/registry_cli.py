"""`python -m platform_assets.registry_cli show|promote|rollback`: the champion pointer by hand.

Promote names exact versions; rollback moves the pointer to the previous champion. Both record
a reason in the pointer's history; nothing is ever deleted from the registry.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from platform_core.registry import ModelRef, ModelRegistry, NoChampionError
from platform_core.storage import DataLayout

JOB = "predict_age"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=os.getenv("PLATFORM_DATA_DIR", "data"))
    parser.add_argument("--job", default=JOB)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="current champion, its history and every stored version")
    promote = sub.add_parser("promote", help="make exact versions the champion")
    promote.add_argument("versions", nargs="+", help="model/version, e.g. xgboost/2025q3-0123456789ab")
    promote.add_argument("--reason", required=True)
    rollback = sub.add_parser("rollback", help="return to the previous champion")
    rollback.add_argument("--reason", required=True)
    args = parser.parse_args(argv)

    registry = ModelRegistry(DataLayout.at(args.data_dir).models)
    try:
        if args.command == "promote":
            refs = {ref.model: ref for ref in (ModelRef.parse(args.job, item) for item in args.versions)}
            current = {m: r for m, r in registry.champion(args.job).items()} if registry.champion_history(args.job) else {}
            registry.promote(args.job, {**current, **refs}, reason=args.reason)
        elif args.command == "rollback":
            registry.rollback(args.job, reason=args.reason)
        champion = {m: str(r) for m, r in registry.champion(args.job).items()}
    except (NoChampionError, FileNotFoundError, ValueError) as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 1
    models = {m: registry.versions(args.job, m) for m in ("ridge", "xgboost", "interval")}
    print(json.dumps({"champion": champion, "history": registry.champion_history(args.job), "versions": models}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
