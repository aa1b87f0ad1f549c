"""The lock's freshness: requirements/lock.txt records a digest of pyproject.toml's dependency
tables, and every install refuses a lock whose digest no longer matches (`make lock` renews it).

    python3 requirements/lock.py check     exit 1 with what to do when the lock is stale
    python3 requirements/lock.py stamp F   prefix the compiled lock F with the digest
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
PREFIX = "# pyproject dependencies sha256: "


def digest() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tables = {"dependencies": project["dependencies"], "optional": project.get("optional-dependencies", {}),
              "python": project["requires-python"]}
    return hashlib.sha256(json.dumps(tables, sort_keys=True).encode()).hexdigest()


def main(argv: list[str]) -> int:
    if argv[:1] == ["stamp"]:
        compiled = Path(argv[1]).read_text()
        LOCK.write_text(f"{PREFIX}{digest()}\n# exact versions for every extra; installed as constraints (make lock)\n{compiled}")
        return 0
    recorded = LOCK.read_text().splitlines()[0].removeprefix(PREFIX) if LOCK.exists() else None
    if recorded != digest():
        print(f"{LOCK} is stale: pyproject.toml's dependencies changed since it was written. Run `make lock` and "
              "commit the new lock with the change.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
