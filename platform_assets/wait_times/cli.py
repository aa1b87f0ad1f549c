"""Retrain or roll back wait_times entities from the command line, through Dagster (the runs are
recorded on the instance exactly as the UI's would be):

  make retrain DAY=2025-08-31 ENTITY=42      one entity (or TIER=1, or ALL=1), then its forecasts and WTI
  make rollback-entity ENTITY=42             one entity back to its previous champion (or ALL=1)
"""

from __future__ import annotations

import argparse
import sys

import dagster as dg

from platform_assets.run import LOG_LEVEL, JobRunFailed, execute, user_error
from platform_assets.wait_times.keys import JOB, key


def _selection(args) -> dict:
    if sum(x is not None and x is not False for x in (args.entity, args.tier, args.all or None)) != 1:
        raise SystemExit("retrain: choose exactly one of ENTITY=<id>, TIER=<1-4> or ALL=1, e.g. make retrain ENTITY=42")
    return ({"mode": "entity", "entity_id": args.entity} if args.entity is not None
            else {"mode": "tier", "tier": args.tier} if args.tier is not None else {"mode": "all"})


def main(argv: list[str] | None = None) -> int:
    from platform_assets.definitions import defs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("retrain", "rollback"):
        p = sub.add_parser(name)
        p.add_argument("--entity", type=int)
        p.add_argument("--all", action="store_true")
        if name == "retrain":
            p.add_argument("--tier", type=int)
            p.add_argument("--day", help="the daily partition whose data trains the models (default: the latest trained day)")
        else:
            p.add_argument("--reason", default="rolled back from the command line")
    args = parser.parse_args(argv)
    with dg.DagsterInstance.get() as instance:
        if args.command == "rollback":
            if (args.entity is None) == (not args.all):
                print("rollback-entity: choose exactly one of ENTITY=<id> or ALL=1, e.g. make rollback-entity ENTITY=42",
                      file=sys.stderr)
                return 2
            request = {"entity_id": args.entity, "all_entities": args.all, "reason": args.reason}
            result = defs.resolve_job_def(f"{JOB}_rollback").execute_in_process(
                instance=instance, raise_on_error=False,
                run_config={"ops": {"rollback_entity_models": {"config": request}},
                            "loggers": {"console": {"config": {"log_level": LOG_LEVEL}}}})
            if not result.success:
                failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
                print(f"rollback refused: {user_error(failure)}", file=sys.stderr)
                return 1
            outcome = result.output_for_node("rollback_entity_models")
            print(f"rolled back {len(outcome['rolled_back'])} entities: {outcome['rolled_back']}")
            for entity, why in outcome["not_rolled_back"].items():
                print(f"  not rolled back {entity}: {why}")
            return 0
        selection = _selection(args)
        if args.day is None:
            trained = sorted(instance.get_materialized_partitions(key("entity_models")))
            if not trained:
                print("retrain: no day has trained models yet; run the day first (make run JOB=wait_times) "
                      "or name one with DAY=2025-08-31", file=sys.stderr)
                return 2
            args.day = trained[-1]
        job_def = defs.resolve_implicit_global_asset_job_def()
        try:
            run = execute(job_def, [key("entity_models")], (args.day, args.day), instance,
                          run_config={"ops": {"wait_times__entity_models": {"config": selection}}})
            for name in ("forecasts", "wti"):
                execute(job_def, [key(name)], (args.day, args.day), instance)
        except JobRunFailed as exc:
            print(f"retrain {selection} stopped: {exc}", file=sys.stderr)
            return 1
        print(f"retrained {selection} for {args.day} in run {run.run_id}; forecasts and WTI refreshed")
        return 0


if __name__ == "__main__":
    sys.exit(main())
