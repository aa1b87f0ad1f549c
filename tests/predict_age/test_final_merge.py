"""The final merge: precedence of sources, the reference schema, and gaps that stay visible."""

import duckdb
import polars as pl
import pytest

from platform_assets.predict_age.logic.publish import batch_file, build_final_results
from platform_core.storage import current

STAGING_COLUMNS = {"pid": pl.Int64, "existing_age": pl.Int32, "existing_age_source": pl.String,
                   "needs_prediction": pl.Boolean}


def write_bucket(root, bucket, rows):
    path = root / f"bucket={bucket}"
    path.mkdir(parents=True)
    pl.DataFrame(rows, schema=STAGING_COLUMNS, orient="row").write_parquet(path / "data_0.parquet")


def write_predictions(root, bucket, rows):
    root.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows, schema={"pid": pl.Int64, "predicted_age": pl.Int32, "confidence_score": pl.Float64,
                               "prediction_source": pl.String, "model_version": pl.String}, orient="row",
                 ).write_parquet(batch_file(root, bucket))


def test_existing_values_win_and_gaps_stay_null(tmp_path):
    write_bucket(tmp_path / "staging", 0, [
        (1, 47, "EXISTING_APPROX_AGE", False),
        (2, 61, "EXISTING_BIRTH_YEAR", False),
        (3, None, None, True),
        (4, None, None, True),
    ])
    write_bucket(tmp_path / "staging", 1, [(5, None, None, True)])
    write_predictions(tmp_path / "pred", 0, [
        (1, 30, 0.5, "ML_PREDICTION", "xgboost/v1"),  # must never override an existing value
        (3, 35, 0.7, "ML_PREDICTION", "xgboost/v1"),
    ])
    write_predictions(tmp_path / "pred", 1, [(5, 58, 0.22, "DEFAULT_RULE", "xgboost/v1")])
    figures = build_final_results(tmp_path / "staging", tmp_path / "pred", tmp_path / "final", 2,
                                  existing_confidence=1.0, min_age=18, max_age=100)
    assert {k: figures[k] for k in ("rows", "distinct_pids", "source_pids", "null_ages", "bad_confidence",
                                    "inconsistent_sources", "out_of_range_ages")} == {
        "rows": 5, "distinct_pids": 5, "source_pids": 5, "null_ages": 1, "bad_confidence": 1,
        "inconsistent_sources": 1, "out_of_range_ages": 0}
    con = duckdb.connect()
    rows = {r[0]: r[1:6] for r in con.execute(f"SELECT * FROM '{current(tmp_path / 'final')}/*.parquet'").fetchall()}
    assert rows[1] == (47, 1.0, "EXISTING_APPROX_AGE", None, "EXISTING")
    assert rows[2] == (61, 1.0, "EXISTING_BIRTH_YEAR", None, "EXISTING")
    assert rows[3] == (35, 0.7, "ML_PREDICTION", "xgboost/v1", "PREDICTED")
    assert rows[4] == (None, None, None, None, "MISSING")  # no prediction: the coverage check will fail
    assert rows[5] == (58, 0.22, "DEFAULT_RULE", "xgboost/v1", "DEFAULTED")
    schema = con.execute(f"DESCRIBE SELECT * FROM '{current(tmp_path / 'final')}/*.parquet'").fetchall()
    assert [(c[0], c[1]) for c in schema] == [
        ("pid", "BIGINT"), ("predicted_age", "INTEGER"), ("confidence_score", "DOUBLE"),
        ("prediction_source", "VARCHAR"), ("model_version", "VARCHAR"), ("prediction_status", "VARCHAR"),
        ("qa_timestamp", "VARCHAR")]


def test_missing_batch_file_is_an_error_not_a_silent_gap(tmp_path):
    write_bucket(tmp_path / "staging", 0, [(1, None, None, True)])
    with pytest.raises(FileNotFoundError, match="batch\\(es\\) 000 not materialized"):
        build_final_results(tmp_path / "staging", tmp_path / "pred", tmp_path / "final", 1, existing_confidence=1.0,
                            min_age=18, max_age=100)
    assert not (tmp_path / "final").exists()
