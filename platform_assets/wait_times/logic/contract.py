"""wait_times' input contract: which files a day's delivery may hold, each table's columns and
types, and the plausible range of each number.

A delivery is the folder `landing/wait_times/<YYYY-MM-DD>/` with `_SUCCESS` last. Every file in
it is read or the delivery is refused: a file belongs to the table whose pattern its name
matches (`observations part 2.parquet` is observations), a table may come in several files, and
a file that matches no pattern stops the ETL with a paragraph naming it, so no delivered data is
ignored silently. Names beginning with `.` or `_` are not data (the platform's convention, as in
`platform_core.contract`: markers and temporary files).

What breaks the contract is fatal (`ContractError`, one paragraph naming the file, column and
what to do): a missing table or required column, a column of the wrong type, an unreadable
file. Row values outside their range are not fatal: observations are quarantined per column and
reason (sql/wait_times/observations_classified.sql reads RANGES through bound parameters), and the
ETL's blocking check refuses a day whose quarantined share passes its limit.

The contract engine's `open_delivery` reads one table per folder and its column kinds have no
timestamps, so this contract is declared here; its errors are the engine's `ContractError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

import pyarrow as pa
import pyarrow.parquet as pq

from platform_core.contract import ContractError
from platform_core.storage import SUCCESS_MARKER, Location

MAX_WAIT = 600  # minutes; a posted or actual wait above it is implausible
MAX_ENTITY_ID = 2**31 - 1  # entity ids are 32-bit in every table

# Arrow type families a delivered column may have.
FAMILIES = {
    "integer": pa.types.is_integer,
    "number": lambda t: pa.types.is_integer(t) or pa.types.is_floating(t),
    "timestamp": pa.types.is_timestamp,
    "date": pa.types.is_date,
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
}


@dataclass(frozen=True)
class Field:
    family: str  # a key of FAMILIES
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class DeliveredTable:
    pattern: str  # the file names this table is read from (shell pattern, case-sensitive)
    fields: dict[str, Field]
    description: str = ""


TABLES: dict[str, DeliveredTable] = {
    "observations": DeliveredTable("observations*.parquet", {
        "entity_id": Field("integer", description="the entity observed; an id not in the day's entity list is quarantined"),
        "observed_at": Field("timestamp", description="local park time; another day than the delivery's is quarantined"),
        "posted_wait": Field("number", description=f"minutes, 0 to {MAX_WAIT}; otherwise quarantined"),
        "actual_wait": Field("number", required=False, description=f"minutes measured, 0 to {MAX_WAIT}, for a share"),
    }, "the day's wait-time observations"),
    "entities": DeliveredTable("entities*.parquet", {
        "entity_id": Field("integer", description=f"unique per delivery, 1 to {MAX_ENTITY_ID:,}"),
        "entity_name": Field("string"),
        "park": Field("string", description="one of the known parks"),
        "opened_on": Field("date"),
    }, "the entity list as of the day"),
    "park_hours": DeliveredTable("park_hours*.parquet", {
        "park": Field("string", description="one of the known parks"),
        "date": Field("date", description="the day and the days ahead (the published schedule)"),
        "opens_at": Field("timestamp"),
        "closes_at": Field("timestamp", description="after opens_at"),
    }, "each park's hours on the day and the days ahead"),
    "events": DeliveredTable("events*.parquet", {
        "park": Field("string"),
        "date": Field("date"),
        "event": Field("string", description="holiday, festival, extended_hours or party"),
    }, "each park's events on the day and the days ahead"),
}
# Bounds of the observation values the classification checks (bound parameters of its SQL).
RANGES = {"posted_wait": (0, MAX_WAIT), "actual_wait": (0, MAX_WAIT)}

_REDELIVER = "the day's delivery is refused: correct it at the source and deliver the day again"


def table_of(name: str) -> str | None:
    """The table a delivered file name belongs to (None: no table reads it)."""
    return next((table for table, spec in TABLES.items() if fnmatchcase(name, spec.pattern)), None)


def read_schema(path: Location) -> pa.Schema:
    """The file's Parquet schema; an unreadable file is a ContractError naming it."""
    try:
        with path.open("rb") as handle:
            return pq.read_schema(handle)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ContractError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]}); {_REDELIVER} "
                            "with a valid Parquet file") from exc


def check_schema(table: str, path: Location, schema: pa.Schema) -> None:
    """Required columns present, every contract column of its type family (raises ContractError)."""
    for column, spec in TABLES[table].fields.items():
        if column not in schema.names:
            if spec.required:
                raise ContractError(f"{path}: missing required column {column} ({table} files must have "
                                    f"{', '.join(c for c, f in TABLES[table].fields.items() if f.required)}); {_REDELIVER}")
            continue
        kind = schema.field(column).type
        if not FAMILIES[spec.family](kind):
            raise ContractError(f"{path}: column {column} must be {'an' if spec.family == 'integer' else 'a'} "
                                f"{spec.family}, found {kind}; {_REDELIVER}")


def delivery_files(folder: Location) -> dict[str, list[tuple[Location, pa.Schema]]]:
    """Every file of one day's delivery by table, each with its checked schema. Refused
    (ContractError): no complete delivery, a file no table reads, a table without a file."""
    if not (folder / SUCCESS_MARKER).exists():
        raise ContractError(f"{folder}: no complete delivery (missing folder or {SUCCESS_MARKER} marker); "
                            "deliver the day, with the marker written last")
    found: dict[str, list[tuple[Location, pa.Schema]]] = {table: [] for table in TABLES}
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith((".", "_")):
            continue
        table = table_of(path.name) if path.is_file() else None
        if table is None:
            patterns = ", ".join(spec.pattern for spec in TABLES.values())
            raise ContractError(f"{path}: the delivery holds a {'file' if path.is_file() else 'folder'} that no table of "
                                f"the wait_times contract reads (a delivery holds only {patterns}); it is refused rather "
                                "than read in part: deliver the day again without it, or named for the table it belongs to")
        schema = read_schema(path)
        check_schema(table, path, schema)
        found[table].append((path, schema))
    for table, files in found.items():
        if not files:
            raise ContractError(f"{folder}: no {TABLES[table].pattern} file ({TABLES[table].description}); {_REDELIVER} "
                                "with every table")
    return found
