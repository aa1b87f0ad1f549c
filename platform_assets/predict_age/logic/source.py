"""predict_age's source contract (SOURCE_CONTRACT.md) and the `source_snapshot` stage.

The contract is declared here and enforced by platform_core.contract: fatal problems raise
`ContractError` naming the file and column; unusable ages and birth years, unknown codes and
duplicate pids are cast to NULL or set aside and counted in the quarter's quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from platform_core import duck
from platform_core.contract import Column, Contract, column_problems, open_delivery
from platform_core.storage import Location, atomic_dir

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

_KINDS = {
    "pid": "BIGINT", "approximate_age": "VARCHAR", "birth_year": "VARCHAR", "gender": "VARCHAR", "first_name": "VARCHAR",
    "state": "VARCHAR", "zip5": "VARCHAR", "marital_status": "VARCHAR", "household_size": "INTEGER",
    "num_children": "INTEGER", "homeowner": "VARCHAR", "length_of_residence": "INTEGER", "income_band": "VARCHAR",
    "net_worth_band": "VARCHAR", "education": "VARCHAR", "occupation_group": "VARCHAR", "vehicle_count": "INTEGER",
    "newest_vehicle_year": "INTEGER", "has_landline": "VARCHAR", "has_mobile": "VARCHAR", "email_domain_type": "VARCHAR",
    "social_profiles": "INTEGER", "credit_card_count": "INTEGER", "voter_registered": "VARCHAR",
    "first_seen_date": "DATE", "last_activity_date": "DATE",
}
CONTRACT = Contract(
    key="pid",
    columns={name: Column(kind, required=name in ("pid", "approximate_age", "birth_year"),
                          allowed=tuple(ALLOWED.get(name, ())), case="lower" if name == "email_domain_type" else "upper",
                          text=name in ("first_name", "zip5"))
             for name, kind in _KINDS.items()},
    raw_columns=("approximate_age", "birth_year"),  # classified by sql/predict_age/source_snapshot.sql
)

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


def build_source_snapshot(
    landing_dir: Location, target_dir: Location, ref_date: date, min_age: int, max_age: int, threads: int | None = None
) -> SourceSnapshotStats:
    con = duck.connect(threads)
    delivery = open_delivery(con, landing_dir, CONTRACT)
    rows_in = delivery["rows_in"]

    params = {"min_age": min_age, "max_age": max_age, "ref_year": ref_date.year, "ref_month": ref_date.month}
    with atomic_dir(target_dir) as tmp:
        duck.copy_to_parquet(con, duck.load_sql("predict_age", "source_duplicates"), None, tmp / "duplicate_pids.parquet")
        duck.view(con, "duplicate_rows", tmp / "duplicate_pids.parquet")
        duck.copy_to_parquet(con, duck.load_sql("predict_age", "source_snapshot"), params, tmp / "source_snapshot.parquet")
        duck.view(con, "source_snapshot", tmp / "source_snapshot.parquet")
        rows_out = con.execute("SELECT count(*) FROM source_snapshot").fetchone()[0]
        duplicates = rows_in - rows_out
        duplicate_sample = duck.rows(con, f"SELECT pid, source_file, source_row FROM "
                                          f"{duck.parquet_source(tmp / 'duplicate_pids.parquet')} ORDER BY pid LIMIT 5")
        usable_age, usable_year = con.execute(
            "SELECT count(approximate_age), count(birth_year) FROM source_snapshot"
        ).fetchone()
        quarantine = (duck.query(con, "predict_age", "source_quarantine", {"duplicates": duplicates})
                      + column_problems(con, CONTRACT, delivery["present"], delivery["coded"]))
        con.execute("CREATE TABLE quarantine AS SELECT * FROM (VALUES (NULL::VARCHAR, NULL::VARCHAR, NULL::BIGINT)) "
                    "t(column_name, reason, rows) WHERE false")
        con.executemany("INSERT INTO quarantine VALUES (?, ?, ?)", [list(q.values()) for q in quarantine])
        duck.copy_to_parquet(con, "SELECT * FROM quarantine", None, tmp / "quarantine.parquet")
    con.close()
    return SourceSnapshotStats(
        files=delivery["files"],
        rows_in=rows_in,
        rows_out=rows_out,
        duplicate_pids=duplicates,
        quarantine=quarantine,
        extra_columns=delivery["extra"],
        absent_optional_columns=delivery["absent"],
        usable_approximate_age=usable_age,
        usable_birth_year=usable_year,
        duplicate_sample=duplicate_sample,
    )
