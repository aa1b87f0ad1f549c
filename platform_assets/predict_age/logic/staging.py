"""The `staging_features` stage: typed features for every pid, split into prediction buckets.

Written with one Parquet directory per bucket (`bucket=N/`), so a prediction batch and the
per-bucket final merge read only their own slice, whatever the size of the quarter.
"""

from __future__ import annotations

from datetime import date

from platform_core import duck
from platform_core.storage import Location, atomic_dir


def bucket_dir(staging_dir: Location, bucket: int) -> Location:
    return staging_dir / f"bucket={bucket}"


def build_staging_features(source_dir: Location, target_dir: Location, ref_date: date, buckets: int, threads: int | None = None) -> dict:
    con = duck.connect(threads)
    duck.view(con, "source_snapshot", source_dir / "source_snapshot.parquet")
    params = {"buckets": buckets, "ref_date": ref_date}
    with atomic_dir(target_dir) as tmp:
        con.execute(
            f"COPY ({duck.load_sql('predict_age', 'staging_features')}) TO {duck.literal(tmp)} "
            "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (bucket))",
            params,
        )
        for b in range(buckets):  # an empty bucket still gets its (empty) slice
            if not bucket_dir(tmp, b).exists():
                bucket_dir(tmp, b).mkdir()
                duck.copy_to_parquet(con, f"SELECT * EXCLUDE (bucket) FROM ({duck.load_sql('predict_age', 'staging_features')}) LIMIT 0",
                                     params, bucket_dir(tmp, b) / "data_0.parquet")
        duck.view(con, "staging_features", tmp)
        stats = con.execute(
            "SELECT count(*), count(existing_age), count(*) FILTER (WHERE needs_prediction), "
            "count(*) FILTER (WHERE existing_age_source = 'EXISTING_APPROX_AGE'), "
            "count(*) FILTER (WHERE existing_age_source = 'EXISTING_BIRTH_YEAR') FROM staging_features"
        ).fetchone()
        per_bucket = con.execute("SELECT bucket, count(*) FROM staging_features GROUP BY 1 ORDER BY 1").fetchall()
    con.close()
    rows, known, needs, approx, birth = stats
    return {
        "rows": rows,
        "rows_with_existing_age": known,
        "rows_needing_prediction": needs,
        "existing_approx_age": approx,
        "existing_birth_year": birth,
        "buckets": buckets,
        "rows_per_bucket": {int(b): n for b, n in per_bucket},
    }
