"""The publishing stages: `final_results` (per-bucket merge), `human_qa`, clean-up.

The merge runs bucket by bucket (the prediction batches' buckets), so memory stays bounded by
the size of one bucket, not of the quarter. The final table is only exposed in the catalog
after all buckets are written; the catalog views are replaced in one transaction.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow.parquet as pq

from platform_assets.predict_age.logic.staging import bucket_dir
from platform_core import duck
from platform_core.reports import markdown_table
from platform_core.storage import Location, atomic_dir, atomic_file, remove_tree

FINAL_COLUMNS = {
    "pid": "BIGINT", "predicted_age": "INTEGER", "confidence_score": "DOUBLE", "prediction_source": "VARCHAR",
    "model_version": "VARCHAR", "prediction_status": "VARCHAR", "qa_timestamp": "VARCHAR",
}
FINAL_DESCRIPTIONS = {
    "pid": "Person id; one row per person of the delivery.",
    "predicted_age": "Age in whole years: the delivered one where usable, else the model's or the default rule's "
                     "(prediction_source says which).",
    "confidence_score": "In [0, 1]. ML rows: probability that the true age is within 5 years, from the calibrated 80% "
                        "interval; default rows: share of training ages within 5 years of the default; existing: 1.0.",
    "prediction_source": "EXISTING_APPROX_AGE, EXISTING_BIRTH_YEAR, ML_PREDICTION or DEFAULT_RULE.",
    "model_version": "Registry entry that made the age (xgboost/<quarter>-<content hash>); NULL for existing values.",
    "prediction_status": "EXISTING, PREDICTED or DEFAULTED.",
    "qa_timestamp": "When the rows were written, UTC, ISO 8601 text (the reference schema's type).",
}
QA_TABLES = ["qa_by_source", "qa_age_groups", "qa_confidence", "qa_previous_quarter", "qa_spot_checks"]


def batch_file(predictions_dir: Location, bucket: int) -> Location:
    return predictions_dir / f"batch-{bucket:03d}.parquet"


CHECK_FIGURES = ["rows", "distinct_pids", "source_pids", "null_ages", "out_of_range_ages", "bad_confidence",
                 "inconsistent_sources"]


def build_final_results(staging_dir: Location, predictions_dir: Location, target_dir: Location, buckets: int, *,
                        existing_confidence: float, min_age: int, max_age: int, threads: int | None = None) -> dict:
    """Merge bucket by bucket and compute the check figures of each bucket as it is written."""
    missing = [b for b in range(buckets) if not batch_file(predictions_dir, b).exists()]
    if missing:
        raise FileNotFoundError(
            f"{predictions_dir}: prediction batch(es) {', '.join(f'{b:03d}' for b in missing)} not materialized"
        )
    qa_timestamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    figures = dict.fromkeys(CHECK_FIGURES, 0)
    con = duck.connect(threads)
    with atomic_dir(target_dir) as tmp:
        for b in range(buckets):
            part = tmp / f"part-{b:03d}.parquet"
            duck.view(con, "staging_bucket", bucket_dir(staging_dir, b))
            duck.view(con, "predictions_bucket", batch_file(predictions_dir, b))
            duck.copy_to_parquet(con, duck.load_sql("predict_age", "final_results"),
                                 {"existing_confidence": existing_confidence, "qa_timestamp": qa_timestamp}, part)
            duck.view(con, "final_bucket", part)
            for name, value in duck.query(con, "predict_age", "final_results_checks", {"min_age": min_age, "max_age": max_age})[0].items():
                figures[name] += value
    con.close()
    return {"qa_timestamp": qa_timestamp, "files": buckets, **figures}


def final_results_summary(final_dir: Location) -> dict:
    """Source distribution, schema and a preview of the published table."""
    con = duck.connect()
    duck.view(con, "final_results", final_dir)
    summary = {
        "by_source": duck.query(con, "predict_age", "qa_by_source"),
        "schema": {name: kind for name, kind, *_ in con.execute("DESCRIBE final_results").fetchall()},
        "preview": duck.rows(con, "SELECT * FROM final_results ORDER BY hash(pid), pid LIMIT 10"),
    }
    con.close()
    return summary


def build_human_qa(final_dir: Location, source_dir: Location, previous_final_dir: Location | None, truth_dir: Location | None,
                   target_dir: Location, spot_check_rows: int = 25) -> dict[str, list[dict]]:
    """QA tables for people: distributions, confidence, previous quarter, spot checks,
    quarantine counts, and (synthetic world only) accuracy against ground truth."""
    con = duck.connect()
    duck.view(con, "final_results", final_dir)
    duck.view(con, "source_snapshot", source_dir / "source_snapshot.parquet")
    if previous_final_dir is not None and previous_final_dir.exists():
        duck.view(con, "previous_final_results", previous_final_dir)
    else:
        columns = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in FINAL_COLUMNS.items())
        con.execute(f"CREATE VIEW previous_final_results AS SELECT {columns} LIMIT 0")
    tables = {}
    with atomic_dir(target_dir) as tmp:
        for name in QA_TABLES:  # each query runs once: its small result is returned and written as it came
            result = con.sql(duck.load_sql("predict_age", name),
                             params={"sample_rows": spot_check_rows} if name == "qa_spot_checks" else {}).to_arrow_table()
            tables[name] = result.to_pylist()
            pq.write_table(result, tmp / f"{name}.parquet", compression="zstd")
    tables["quarantine"] = duck.rows(con, f"SELECT * FROM {duck.parquet_source(source_dir / 'quarantine.parquet')}")
    if truth_dir is not None and truth_dir.exists():
        duck.view(con, "truth", truth_dir)
        tables["truth_accuracy"] = duck.query(con, "predict_age", "truth_accuracy")
    con.close()
    return tables


def qa_report(label: str, tables: dict[str, list[dict]], model_evaluation: dict | None) -> str:
    sections = [
        f"# predict_age QA report, {label}",
        "## Rows by prediction source", markdown_table(tables["qa_by_source"]),
        "## Age groups (percent of each source)", markdown_table(tables["qa_age_groups"]),
        "## Confidence deciles of ML predictions", markdown_table(tables["qa_confidence"]),
        "## Against the previous quarter", markdown_table(tables["qa_previous_quarter"]),
        "## Source quarantine (values cast to NULL, duplicates set aside)", markdown_table(tables["quarantine"]),
    ]
    if model_evaluation:
        sections += ["## Model fairness on held-out rows (XGBoost)", markdown_table(model_evaluation.get("fairness", []))]
    if "truth_accuracy" in tables:
        sections += ["## Accuracy against ground truth (synthetic world only)", markdown_table(tables["truth_accuracy"])]
    sections += ["## Spot checks", markdown_table(tables["qa_spot_checks"])]
    return "\n\n".join(sections) + "\n"


def age_distribution_png(rows: list[dict], target: Location) -> None:
    """Bar chart of age groups, ML predictions against existing values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [r["age_group"] for r in rows]
    width = 0.4
    x = range(len(groups))
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=90)
    ax.bar([i - width / 2 for i in x], [r["existing_pct"] for r in rows], width, label="existing values")
    ax.bar([i + width / 2 for i in x], [r["ml_prediction_pct"] for r in rows], width, label="ML predictions")
    ax.set_xticks(list(x), groups)
    ax.set_ylabel("% of source")
    ax.set_title("Age groups by source")
    ax.legend()
    fig.tight_layout()
    with atomic_file(target) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def remove_batches(predictions_dir: Location) -> int:
    """Clean-up policy 'delete': drop the quarter's batch files once the final table passed."""
    if not predictions_dir.exists():
        return 0
    count = len(list(predictions_dir.glob("*.parquet")))
    remove_tree(predictions_dir)
    return count
