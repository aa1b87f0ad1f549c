"""wait_times' plain logic loads without dagster (the wiring imports it, never the reverse)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wait_times_logic_loads_without_dagster():
    logic = REPO / "platform_assets" / "wait_times" / "logic"
    modules = [f"platform_assets.wait_times.logic.{p.stem}" for p in sorted(logic.glob("*.py")) if p.stem != "__init__"]
    assert len(modules) >= 10
    code = f"import sys\nfor m in {modules!r}:\n    __import__(m)\nprint('dagster' in sys.modules, 'xgboost' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"], f"one of {modules} imports dagster or xgboost at load"
