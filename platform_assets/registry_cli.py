"""`python -m platform_assets.registry_cli --job <job> show|promote|rollback`: a job's champion
pointer by hand (`make models JOB=...`, `make rollback JOB=... REASON=...`).

Promote names exact versions; rollback moves the pointer to the previous champion. Both record
a reason in the pointer's history; nothing is ever deleted from the registry. A job that keeps one
champion per entity (a slot each, as wait_times does) is shown as a summary: how many slots have
a champion, how many versions are stored, and the worst champions by their recorded MAE.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from platform_core.registry import DEFAULT_SLOT, ModelRef, ModelRegistry, NoChampionError
from platform_core.storage import DataLayout

WORST_SHOWN = 10


def per_slot_summary(registry: ModelRegistry, job: str) -> str:
    """One line per fact for a registry of many one-model slots (one per entity)."""
    slots = [s for s in registry.slots(job) if registry.champion_history(job, s)]
    champions = [(slot, ref) for slot in slots for ref in registry.champion(job, slot).values()]
    versions = sum(len(registry.versions(job, m)) for m in registry.models(job))
    scored = sorted(((registry.metadata(ref).get("mae"), slot, ref) for slot, ref in champions),
                    key=lambda t: -1 if t[0] is None else t[0], reverse=True)
    lines = [f"{job}: {len(slots):,} slots with a champion (one per entity), {len(registry.models(job)):,} models, "
             f"{versions:,} stored versions"]
    if scored and scored[0][0] is not None:
        lines.append(f"worst champions by validation MAE (of {len(scored):,}):")
        lines += [f"  {slot:<24} MAE {mae:8.3f}  {ref}" for mae, slot, ref in scored[:WORST_SHOWN] if mae is not None]
    lines.append("one slot in full: make models JOB=... SLOT=<slot>; roll one back: make rollback-entity ENTITY=<id>")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=os.getenv("PLATFORM_DATA_DIR", "data"))
    parser.add_argument("--job", default="predict_age")
    parser.add_argument("--slot", default=DEFAULT_SLOT, help="the set of models promoted together (default: the job's)")
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
        if args.command == "show" and args.slot == DEFAULT_SLOT and not registry.champion_history(args.job) \
                and registry.slots(args.job):
            print(per_slot_summary(registry, args.job))
            return 0
        if args.command == "promote":
            refs = {ref.model: ref for ref in (ModelRef.parse(args.job, item) for item in args.versions)}
            current = registry.champion(args.job, args.slot) if registry.champion_history(args.job, args.slot) else {}
            registry.promote(args.job, {**current, **refs}, reason=args.reason, slot=args.slot, force=True)
        elif args.command == "rollback":
            registry.rollback(args.job, reason=args.reason, slot=args.slot)
        champion = {m: str(r) for m, r in registry.champion(args.job, args.slot).items()}
    except (NoChampionError, FileNotFoundError, ValueError) as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 1
    models = {m: registry.versions(args.job, m) for m in registry.models(args.job)}
    print(json.dumps({"champion": champion, "history": registry.champion_history(args.job, args.slot), "versions": models},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
