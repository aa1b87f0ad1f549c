"""readmission's raw contract: one month's delivery of encounters, as the public "Diabetes
130-US hospitals" table has them, plus the encounter date.

A delivery that cannot be read (no marker, an unreadable file, a missing column, an encounter_id
that is not an integer or is NULL, no rows, a file whose pages cannot be decoded) is refused with a
one-line `ContractError` naming the file and column. The typed view is built here rather than by
`open_delivery`, whose SQL takes only lower-case identifiers: the original's columns include
`A1Cresult`, `diabetesMed` and `glyburide-metformin`. Row by row, nothing is dropped silently: codes are checked exactly
(case-sensitive) against the allowed sets below, integers against their ranges and diagnoses
against the ICD-9 format; a value that fails becomes NULL in silver and is counted per column and
reason with an example value and its file. Rows without a usable date in the month or a patient,
and repeated encounter_ids, are set aside and counted. "?" (and gender "Unknown/Invalid") mean
unknown, as in the original: NULL in silver, counted as `unknown`.
"""

from __future__ import annotations

from datetime import date

import duckdb

from platform_assets.readmission.logic import icd9
from platform_assets.readmission.logic.schema import AGE_BRACKETS, JOB, MEDICATIONS, READMITTED
from platform_core import duck
from platform_core.contract import Column, Contract, ContractError, delivery_files, validate_schemas
from platform_core.storage import Location

UNKNOWN_CODES = ["?", "Unknown/Invalid"]
MEDICATION_VALUES = ["No", "Steady", "Up", "Down"]
ALLOWED: dict[str, list[str]] = {
    "race": ["Caucasian", "AfricanAmerican", "Hispanic", "Asian", "Other"],
    "gender": ["Female", "Male"],
    "age": AGE_BRACKETS,
    "payer_code": ["MC", "MD", "HM", "UN", "BC", "SP", "CP", "SI", "DM", "CM", "CH", "PO", "WC", "OT", "OG", "MP", "FR"],
    "max_glu_serum": ["None", "Norm", ">200", ">300"],
    "A1Cresult": ["None", "Norm", ">7", ">8"],
    **{name: MEDICATION_VALUES for name in MEDICATIONS},
    "change": ["Ch", "No"],
    "diabetesMed": ["Yes", "No"],
    "readmitted": READMITTED,
}
FREE_TEXT = ["medical_specialty"]  # any non-blank text; "?" is unknown
DIAGNOSES = ["diag_1", "diag_2", "diag_3"]
RANGES: dict[str, tuple[int, int]] = {  # integer columns: values outside become NULL (out_of_range)
    "admission_type_id": (1, 8), "discharge_disposition_id": (1, 30), "admission_source_id": (1, 26),
    "time_in_hospital": (1, 14), "num_lab_procedures": (0, 200), "num_procedures": (0, 10), "num_medications": (0, 200),
    "number_outpatient": (0, 100), "number_emergency": (0, 100), "number_inpatient": (0, 100),
    "number_diagnoses": (1, 16),
}
_ORDER = ["encounter_id", "patient_nbr", "race", "gender", "age", "admission_type_id", "discharge_disposition_id",
          "admission_source_id", "time_in_hospital", "payer_code", "medical_specialty", "num_lab_procedures",
          "num_procedures", "num_medications", "number_outpatient", "number_emergency", "number_inpatient", *DIAGNOSES,
          "number_diagnoses", "max_glu_serum", "A1Cresult", *MEDICATIONS, "change", "diabetesMed", "readmitted",
          "encounter_date"]
CONTRACT = Contract(
    key="encounter_id",
    columns={
        name: Column("BIGINT" if name in ("encounter_id", "patient_nbr") else "INTEGER" if name in RANGES
                     else "DATE" if name == "encounter_date" else "VARCHAR", required=True,
                     description=f"one of {', '.join(ALLOWED[name])}" if name in ALLOWED else "")
        for name in _ORDER
    },
    raw_columns=(*ALLOWED, *FREE_TEXT, *DIAGNOSES),  # checked by sql/readmission/source_problems.sql
)


def sql_params() -> dict:
    """The contract's sets and ranges as the bound parameters of the readmission SQL."""
    return {
        "allowed": {"key": list(ALLOWED), "value": list(ALLOWED.values())},
        "coded": [*ALLOWED, *FREE_TEXT],
        "unknown": UNKNOWN_CODES,
        "ranges": {"key": list(RANGES), "value": [list(bounds) for bounds in RANGES.values()]},
        "medications": MEDICATIONS,
        "medication_values": MEDICATION_VALUES,
    }


def one_line(message: object) -> str:
    """An error's text on one line (a reader's message may carry line breaks)."""
    return " ".join(str(message).split())


def _unreadable_file(con: duckdb.DuckDBPyConnection, files: list[Location], error: duckdb.Error) -> ContractError:
    """The ContractError for a delivery DuckDB could not decode: the first file that fails a full
    read on its own, with the reader's reason (a file's footer can be sound and its pages not)."""
    for path in files:
        try:
            con.execute(f"SELECT max(hash(COLUMNS(*))) FROM read_parquet({duck.literal(path)})").fetchall()
        except duckdb.Error as exc:
            return ContractError(f"{path}: unreadable Parquet file ({one_line(exc)})")
    return ContractError(f"{files[0].parent}: the delivery's {len(files)} file(s) cannot be read together ({one_line(error)})")


def open_month(con: duckdb.DuckDBPyConnection, landing_dir: Location, month: date) -> dict:
    """Validate a month's delivery (raises ContractError) and create the view `raw_files` and the
    temp table `screened`: every delivered row, typed, with `reject_reason` (NULL when kept).
    Installs the macros the silver SQL uses. Returns files, rows_in, extra columns."""
    files = delivery_files(landing_dir)
    try:
        extra, _ = validate_schemas(files, CONTRACT)  # every column is required: none can be absent
    except ContractError as exc:
        raise ContractError(one_line(exc)) from None
    file_list = "[" + ", ".join(duck.literal(f) for f in files) + "]"
    con.execute(f"CREATE VIEW raw_files AS SELECT * FROM read_parquet({file_list}, union_by_name = true, "
                "filename = true, file_row_number = true)")
    con.execute(duck.load_sql(JOB, "source_macros"))
    icd9.install(con)
    kinds = CONTRACT.types()
    try:
        con.execute(f"CREATE TEMP TABLE screened AS {duck.load_sql(JOB, 'source_screen')}", {
            "integers": [c for c, kind in kinds.items() if kind == "INTEGER"],
            "texts": [c for c, kind in kinds.items() if kind == "VARCHAR"],
            "month_start": month,
        })
    except duckdb.Error as exc:
        raise _unreadable_file(con, files, exc) from None
    per_file = con.execute("SELECT source_file, count(*), count(*) FILTER (WHERE encounter_id IS NULL), "
                           "min(source_row) FILTER (WHERE encounter_id IS NULL) + 1 "
                           "FROM screened GROUP BY ALL ORDER BY ALL").fetchall()
    for source_file, rows, null_keys, first_row in per_file:
        if null_keys:
            raise ContractError(f"{source_file}: column encounter_id has {null_keys:,} of {rows:,} rows NULL (the first in "
                                f"row {first_row}, counting from 1); encounter_id is required")
    rows_in = sum(row[1] for row in per_file)
    if rows_in == 0:
        raise ContractError(f"{landing_dir}: the delivery is empty (0 rows in {len(files)} file(s))")
    return {"files": [str(f) for f in files], "rows_in": rows_in, "extra": sorted(extra)}


def delivery_problems(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per column and reason, the values set to NULL and the rows set aside (after open_month):
    column_name, reason, rows, example_value, example_file. Values that are not of the column's
    type (not_a_integer, not_a_bigint, not_a_date) are counted over every delivered row."""
    params = sql_params()
    found = duck.query(con, JOB, "source_problems",
                       {k: params[k] for k in ("allowed", "coded", "unknown", "ranges")})
    typed = {kind: [c for c, k in CONTRACT.types().items() if k == kind and c not in (CONTRACT.key, *CONTRACT.raw_columns)]
             for kind in ("INTEGER", "BIGINT", "DATE")}
    cast = duck.query(con, JOB, "source_cast_problems",
                      {"integers": typed["INTEGER"], "bigints": typed["BIGINT"], "dates": typed["DATE"]})
    return sorted(found + cast, key=lambda p: (p["column_name"], p["reason"]))
