"""`make classify SQL="select ..."`: featurize one query and score it with the champion's ONNX
model through onnxruntime; prints the decision, the probability, the threshold and the version."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from platform_core.registry import ModelRegistry, NoChampionError
from platform_core.storage import DataLayout


def main(argv: list[str] | None = None) -> int:
    from platform_assets.heavy_queries.logic.serving import classify, load_model

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sql")
    parser.add_argument("--user")
    parser.add_argument("--source")
    parser.add_argument("--schema")
    parser.add_argument("--query-type")
    args = parser.parse_args(argv)
    if not args.sql.strip():
        print("classify needs a query: make classify SQL=\"select ...\"", file=sys.stderr)
        return 2
    registry = ModelRegistry(DataLayout.at(os.getenv("PLATFORM_DATA_DIR", "data")).models)
    try:
        model = load_model(registry=registry)
    except NoChampionError as exc:
        print(f"no heavy_queries champion yet ({exc}): run `make run JOB=heavy_queries` first", file=sys.stderr)
        return 1
    start = time.perf_counter()
    result = classify(args.sql, args.user, args.source, args.schema, args.query_type, model=model)
    print(json.dumps({**result, "latency_ms": round(1000 * (time.perf_counter() - start), 3)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
