"""What a person sees when `make run` or `make query` meets bad input: one clean paragraph and a
non-zero exit, never a traceback; and a delivered folder is never touched."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from platform_core.storage import SUCCESS_MARKER
from tests.conftest import QUARTER

REPO = Path(__file__).resolve().parents[2]


def command(module: str, *args: str, layout, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PLATFORM_DATA_DIR": str(layout.root), "DAGSTER_HOME": str(home), "PLATFORM_SENSORS": "off"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def home(tmp_path, instance) -> Path:
    return Path(instance.root_directory)


@pytest.mark.parametrize("label, message", [("2025q5", "invalid quarter '2025q5'"),
                                            ("2023q4", "partition 2023q4 (2023-10-01) is outside the job's partitions")])
def test_a_bad_or_out_of_range_quarter_is_one_clean_paragraph(data_layout, home, label, message):
    done = command("platform_assets.run", "--partition", label, layout=data_layout, home=home)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_an_unreadable_part_file_is_named_without_a_traceback(data_layout, home):
    landing = data_layout.landing("predict_age", QUARTER)
    broken = sorted(landing.glob("*.parquet"))[0]
    broken.write_text("pid,approximate_age\n1,40\n")  # a CSV named .parquet
    done = command("platform_assets.run", "--partition", QUARTER.label, layout=data_layout, home=home)
    assert done.returncode == 1
    assert f"{broken}: unreadable Parquet file" in done.stderr and "ContractError" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 4


def test_a_query_on_a_missing_view_lists_the_views(data_layout, home):
    done = command("platform_assets.query", "SELECT * FROM no_such_view", layout=data_layout, home=home)
    assert done.returncode == 1 and "no catalog" in done.stderr and "Traceback" not in done.stderr


def test_a_delivered_folder_is_never_regenerated_whatever_its_marker_says(data_layout, home):
    landing = data_layout.landing("predict_age", QUARTER)
    (landing / SUCCESS_MARKER).write_text("rows=5\n")  # any text is legal in a marker

    def digest() -> dict:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(landing.iterdir())}

    before = digest()
    done = command("platform_assets.run", "--partition", QUARTER.label, "--rows", "100", "--generate-only",
                   layout=data_layout, home=home)
    assert done.returncode == 1 and "using the delivery" in done.stdout
    assert digest() == before
