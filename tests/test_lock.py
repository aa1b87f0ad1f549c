"""The committed lock matches pyproject.toml, so every machine installs the tested versions."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_lock_is_fresh_and_pins_every_package_exactly():
    done = subprocess.run([sys.executable, "requirements/lock.py", "check"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    pins = [line for line in (REPO / "requirements" / "lock.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)
    assert {"dagster", "duckdb", "xgboost-cpu", "onnxruntime"} <= {line.split("==")[0] for line in pins}


def test_a_changed_dependency_makes_the_lock_stale(tmp_path):
    (tmp_path / "requirements").mkdir()
    for name in ("pyproject.toml", "requirements/lock.txt", "requirements/lock.py"):
        (tmp_path / name).write_text((REPO / name).read_text())
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"duckdb>=2.0,<3"', '"duckdb>=2.0,<2.1"'))
    done = subprocess.run([sys.executable, "requirements/lock.py", "check"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "make lock" in done.stderr
