"""The contract engine: a job declares its delivery's columns (a `Contract`), and this module
checks a delivery against it and builds the typed, cleaned view of it in DuckDB.

Fatal problems (no files, an unreadable file, a missing required column, a key that is not an
integer or is NULL, an empty delivery) raise `ContractError` naming the file and column.
Row-level problems (unknown codes, non-numbers) are cast to NULL and counted per column and
reason, for the job's quarantine. A numeric column may declare finite `bounds`: a value outside
them, NaN or an infinity is NULL in the typed view too, and each one is listed, with its row and
reason (RANGE_REASONS), in the table `range_problems`, so a job can also set its rows aside.
Coded columns are cleaned by a lookup of the distinct values the delivery holds
(`profile_coded`); those values enter the view's SQL as quoted literals.
Names beginning with `.` or `_` are not data (Hadoop/Spark convention: temporary and marker files).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from platform_core import duck
from platform_core.storage import SUCCESS_MARKER, Location

KINDS = ("VARCHAR", "INTEGER", "BIGINT", "DOUBLE", "DATE", "BOOLEAN")
NUMERIC_KINDS = ("INTEGER", "BIGINT", "DOUBLE")
RANGE_REASONS = ("nan", "infinite", "out_of_range")  # why a value of a bounded column is outside its bounds


class ContractError(ValueError):
    """A delivery breaks its contract; the message names the file, column and values."""


@dataclass(frozen=True)
class Column:
    kind: str  # DuckDB type after casting: VARCHAR, INTEGER, BIGINT, DOUBLE, DATE
    required: bool = False
    allowed: tuple[str, ...] = ()  # coded column: values after trim and case folding; blank means unknown
    case: str = "upper"  # how coded values are folded before matching: upper | lower
    text: bool = False  # free text: trimmed (and case-folded if `case`), blank -> NULL
    description: str = ""
    bounds: tuple[float, float] | None = None  # numeric column: finite values in [low, high] only (NULL stays allowed)

    def __post_init__(self):
        if self.kind not in KINDS or self.case not in ("upper", "lower"):  # both are spliced into SQL
            raise ValueError(f"column kind must be one of {KINDS} and case upper or lower, got {self.kind!r}, {self.case!r}")
        if self.bounds is not None:  # spliced into SQL as float literals
            low, high = (float(b) for b in self.bounds)
            if self.kind not in NUMERIC_KINDS or not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise ValueError(f"bounds need a {'/'.join(NUMERIC_KINDS)} column and finite low <= high, "
                                 f"got {self.kind} {self.bounds!r}")


@dataclass(frozen=True)
class Contract:
    key: str  # the integer id column: required, never NULL
    columns: dict[str, Column] = field(default_factory=dict)
    raw_columns: tuple[str, ...] = ()  # kept as text (VARCHAR) and classified by the job's own SQL, not counted here

    @property
    def required(self) -> list[str]:
        return [c for c, col in self.columns.items() if col.required]

    def types(self) -> dict[str, str]:
        return {c: col.kind for c, col in self.columns.items()}


def delivery_files(landing_dir: Location) -> list[Location]:
    """The delivery's Parquet files, only once it is complete."""
    if not landing_dir.is_dir():
        raise ContractError(f"{landing_dir}: nothing delivered (directory missing)")
    if not (landing_dir / SUCCESS_MARKER).exists():
        raise ContractError(f"{landing_dir}: delivery incomplete, no {SUCCESS_MARKER} marker")
    files = sorted(p for p in landing_dir.glob("*.parquet") if not p.name.startswith((".", "_")))
    if not files:
        raise ContractError(f"{landing_dir}: no Parquet files in the delivery")
    return files


def validate_schemas(files: list[Location], contract: Contract) -> tuple[set[str], set[str]]:
    """Check every file's schema against the contract; return (extra, absent optional) columns."""
    extra: set[str] = set()
    seen: set[str] = set()
    for path in files:
        try:
            with path.open("rb") as handle:
                schema = pq.read_schema(handle)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ContractError(f"{path}: unreadable Parquet file ({exc})") from exc
        names = set(schema.names)
        missing = [c for c in contract.required if c not in names]
        if missing:
            raise ContractError(f"{path}: missing required column(s) {', '.join(missing)}")
        key_type = schema.field(contract.key).type
        if not pa.types.is_integer(key_type):
            with path.open("rb") as handle:
                sample = pq.read_table(handle, columns=[contract.key]).column(contract.key).slice(0, 5).to_pylist()
            raise ContractError(f"{path}: column {contract.key} must be an integer, found {key_type} (first values: {sample})")
        extra |= names - set(contract.columns)
        seen |= names
    return extra, {c for c in contract.columns if c not in seen}


def _normalized(column: str, col: Column) -> str:
    return f"{col.case}(trim(CAST({duck.ident(column)} AS VARCHAR)))"


# A coded column whose delivery holds at most this many distinct values that need cleaning is
# cleaned by a lookup of exactly those values; clean values pass through untouched.
MAX_DIRTY_VALUES = 1000


@dataclass(frozen=True)
class CodedProfile:
    """One coded column's distinct delivered values, from one grouped scan of that column."""
    unknown_rows: int  # non-blank values that are not an allowed code after trim and case folding
    dirty: tuple[tuple[str, str | None], ...] | None  # (delivered, cleaned) for values cleaning changes; None: too many


def profile_coded(con: duckdb.DuckDBPyConnection, contract: Contract, present: set[str]) -> dict[str, CodedProfile]:
    """Group each coded column of view raw_files by its delivered value. A coded column has few
    distinct values, so this reads each column once and evaluates trim, case folding and the
    allowed list on distinct values instead of on every row (cleaning and counting both use it)."""
    coded = [c for c, col in contract.columns.items() if col.allowed and c in present]
    if not coded:
        return {}
    parts = []
    for column in coded:
        col = contract.columns[column]
        allowed = ", ".join(duck.literal(v) for v in col.allowed)
        parts.append(
            f"SELECT {duck.literal(column)} AS column_name, raw, cleaned, n FROM ("
            f"SELECT raw, CASE WHEN {col.case}(trim(raw)) IN ({allowed}) THEN {col.case}(trim(raw)) END AS cleaned, n "
            f"FROM (SELECT CAST({duck.ident(column)} AS VARCHAR) AS raw, count(*) AS n FROM raw_files GROUP BY raw))")
    found = con.execute(
        f"SELECT column_name, sum(n) FILTER (WHERE raw IS NOT NULL AND trim(raw) <> '' AND cleaned IS NULL), "
        f"count(*) FILTER (WHERE raw IS DISTINCT FROM cleaned AND raw IS NOT NULL), "
        f"list((raw, cleaned)) FILTER (WHERE raw IS DISTINCT FROM cleaned AND raw IS NOT NULL) "
        f"FROM ({' UNION ALL '.join(parts)}) GROUP BY column_name").fetchall()
    return {column: CodedProfile(unknown_rows=int(unknown or 0),
                                 dirty=tuple(tuple(v) for v in values or []) if n_dirty <= MAX_DIRTY_VALUES else None)
            for column, unknown, n_dirty, values in found}


def _clean_column(column: str, col: Column, present: bool, profile: CodedProfile | None) -> str:
    """SQL for one contract column: cast, trimmed, unknown codes to NULL."""
    name = duck.ident(column)
    if not present:
        return f"CAST(NULL AS {col.kind}) AS {name}"
    if col.allowed and profile is not None and profile.dirty is not None:
        raw = f"CAST({name} AS VARCHAR)"
        if not profile.dirty:
            return f"{raw} AS {name}"
        lookup = " ".join(f"WHEN {duck.literal(v)} THEN {duck.literal(c) if c is not None else 'NULL'}" for v, c in profile.dirty)
        return f"CASE {raw} {lookup} ELSE {raw} END AS {name}"
    if col.allowed:
        allowed = ", ".join(duck.literal(v) for v in col.allowed)
        return f"CASE WHEN {_normalized(column, col)} IN ({allowed}) THEN {_normalized(column, col)} END AS {name}"
    if col.text:
        return f"NULLIF({_normalized(column, col)}, '') AS {name}"
    if col.bounds:  # NaN and infinities are outside any finite bounds (DuckDB orders NaN above every number)
        return f"CASE WHEN {_within(column, col)} THEN TRY_CAST({name} AS {col.kind}) END AS {name}"
    return f"TRY_CAST({name} AS {col.kind}) AS {name}"


def _within(column: str, col: Column) -> str:
    low, high = (repr(float(b)) for b in col.bounds)
    return f"TRY_CAST({duck.ident(column)} AS {col.kind}) BETWEEN {low}::DOUBLE AND {high}::DOUBLE"


def _range_problems_sql(contract: Contract, present: set[str]) -> str:
    """One pass over raw_files listing each value of a bounded column outside its bounds: key,
    column_name, reason, value (as DOUBLE), source_file, source_row. Only rows with such a value
    are unnested; NULLs and non-numbers (counted as not_a_<kind>) are not range problems."""
    key, kind = duck.ident(contract.key), contract.columns[contract.key].kind
    bounded = [(c, col) for c, col in contract.columns.items() if col.bounds and c in present]
    if not bounded:
        return (f"SELECT CAST(NULL AS {kind}) AS {key}, NULL::VARCHAR AS column_name, NULL::VARCHAR AS reason, "
                "NULL::DOUBLE AS value, NULL::VARCHAR AS source_file, NULL::BIGINT AS source_row WHERE false")
    problems = []
    for column, col in bounded:
        value = f"TRY_CAST({duck.ident(column)} AS {col.kind})::DOUBLE"
        reason = (f"CASE WHEN isnan({value}) THEN 'nan' WHEN isinf({value}) THEN 'infinite' "
                  f"WHEN NOT ({_within(column, col)}) THEN 'out_of_range' END")
        problems.append(f"{{'column_name': {duck.literal(column)}, 'reason': {reason}, 'value': {value}}}")
    outside = " OR ".join(f"NOT coalesce({_within(c, col)}, true)" for c, col in bounded)
    return (f"SELECT TRY_CAST({key} AS {kind}) AS {key}, p.column_name, p.reason, p.value, filename AS source_file, "
            f"file_row_number AS source_row FROM (SELECT *, unnest([{', '.join(problems)}]) AS p FROM raw_files WHERE {outside}) "
            "WHERE p.reason IS NOT NULL")


def _cast_problems_sql(con: duckdb.DuckDBPyConnection, contract: Contract, present: set[str]) -> tuple[str, list[tuple[str, str]]]:
    """One pass over raw_files counting, per typed column, values that are not of its type;
    columns delivered in their contract type already cannot have any and are not read."""
    delivered = {name: kind for name, kind, *_ in con.execute("DESCRIBE raw_files").fetchall()}
    filters, labels = [], []
    for column, col in contract.columns.items():
        if (column not in present or column in contract.raw_columns or column == contract.key or col.text or col.allowed
                or col.kind == "VARCHAR" or delivered.get(column) == col.kind):
            continue
        name = duck.ident(column)
        filters.append(f"count(*) FILTER (WHERE {name} IS NOT NULL AND TRY_CAST({name} AS {col.kind}) IS NULL)")
        labels.append((column, f"not_a_{col.kind.lower()}"))
    return ("SELECT " + ", ".join(filters) + " FROM raw_files") if filters else "", labels


def open_delivery(con: duckdb.DuckDBPyConnection, landing_dir: Location, contract: Contract) -> dict:
    """Validate a delivery and create the views `raw_files` (as delivered, with file name and row
    number) and `raw_source` (every contract column typed and cleaned, absent optional columns as
    NULL, plus source_file and source_row), and the table `range_problems` (values outside their
    column's bounds, one row each; empty without bounded columns). Returns files, rows_in, extra
    and absent columns."""
    files = delivery_files(landing_dir)
    extra, absent = validate_schemas(files, contract)
    present = set(contract.columns) - absent
    file_list = "[" + ", ".join(duck.literal(f) for f in files) + "]"
    con.execute(f"CREATE VIEW raw_files AS SELECT * FROM read_parquet({file_list}, union_by_name = true, "
                "filename = true, file_row_number = true)")
    coded = profile_coded(con, contract, present)
    columns = [_clean_column(c, col, c in present, coded.get(c)) for c, col in contract.columns.items()]
    con.execute(f"CREATE VIEW raw_source AS SELECT {', '.join(columns)}, filename AS source_file, "
                "file_row_number AS source_row FROM raw_files")
    con.execute(f"CREATE TEMP TABLE range_problems AS {_range_problems_sql(contract, present)}")
    key, kind = duck.ident(contract.key), contract.columns[contract.key].kind
    per_file = con.execute(
        f"SELECT filename, count(*), count(*) FILTER (WHERE {key} IS NULL), "
        f"count(*) FILTER (WHERE {key} IS NOT NULL AND TRY_CAST({key} AS {kind}) IS NULL), "
        f"max({key}) FILTER (WHERE TRY_CAST({key} AS {kind}) IS NULL) FROM raw_files GROUP BY ALL ORDER BY ALL").fetchall()
    for source_file, _, null_keys, out_of_range, example in per_file:
        if out_of_range:
            raise ContractError(f"{source_file}: column {contract.key} has {out_of_range} value(s) out of range for {kind} "
                                f"(e.g. {example}); ids must fit a signed 64-bit integer")
        if null_keys:
            raise ContractError(f"{source_file}: column {contract.key} has {null_keys} NULL value(s); {contract.key} is required")
    rows_in = sum(r[1] for r in per_file)
    if rows_in == 0:
        raise ContractError(f"{landing_dir}: the delivery is empty (0 rows in {len(files)} file(s))")
    return {"files": [str(f) for f in files], "rows_in": rows_in, "extra": sorted(extra), "absent": sorted(absent),
            "present": present, "coded": coded}


def column_problems(con: duckdb.DuckDBPyConnection, contract: Contract, present: set[str],
                    coded: dict[str, CodedProfile] | None = None) -> list[dict]:
    """Per column and reason, the values cast to NULL (the quarantine's row-level part), those
    outside a column's bounds included (reasons RANGE_REASONS); `coded` is open_delivery's
    profile of the coded columns, computed here when not given."""
    coded = profile_coded(con, contract, present) if coded is None else coded
    sql, labels = _cast_problems_sql(con, contract, present)
    counts = con.execute(sql).fetchone() if sql else ()
    bounded = any(col.bounds and c in present for c, col in contract.columns.items())  # range_problems: open_delivery's
    outside = con.execute("SELECT column_name, reason, count(*) FROM range_problems GROUP BY ALL").fetchall() if bounded else []
    found = [(column, "unknown_category", p.unknown_rows) for column, p in coded.items()] + [
        (column, reason, n) for (column, reason), n in zip(labels, counts)] + sorted(
        outside, key=lambda f: RANGE_REASONS.index(f[1]))
    return [{"column_name": column, "reason": reason, "rows": n}
            for column, reason, n in sorted(found, key=lambda f: list(contract.columns).index(f[0])) if n]
