"""`make classify`: featurize one query and score it with the champion's ONNX model through
onnxruntime; prints the decision, the probability, the threshold and the version as JSON.

The query comes from, first found: `--sql-file PATH` (`-` is standard input), the SQL argument
(`-` is standard input), the environment variable CLASSIFY_SQL (when not empty), else standard
input when it is not a terminal. --user, --schema and --source default to CLASSIFY_USER,
CLASSIFY_SCHEMA and CLASSIFY_SOURCE. The text must be UTF-8. Every user error (no query, an
unreadable file, text that is not UTF-8, no champion, a model missing, truncated or tampered) is
one paragraph on standard error with exit status 2 (the query) or 1 (the model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from platform_core.registry import ModelIntegrityError, ModelRegistry, NoChampionError
from platform_core.storage import DataLayout


class UserError(Exception):
    """One paragraph for the person running the command, with the exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _stdin(where: str) -> tuple[bytes, str]:
    if sys.stdin is None or sys.stdin.isatty():
        raise UserError(f"classify: {where} is a terminal, not a query: pipe the query in, or give it as "
                        "make classify SQL=\"select ...\" or --sql-file PATH", 2)
    return sys.stdin.buffer.read(), "standard input"


def query_bytes(sql: str | None, sql_file: str | None) -> tuple[bytes, str]:
    """The query's bytes and where they came from, in the order the module doc gives."""
    if sql is not None and sql_file is not None:
        raise UserError("classify: give the query once, either as the SQL argument or as --sql-file, not both", 2)
    if sql_file == "-" or sql == "-":
        return _stdin("standard input")
    if sql_file is not None:
        try:
            with open(sql_file, "rb") as handle:
                return handle.read(), sql_file
        except OSError as exc:
            raise UserError(f"classify: cannot read the query file {sql_file} ({exc.strerror or exc}): give a readable "
                            "file of SQL text", 2) from None
    if sql is not None:
        return os.fsencode(sql), "the SQL argument"  # the bytes as typed, even when they are not UTF-8
    env = os.environb.get(b"CLASSIFY_SQL") if os.supports_bytes_environ else os.getenv("CLASSIFY_SQL", "").encode()
    if env and env.strip():
        return env, "CLASSIFY_SQL"
    return _stdin("standard input (no SQL argument, --sql-file or CLASSIFY_SQL given)")


def query_text(data: bytes, where: str) -> str:
    """The query as text: UTF-8 only, never empty."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"classify: the query from {where} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                        f"{exc.start}): save or type it as UTF-8 and run again", 2) from None
    if not text.strip():
        raise UserError(f"classify needs a query ({where} is empty): make classify SQL=\"select ...\", "
                        "--sql-file PATH, or the query on standard input", 2)
    return text


def load_champion(data_dir: str):
    from platform_assets.heavy_queries.logic.serving import ModelLoadError, load_model

    registry = ModelRegistry(DataLayout.at(data_dir).models)
    try:
        return load_model(registry=registry)
    except NoChampionError as exc:
        raise UserError(f"classify: no heavy_queries champion in {registry.root} ({exc}): run "
                        "`make run JOB=heavy_queries` first", 1) from None
    except (ModelIntegrityError, ModelLoadError) as exc:
        raise UserError(f"classify: the heavy_queries champion cannot be used: {exc}. Restore the file, or retrain "
                        "(`make run JOB=heavy_queries`) or roll back (`make rollback JOB=heavy_queries REASON=...`) to "
                        "a sound model", 1) from None


def main(argv: list[str] | None = None) -> int:
    from platform_assets.heavy_queries.logic.serving import classify

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sql", nargs="?", help="the query; - reads standard input")
    parser.add_argument("--sql-file", help="read the query from this file; - reads standard input")
    parser.add_argument("--user", default=os.getenv("CLASSIFY_USER") or None)
    parser.add_argument("--source", default=os.getenv("CLASSIFY_SOURCE") or None)
    parser.add_argument("--schema", default=os.getenv("CLASSIFY_SCHEMA") or None)
    parser.add_argument("--query-type")
    parser.add_argument("--data-dir", default=os.getenv("PLATFORM_DATA_DIR", "data"))
    args = parser.parse_args(argv)
    try:
        sql = query_text(*query_bytes(args.sql, args.sql_file))
        model = load_champion(args.data_dir)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    start = time.perf_counter()
    result = classify(sql, args.user, args.source, args.schema, args.query_type, model=model)
    print(json.dumps({**result, "latency_ms": round(1000 * (time.perf_counter() - start), 3)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
