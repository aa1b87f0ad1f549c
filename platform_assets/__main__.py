"""`python -m platform_assets <command>`: the platform's commands behind the Makefile.

The Makefile never splices what a user typed (JOB=, SQL=, USER_NAME=, REASON=, ...) into a shell
recipe: it exports each value verbatim as `ARG_<NAME>` and calls this module, which checks the
values and hands them to the command as separate arguments. A bad value ends in one paragraph
that names the make variable and what to type; no shell ever sees the text.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass
from typing import Callable


class UsageError(ValueError):
    pass


def arg(name: str) -> str:
    return os.environ.get(f"ARG_{name}", "")


def whole_number(name: str, example: str) -> str:
    value = arg(name).strip()
    if value and not value.lstrip("-").isdigit():
        raise UsageError(f"{name}={arg(name)!r} is not a whole number; type e.g. {name}={example}")
    return value


def day(name: str, example: str) -> str:
    value = arg(name).strip()
    if value:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise UsageError(f"{name}={arg(name)!r} is not a day; type it as YYYY-MM-DD, e.g. {name}={example}") from None
    return value


def options(pairs: list[tuple[str, str]]) -> list[str]:
    """`--flag=value` for every non-empty value (the `=` form keeps a value that starts with - a value)."""
    return [f"{flag}={value}" for flag, value in pairs if value != ""]


def sql_source() -> list[str]:
    if arg("SQL_FILE"):
        return [f"--sql-file={arg('SQL_FILE')}"]
    return ["--", arg("SQL")] if arg("SQL") else []


def run_args() -> list[str]:
    return options([("--job", arg("JOB")), ("--partition", arg("PARTITION")), ("--rows", whole_number("ROWS", "20000")),
                    ("--seed", whole_number("SEED", "7"))])


def _run(extra: list[str]) -> int:
    from platform_assets.run import main

    return main(run_args() + extra)


def _backfill() -> int:
    partitions = arg("PARTITIONS").split()
    if not partitions:
        raise UsageError('make backfill needs the partitions to run: PARTITIONS="2025q2 2025q3" (and JOB= for another job)')
    from platform_assets.run import main

    rest = options([("--job", arg("JOB")), ("--rows", whole_number("ROWS", "20000")), ("--seed", whole_number("SEED", "7"))])
    for partition in partitions:
        if code := main(rest + [f"--partition={partition}"]):
            return code
    return 0


def _query() -> int:
    from platform_assets.query import main

    return main(sql_source())


def _registry(command: str) -> Callable[[], int]:
    def call() -> int:
        from platform_assets.registry_cli import main

        extra = options([("--reason", arg("REASON"))]) if command == "rollback" else []
        if command == "rollback" and not arg("REASON").strip():
            raise UsageError('make rollback needs a reason for the record: REASON="the new model over-predicts"')
        return main(options([("--job", arg("JOB")), ("--slot", arg("SLOT"))]) + [command] + extra)
    return call


def _retrain() -> int:
    from platform_assets.wait_times.cli import main

    return main(["retrain"] + options([("--day", day("DAY", "2025-08-31")), ("--entity", whole_number("ENTITY", "42")),
                                       ("--tier", whole_number("TIER", "1"))]) + (["--all"] if arg("ALL") else []))


def _rollback_entity() -> int:
    from platform_assets.wait_times.cli import main

    return main(["rollback"] + options([("--entity", whole_number("ENTITY", "42")), ("--reason", arg("REASON"))])
                + (["--all"] if arg("ALL") else []))


def _classify() -> int:
    from platform_assets.heavy_queries.classify import main

    return main(options([("--user", arg("USER_NAME")), ("--schema", arg("SCHEMA")), ("--source", arg("SOURCE"))])
                + sql_source())


def _dashboard() -> int:
    from platform_assets.wait_times.dashboard.__main__ import main

    main(options([("--port", whole_number("PORT", "8050"))]))
    return 0


@dataclass(frozen=True)
class Command:
    call: Callable[[], int]
    help: str


COMMANDS = {
    "run": Command(lambda: _run([]), "one partition of a job end to end (JOB=, PARTITION=, ROWS=, SEED=)"),
    "generate": Command(lambda: _run(["--generate-only"]), "write a job's synthetic world only"),
    "backfill": Command(_backfill, 'several partitions, one after another (PARTITIONS="2025q2 2025q3")'),
    "query": Command(_query, "read-only SQL over the catalog's views (SQL= or SQL_FILE=, - for standard input)"),
    "models": Command(_registry("show"), "what a job registered and its champion (JOB=)"),
    "rollback": Command(_registry("rollback"), "return a job to its previous champion (JOB=, REASON=)"),
    "retrain": Command(_retrain, "wait_times: retrain ENTITY=, TIER= or ALL=1 for DAY= (default: the latest trained day)"),
    "rollback-entity": Command(_rollback_entity, "wait_times: roll back ENTITY= or ALL=1"),
    "classify": Command(_classify, "heavy_queries: classify SQL= or SQL_FILE= (USER_NAME=, SCHEMA=, SOURCE=)"),
    "dashboard": Command(_dashboard, "wait_times' dashboard (PORT=)"),
}


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 is printed escaped, not a UnicodeEncodeError
        stream.reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in COMMANDS:
        listing = "\n".join(f"  make {name:<16} {c.help}" for name, c in COMMANDS.items())
        print(f"platform: unknown command {' '.join(argv)!r}; the commands are:\n{listing}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]].call()
    except UsageError as exc:
        print(f"make {argv[0]}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
