"""engagement's delivery contract and the `customers` stage.

A month's delivery is one customer table: every customer with the 72 features and the
protected attributes, and `engagement_score` for the customers whose engagement is known
(the training labels); customers without it are the ones to score. The contract engine
(platform_core.contract) types and cleans it; duplicate customer ids and labels outside [0, 1]
are set aside and counted, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from platform_assets.engagement.logic.world import AGE_GROUPS, FEATURES, GENDERS, KEY, LABEL, LOCATIONS
from platform_core import duck
from platform_core.contract import Column, Contract, column_problems, open_delivery
from platform_core.storage import Location, atomic_dir

CONTRACT = Contract(
    key=KEY,
    columns={
        KEY: Column("BIGINT", required=True, description="customer id, unique within a month"),
        **{name: Column("DOUBLE", required=True) for name in FEATURES},
        "age_group": Column("VARCHAR", required=True, allowed=tuple(AGE_GROUPS), description="protected attribute"),
        "gender": Column("VARCHAR", required=True, allowed=tuple(GENDERS), description="protected attribute"),
        "location": Column("VARCHAR", required=True, allowed=tuple(LOCATIONS), case="lower", description="protected attribute"),
        LABEL: Column("DOUBLE", description="known engagement in [0, 1]; NULL for customers to score"),
    },
)


@dataclass
class CustomersStats:
    files: list[str]
    rows_in: int
    rows_out: int
    labelled: int
    to_score: int
    duplicates: int
    quarantine: list[dict]
    extra_columns: list[str]


def build_customers(landing_dir: Location, target_dir: Location, threads: int | None = None) -> CustomersStats:
    con = duck.connect(threads)
    delivery = open_delivery(con, landing_dir, CONTRACT)
    with atomic_dir(target_dir) as tmp:
        duck.copy_to_parquet(con, duck.load_sql("engagement", "customers"), None, tmp / "customers.parquet")
        duck.view(con, "customers", tmp / "customers.parquet")
        rows_out, labelled, bad_labels = con.execute(
            f"SELECT count(*), count({LABEL}), count(*) FILTER (WHERE label_status = 'out_of_range') FROM customers").fetchone()
        problems = column_problems(con, CONTRACT, delivery["present"], delivery["coded"])
    con.close()
    duplicates = delivery["rows_in"] - rows_out
    quarantine = [q for q in ({"column_name": KEY, "reason": "duplicate", "rows": duplicates},
                              {"column_name": LABEL, "reason": "out_of_range", "rows": bad_labels}) if q["rows"]]
    return CustomersStats(files=delivery["files"], rows_in=delivery["rows_in"], rows_out=rows_out, labelled=labelled,
                          to_score=rows_out - labelled, duplicates=duplicates,
                          quarantine=quarantine + problems, extra_columns=delivery["extra"])
