"""The source contract (SOURCE_CONTRACT.md) and the `source_snapshot` stage.

Fatal problems (no files, an unreadable file, a missing required column, a pid that is not an
integer or is NULL, an empty snapshot) raise `SourceContractError` naming the file and column.
Row-level problems (unusable ages and birth years, duplicate pids) are cast to NULL or set
aside and counted per column and reason in the quarter's quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from platform_core import duck
from platform_core.storage import SUCCESS_MARKER, Location, atomic_dir

# column -> (DuckDB type after casting, required)
CONTRACT: dict[str, tuple[str, bool]] = {
    "pid": ("BIGINT", True),
    "approximate_age": ("VARCHAR", True),
    "birth_year": ("VARCHAR", True),
    "gender": ("VARCHAR", False),
    "first_name": ("VARCHAR", False),
    "state": ("VARCHAR", False),
    "zip5": ("VARCHAR", False),
    "marital_status": ("VARCHAR", False),
    "household_size": ("INTEGER", False),
    "num_children": ("INTEGER", False),
    "homeowner": ("VARCHAR", False),
    "length_of_residence": ("INTEGER", False),
    "income_band": ("VARCHAR", False),
    "net_worth_band": ("VARCHAR", False),
    "education": ("VARCHAR", False),
    "occupation_group": ("VARCHAR", False),
    "vehicle_count": ("INTEGER", False),
    "newest_vehicle_year": ("INTEGER", False),
    "has_landline": ("VARCHAR", False),
    "has_mobile": ("VARCHAR", False),
    "email_domain_type": ("VARCHAR", False),
    "social_profiles": ("INTEGER", False),
    "credit_card_count": ("INTEGER", False),
    "voter_registered": ("VARCHAR", False),
    "first_seen_date": ("DATE", False),
    "last_activity_date": ("DATE", False),
}
REQUIRED = [c for c, (_, required) in CONTRACT.items() if required]
# Allowed values of coded columns (after trim and upper case; email_domain_type lower case).
# Blank means unknown and is allowed; any other value is cast to NULL and counted.
STATES = ["AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
          "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH",
          "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR"]
ALLOWED: dict[str, list[str]] = {
    "gender": ["M", "F", "U"],
    "state": STATES,
    "marital_status": ["S", "M", "D", "W", "U"],
    "homeowner": ["Y", "N", "U"],
    "income_band": list("ABCDEFGHIJKL") + ["U"],
    "net_worth_band": list("ABCDEFGHI") + ["U"],
    "education": ["HS", "SC", "BA", "GR", "U"],
    "occupation_group": ["STUDENT", "PROFESSIONAL", "CLERICAL", "TRADES", "RETIRED", "HOMEMAKER", "U"],
    "has_landline": ["Y", "N"],
    "has_mobile": ["Y", "N"],
    "email_domain_type": ["gmail", "yahoo", "aol", "hotmail", "icloud", "corporate", "edu", "other"],
    "voter_registered": ["Y", "N", "U"],
}
LOWER_CASE = {"email_domain_type"}


class SourceContractError(ValueError):
    """The snapshot breaks the source contract; the message names file, column and values."""


@dataclass
class SourceSnapshotStats:
    files: list[str]
    rows_in: int
    rows_out: int
    duplicate_pids: int
    quarantine: list[dict]
    extra_columns: list[str]
    absent_optional_columns: list[str]
    usable_approximate_age: int
    usable_birth_year: int
    duplicate_sample: list[dict]


def landing_files(landing_dir: Location) -> list[Location]:
    """The snapshot's Parquet files, only once the delivery is complete."""
    if not landing_dir.is_dir():
        raise SourceContractError(f"{landing_dir}: no snapshot delivered (directory missing)")
    if not (landing_dir / SUCCESS_MARKER).exists():
        raise SourceContractError(f"{landing_dir}: delivery incomplete, no {SUCCESS_MARKER} marker")
    files = sorted(landing_dir.glob("*.parquet"))
    if not files:
        raise SourceContractError(f"{landing_dir}: no Parquet files in the delivery")
    return files


def validate_schemas(files: list[Location]) -> tuple[set[str], set[str]]:
    """Check every file's schema against the contract; return (extra, absent optional) columns."""
    extra: set[str] = set()
    seen: set[str] = set()
    for path in files:
        try:
            with path.open("rb") as handle:
                schema = pq.read_schema(handle)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceContractError(f"{path}: unreadable Parquet file ({exc})") from exc
        names = set(schema.names)
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise SourceContractError(f"{path}: missing required column(s) {', '.join(missing)}")
        pid_type = schema.field("pid").type
        if not pa.types.is_integer(pid_type):
            with path.open("rb") as handle:
                sample = pq.read_table(handle, columns=["pid"]).column("pid").slice(0, 5).to_pylist()
            raise SourceContractError(
                f"{path}: column pid must be an integer, found {pid_type} (first values: {sample})"
            )
        extra |= names - set(CONTRACT)
        seen |= names
    absent = {c for c in CONTRACT if c not in seen}
    return extra, absent


def _normalized(column: str) -> str:
    case = "lower" if column in LOWER_CASE else "upper"
    return f"{case}(trim(CAST({duck.ident(column)} AS VARCHAR)))"


def _clean_column(column: str, kind: str, present: bool) -> str:
    """SQL for one contract column of raw_source: cast, trimmed, unknown codes to NULL."""
    name = duck.ident(column)
    if not present:
        return f"CAST(NULL AS {kind}) AS {name}"
    if column in ALLOWED:
        allowed = ", ".join(duck.literal(v) for v in ALLOWED[column])
        return f"CASE WHEN {_normalized(column)} IN ({allowed}) THEN {_normalized(column)} END AS {name}"
    if column in ("first_name", "zip5"):
        text = _normalized(column) if column == "first_name" else f"trim(CAST({name} AS VARCHAR))"
        return f"NULLIF({text}, '') AS {name}"
    return f"TRY_CAST({name} AS {kind}) AS {name}"


def _column_problems_sql(present: set[str]) -> tuple[str, list[tuple[str, str]]]:
    """One pass over raw_files counting, per column, values the cleaning turned into NULL."""
    filters, labels = [], []
    for column, (kind, required) in CONTRACT.items():
        if column not in present or required:
            continue
        name = duck.ident(column)
        if column in ALLOWED:
            allowed = ", ".join(duck.literal(v) for v in ALLOWED[column])
            condition = f"{_normalized(column)} <> '' AND {_normalized(column)} NOT IN ({allowed})"
            labels.append((column, "unknown_category"))
        elif kind in ("INTEGER", "DATE"):
            condition = f"{name} IS NOT NULL AND TRY_CAST({name} AS {kind}) IS NULL"
            labels.append((column, f"not_a_{kind.lower()}"))
        else:
            continue
        filters.append(f"count(*) FILTER (WHERE {condition})")
    return ("SELECT " + (", ".join(filters) or "0") + " FROM raw_files"), labels


def _raw_files_sql(files: list[Location]) -> str:
    file_list = "[" + ", ".join(duck.literal(f) for f in files) + "]"
    return f"SELECT * FROM read_parquet({file_list}, union_by_name = true, filename = true, file_row_number = true)"


def _raw_source_sql(present: set[str]) -> str:
    columns = [_clean_column(c, kind, c in present) for c, (kind, _) in CONTRACT.items()]
    return f"SELECT {', '.join(columns)}, filename AS source_file, file_row_number AS source_row FROM raw_files"


def build_source_snapshot(
    landing_dir: Location, target_dir: Location, ref_date: date, min_age: int, max_age: int, threads: int | None = None
) -> SourceSnapshotStats:
    files = landing_files(landing_dir)
    extra, absent = validate_schemas(files)
    present = set(CONTRACT) - absent
    con = duck.connect(threads)
    con.execute(f"CREATE VIEW raw_files AS {_raw_files_sql(files)}")
    con.execute(f"CREATE VIEW raw_source AS {_raw_source_sql(present)}")

    per_file = con.execute(
        "SELECT source_file, count(*) AS rows, count(*) FILTER (WHERE pid IS NULL) AS null_pids "
        "FROM raw_source GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    for source_file, _, null_pids in per_file:
        if null_pids:
            raise SourceContractError(f"{source_file}: column pid has {null_pids} NULL value(s); pid is required")
    rows_in = sum(r[1] for r in per_file)
    if rows_in == 0:
        raise SourceContractError(f"{landing_dir}: the snapshot is empty (0 rows in {len(files)} file(s))")

    params = {"min_age": min_age, "max_age": max_age, "ref_year": ref_date.year, "ref_month": ref_date.month}
    with atomic_dir(target_dir) as tmp:
        duck.copy_to_parquet(con, duck.load_sql("predict_age", "source_snapshot"), params, tmp / "source_snapshot.parquet")
        duck.copy_to_parquet(con, duck.load_sql("predict_age", "source_duplicates"), None, tmp / "duplicate_pids.parquet")
        duck.view(con, "source_snapshot", tmp / "source_snapshot.parquet")
        rows_out = con.execute("SELECT count(*) FROM source_snapshot").fetchone()[0]
        duplicates = rows_in - rows_out
        duplicate_sample = duck.rows(con, f"SELECT pid, source_file, source_row FROM "
                                          f"{duck.parquet_source(tmp / 'duplicate_pids.parquet')} ORDER BY pid LIMIT 5")
        usable_age, usable_year = con.execute(
            "SELECT count(approximate_age), count(birth_year) FROM source_snapshot"
        ).fetchone()
        problems_sql, labels = _column_problems_sql(present)
        counts = con.execute(problems_sql).fetchone()
        quarantine = duck.query(con, "predict_age", "source_quarantine", {"duplicates": duplicates}) + [
            {"column_name": column, "reason": reason, "rows": n} for (column, reason), n in zip(labels, counts) if n
        ]
        con.execute("CREATE TABLE quarantine AS SELECT * FROM (VALUES (NULL::VARCHAR, NULL::VARCHAR, NULL::BIGINT)) "
                    "t(column_name, reason, rows) WHERE false")
        con.executemany("INSERT INTO quarantine VALUES (?, ?, ?)", [list(q.values()) for q in quarantine])
        duck.copy_to_parquet(con, "SELECT * FROM quarantine", None, tmp / "quarantine.parquet")
    con.close()
    return SourceSnapshotStats(
        files=[str(f) for f in files],
        rows_in=rows_in,
        rows_out=rows_out,
        duplicate_pids=duplicates,
        quarantine=quarantine,
        extra_columns=sorted(extra),
        absent_optional_columns=sorted(absent),
        usable_approximate_age=usable_age,
        usable_birth_year=usable_year,
        duplicate_sample=duplicate_sample,
    )
