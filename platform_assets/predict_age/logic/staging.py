"""The `staging_features` stage: typed features for every pid, split into prediction buckets.

Written with one Parquet directory per bucket (`bucket=N/`), so a prediction batch and the
per-bucket final merge read only their own slice, whatever the size of the quarter. The table
is written as one stream of files of about equal size (a DuckDB `PARTITION_BY` over many
buckets runs at half the speed: BENCHMARKS.md, Throughput II), and consecutive files are then
placed in each bucket's directory: buckets partition the pids, each pid in exactly one.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

from platform_core import duck
from platform_core.storage import Location, atomic_dir

FILES_PER_BUCKET = 4  # a bucket is within about one file (25%) of its share of the rows
MAX_FILE_ROWS = 2_000_000  # a prediction batch holds one file in memory at a time
MAX_ROW_GROUP_ROWS = 122_880
MIN_ROW_GROUP_ROWS = 2_048  # DuckDB writes whole vectors


def bucket_dir(staging_dir: Location, bucket: int) -> Location:
    return staging_dir / f"bucket={bucket}"


def file_layout(rows: int, buckets: int) -> tuple[int, int]:
    """(rows per row group, row groups per file): at least FILES_PER_BUCKET files per bucket, each
    of at most MAX_FILE_ROWS rows."""
    file_rows = min(MAX_FILE_ROWS, math.ceil(rows / (buckets * FILES_PER_BUCKET)))
    per_file = max(1, math.ceil(file_rows / MAX_ROW_GROUP_ROWS))
    return max(MIN_ROW_GROUP_ROWS, math.ceil(file_rows / per_file)), per_file


def assign_files(file_rows: list[int], buckets: int) -> list[int]:
    """Each file's bucket, in file order: a file goes to the bucket its middle row falls in, so
    buckets get consecutive files and rows within about one file of an equal share."""
    total, start, out = max(1, sum(file_rows)), 0, []
    for n in file_rows:
        out.append(min(buckets - 1, (2 * start + n) * buckets // (2 * total)))
        start += n
    return out


def build_staging_features(source_dir: Location, target_dir: Location, ref_date: date, buckets: int, threads: int | None = None) -> dict:
    con = duck.connect(threads)
    duck.view(con, "source_snapshot", source_dir / "source_snapshot.parquet")
    rows = con.execute("SELECT count(*) FROM source_snapshot").fetchone()[0]
    row_group, per_file = file_layout(rows, buckets)
    params = {"ref_date": ref_date}
    with atomic_dir(target_dir) as tmp:
        stream = tmp / "_stream"
        con.execute(
            f"COPY ({duck.load_sql('predict_age', 'staging_features')}) TO {duck.literal(stream)} "
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {row_group}, ROW_GROUPS_PER_FILE {per_file})",
            params,
        )
        written = sorted(((Path(name), rows) for name, rows in con.execute(
            "SELECT file_name, num_rows FROM parquet_file_metadata(?)", [str(stream / "*.parquet")]).fetchall()),
            key=lambda f: int(f[0].stem.rsplit("_", 1)[1]))  # data_<n>.parquet, in the order written
        for b in range(buckets):
            bucket_dir(tmp, b).mkdir()
        for (file, _), bucket in zip(written, assign_files([rows for _, rows in written], buckets)):
            file.rename(bucket_dir(tmp, bucket) / file.name)
        stream.rmdir()
        for b in range(buckets):  # an empty bucket still gets its (empty) slice
            if not any(bucket_dir(tmp, b).iterdir()):
                duck.copy_to_parquet(con, f"SELECT * FROM ({duck.load_sql('predict_age', 'staging_features')}) LIMIT 0",
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
