"""heavy_queries at volume: every stage reads and writes a day and a batch at a time, so batching
changes nothing in what is written; the training sample is capped; PSI added up over batches is
drift.psi's; feature matrices round-trip in chunks; a size that cannot fit is refused before
anything is generated, in one paragraph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import numpy as np
import polars as pl
import pytest

from platform_assets.heavy_queries.logic import batches, pipeline
from platform_assets.heavy_queries.logic.batches import MatrixWriter, iter_matrix
from platform_assets.heavy_queries.logic.corpus import SMALL_CORPUS
from platform_assets.heavy_queries.logic.delivery import generate_world
from platform_assets.heavy_queries.logic.labels import build_labelled
from platform_assets.heavy_queries.logic.memory import estimate_bytes, refusal
from platform_assets.heavy_queries.logic.replay import _Histograms
from platform_assets.heavy_queries.logic.sampling import boundary_sample
from platform_core import drift
from platform_core.storage import DataLayout, current
from tests.heavy_queries.test_labels_sampling import THRESHOLDS, _frame

JOB = "heavy_queries"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DAY = date(2025, 10, 14)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> tuple[DataLayout, object]:
    """A small 44-day log delivered and labelled, with the thresholds chosen on it."""
    root = tmp_path_factory.mktemp("volume")
    layout = DataLayout.at(root / "data")
    delivered = generate_world(layout, 60, 7, SMALL_CORPUS, cache_root=tmp_path_factory.getbasetemp() / "heavy_queries_cache")
    config = pipeline.model_config(delivered.figures["local_cpu_threshold_ms"],
                                   delivered.figures["local_peak_memory_threshold_bytes"])
    for day in delivered.written:
        build_labelled(layout.landing(JOB, day), layout.table(JOB, "labelled_queries", day), config, date.fromisoformat(day))
    return layout, config


def _window_and_features(layout: DataLayout, config) -> dict:
    window, _ = pipeline.build_window(layout, DAY, config)
    features, gates = pipeline.build_features(layout, DAY, config)
    written = {name: current(layout.table(JOB, table, DAY.isoformat())) for name, table in
               (("window", "query_window"), ("features", "query_features"))}
    return {"window_figures": window, "feature_figures": features, "gates": [g.passed for g in gates],
            "window": pl.read_parquet(str(written["window"] / "window.parquet")),
            "sample": pl.read_parquet(str(written["window"] / "sample.parquet")),
            **{f"{name}_X": np.load(written["features"] / f"{name}_X.npy") for name in ("sample", "validation", "test")},
            "states": _rounded(json.loads((written["features"] / "states.json").read_text()))}


def _rounded(value):
    """Floats to 10 significant digits: a sum over another chunking differs in its last bits."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return [_rounded(v) for v in value] if isinstance(value, list) else value


def test_batches_of_seven_rows_write_what_one_batch_does(labelled, monkeypatch):
    layout, config = labelled
    whole = _window_and_features(layout, config)
    monkeypatch.setattr(batches, "BATCH_ROWS", 7)
    small = _window_and_features(layout, config)
    assert whole["window"].height == whole["window_figures"]["rows_out"] > 1_000
    assert whole["window"]["day"].n_unique() == 44 and set(whole["window"]["split"]) == {"train", "validation", "test"}
    assert whole["window"].equals(small["window"]) and whole["sample"].equals(small["sample"])
    assert whole["window_figures"] == small["window_figures"] and whole["feature_figures"] == small["feature_figures"]
    for name in ("sample", "validation", "test"):
        assert whole[f"{name}_X"].shape[0] > 0 and np.array_equal(whole[f"{name}_X"], small[f"{name}_X"]), name
    assert whole["states"] == small["states"] and all(whole["gates"])


def test_the_training_sample_is_capped_with_its_ratio_kept():
    frame = _frame(n_small=20_000, n_heavy=2_000)
    free, _ = boundary_sample(frame, THRESHOLDS, seed=1)
    capped, figures = boundary_sample(frame, THRESHOLDS, seed=1, max_rows=3_000)
    assert free["heavy"].sum() == 2_000 and free.height > 10_000  # uncapped: every heavy, 5 small per heavy
    assert 2_700 < capped.height < 3_300 and figures["cap_factor"] == pytest.approx(3_000 / 12_000, rel=0.01)
    assert figures["ratio_achieved"] == pytest.approx(5.0, rel=0.15)
    assert capped["keep_probability"].max() <= figures["cap_factor"] + 1e-12
    assert set(capped["query_id"]) <= set(free["query_id"])  # the same draws, thinner


def test_psi_added_up_over_batches_is_drift_psi():
    rng = np.random.default_rng(5)
    reference = drift.reference_histogram(rng.normal(size=5_000))
    values = np.concatenate([rng.normal(0.3, 1.2, size=7_000), [np.nan] * 40])
    rng.shuffle(values)
    histograms = _Histograms([reference])
    for part in np.array_split(values, 9):
        histograms.add(part[:, None])
    assert histograms.psi(0) == drift.psi(reference, values) > 0.01


def test_a_matrix_written_in_chunks_reads_back_whole_and_in_chunks(tmp_path):
    matrix = np.random.default_rng(1).random((23, 5), dtype=np.float32)
    writer = MatrixWriter(tmp_path / "m.npy", 23, 5)
    for part in np.array_split(matrix, 4):
        writer.write(part)
    writer.close()
    assert np.array_equal(np.load(tmp_path / "m.npy"), matrix)
    assert np.array_equal(np.concatenate(list(iter_matrix(tmp_path / "m.npy", rows=6))), matrix)
    short = MatrixWriter(tmp_path / "short.npy", 23, 5)
    short.write(matrix[:3])
    with pytest.raises(ValueError, match="3 rows written, 23 announced"):
        short.close()


def test_memory_estimate_grows_with_queries_a_day_and_refuses_what_cannot_fit():
    assert estimate_bytes(200_000, 50_000) < 6 * 2**30  # the size, under its 6 GiB goal
    assert estimate_bytes(400_000, 50_000) > estimate_bytes(200_000, 50_000)
    assert refusal(200_000, 50_000, 20 * 2**30) is None
    message = refusal(4_000_000, 50_000, 20 * 2**30)
    assert "ROWS=4,000,000" in message and "20.0 GiB available" in message and "\n" not in message
    fits = int(message.split("Run it with ROWS=")[1].split(" ")[0].replace(",", ""))
    assert refusal(fits, 50_000, 20 * 2**30) is None and refusal(fits + 50_000, 50_000, 20 * 2**30) is not None


def test_make_run_refuses_a_size_that_cannot_fit_before_generating(tmp_path):
    env = {**os.environ, "PLATFORM_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home"),
           "ARG_JOB": "heavy_queries", "ARG_ROWS": "100000000", "PYTHONPATH": ROOT}
    (tmp_path / "home").mkdir()
    done = subprocess.run([sys.executable, "-m", "platform_assets", "run"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "heavy_queries: ROWS=100,000,000 needs about" in done.stderr
    assert not (tmp_path / "data" / "landing").exists()  # refused before anything was written
