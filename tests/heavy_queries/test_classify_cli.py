"""heavy_queries: `make classify`'s command as a person runs it: the query from the argument, a file,
standard input or CLASSIFY_SQL; any text answered or refused in one paragraph, never a traceback;
a missing or tampered champion refused in one paragraph."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from platform_assets.heavy_queries.logic.onnx_model import MODEL_NAME
from platform_assets.heavy_queries.logic.serving import classify, load_model
from platform_core.registry import ModelRegistry
from tests.heavy_queries.helpers import JOB, world
from tests.heavy_queries.test_serving import HEAVY_SQL

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data root whose registry holds the test world's model as the champion."""
    w = world()
    root = tmp_path_factory.mktemp("classify") / "data"
    shutil.copytree(w.registry.root, root / "models")
    ModelRegistry(root / "models").promote(JOB, {MODEL_NAME: w.ref}, "test champion")
    return root


def _run(data_dir, *args, stdin: bytes | None = None, env: dict | None = None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLASSIFY_")}
    environment.update(PLATFORM_DATA_DIR=str(data_dir), PYTHONPATH=ROOT, **(env or {}))
    done = subprocess.run([sys.executable, "-m", "platform_assets.heavy_queries.classify", *args], input=stdin or b"",
                          capture_output=True, env=environment, cwd=ROOT, timeout=120)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def _refused(code, out, err, status):
    assert code == status and out == "" and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err  # one paragraph
    return err


def test_any_text_from_argument_file_stdin_or_environment_is_answered(data_dir, tmp_path):
    code, out, err = _run(data_dir, "select a from t where k in (x select b from u)")
    assert code == 0 and "Traceback" not in err, err
    assert set(json.loads(out)) >= {"heavy", "probability", "unparsed"} and json.loads(out)["unparsed"] is None

    huge = tmp_path / "huge.sql"
    huge.write_text("select a from t where a in (" + ", ".join(["1234567"] * 700_000) + ")")  # 6.3 MB
    code, out, err = _run(data_dir, "--sql-file", str(huge))
    assert code == 0, err
    assert json.loads(out)["unparsed"] == "too_long" and json.loads(out)["heavy"] is True  # routed heavy, fail-safe

    model = load_model(registry=ModelRegistry(data_dir / "models"))
    expected = classify(HEAVY_SQL, "user_03", "superset", "tpcds_sf10", model=model)["probability"]
    code, out, _ = _run(data_dir, env={"CLASSIFY_SQL": HEAVY_SQL, "CLASSIFY_USER": "user_03",
                                       "CLASSIFY_SOURCE": "superset", "CLASSIFY_SCHEMA": "tpcds_sf10"})
    assert code == 0 and json.loads(out)["probability"] == expected
    assert classify(HEAVY_SQL, model=model)["probability"] != expected  # so the CLASSIFY_* settings were used
    code, out, _ = _run(data_dir, "--user", "user_03", "--source", "superset", "--schema", "tpcds_sf10",
                        stdin=HEAVY_SQL.encode())
    assert code == 0 and json.loads(out)["probability"] == expected
    code, out, _ = _run(data_dir, "-", "--schema", "tpcds_sf10", stdin=HEAVY_SQL.encode(),
                        env={"CLASSIFY_USER": "user_03", "CLASSIFY_SOURCE": "superset", "CLASSIFY_SCHEMA": "tpch_sf1"})
    assert code == 0 and json.loads(out)["probability"] == expected  # a flag wins over its variable


def test_query_errors_are_one_paragraph(data_dir, tmp_path):
    err = _refused(*_run(data_dir, os.fsdecode(b"select \xff from lineitem")), 2)
    assert "not UTF-8" in err and "0xff" in err and "offset 7" in err
    err = _refused(*_run(data_dir, "--sql-file", str(tmp_path / "missing.sql")), 2)
    assert "missing.sql" in err
    err = _refused(*_run(data_dir, stdin=b"  \n"), 2)
    assert "empty" in err
    _refused(*_run(data_dir, "select 1", "--sql-file", str(tmp_path / "q.sql")), 2)


def test_a_missing_or_tampered_champion_is_one_paragraph(data_dir, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    assert "make run JOB=heavy_queries" in _refused(*_run(bare, "select 1 from lineitem"), 1)

    tampered = tmp_path / "tampered"
    shutil.copytree(data_dir, tampered)
    registry = ModelRegistry(tampered / "models")
    entry = registry.root / JOB / MODEL_NAME / registry.champion(JOB)[MODEL_NAME].version
    (entry / "model.onnx").write_bytes((entry / "model.onnx").read_bytes()[:-4] + b"\0\0\0\0")
    err = _refused(*_run(tampered, "select 1 from lineitem"), 1)
    assert "model.onnx" in err and "SHA-256" in err and "rollback" in err

    (entry / "model.onnx").unlink()
    assert "model.onnx" in _refused(*_run(tampered, "select 1 from lineitem"), 1)
    (entry / "metadata.json").write_text('{"files": {')
    assert "metadata.json" in _refused(*_run(tampered, "select 1 from lineitem"), 1)
