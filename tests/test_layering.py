"""The layering every job folder keeps: plain logic and the shared building blocks never import
dagster, and the shared building blocks name no job."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import platform_core

REPO = Path(__file__).resolve().parent.parent
JOBS = sorted(p.parent.name for p in (REPO / "platform_assets").glob("*/logic"))
PLAIN = ("logic", "dashboard")  # a job's folders that never import dagster


def test_logic_and_platform_core_load_without_dagster():
    modules = [f"platform_core.{m.name}" for m in pkgutil.iter_modules(platform_core.__path__)]
    for job in JOBS:
        for folder in PLAIN:
            modules += [f"platform_assets.{job}.{folder}.{p.stem}"
                        for p in (REPO / "platform_assets" / job / folder).glob("*.py") if p.stem not in ("__init__", "__main__")]
    code = f"import sys\nfor m in {modules!r}:\n    __import__(m)\nprint('dagster' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", f"one of {modules} imports dagster"


def test_platform_core_names_no_job():
    for path in (REPO / "platform_core").glob("*.py"):
        code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        for job in JOBS:
            assert f'"{job}"' not in code and f"'{job}'" not in code, f"{path.name} names {job}"
