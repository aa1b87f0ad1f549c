"""readmission's data stages on hand-made and generated deliveries: contract, silver, gold."""

from __future__ import annotations

import hashlib
import io

import polars as pl
import pytest

from platform_assets.readmission.logic import gold, icd9, silver, world
from platform_assets.readmission.logic.schema import CATEGORICAL_FEATURES, JOB, KEYS, LABEL, MEDICATIONS, NUMERIC_FEATURES
from platform_core.contract import ContractError
from platform_core.storage import SUCCESS_MARKER, DataLayout, current

MONTH = "2008-03"


@pytest.fixture(scope="module")
def month_rows() -> pl.DataFrame:
    """Six real-looking encounters of 2008-03 from a small world, to edit by hand."""
    encounters, _ = world.generate_world(3_000, seed=5)
    return encounters.filter(pl.col("encounter_date").dt.strftime("%Y-%m") == MONTH).head(6)


def deliver(layout: DataLayout, frame: pl.DataFrame, month: str = MONTH) -> None:
    landing = layout.landing(JOB, month)
    landing.mkdir(parents=True)
    frame.write_parquet(landing / "part-0.parquet")
    (landing / SUCCESS_MARKER).write_text("")


def hand_made(rows: pl.DataFrame) -> pl.DataFrame:
    """Known "?" and codes: race ? in rows 0 and 1, payer ? in 0, 2, 4, specialty ? in row 3, diag_1
    ? in row 5; diagnoses 250.83 / V57 / E888 / 8 / 1234 / 428 in diag_2; insulin and metformin set."""
    def column(name, values):
        return pl.Series(name, values, dtype=rows.schema[name])
    return rows.with_columns(
        column("race", ["?", "?", "Caucasian", "AfricanAmerican", "Hispanic", "Asian"]),
        column("payer_code", ["?", "MC", "?", "BC", "?", "SP"]),
        column("medical_specialty", ["Cardiology", "InternalMedicine", "Surgery-General", "?", "Nephrology", "Urology"]),
        column("diag_1", ["428", "414", "486", "250.02", "715", "?"]),
        column("diag_2", ["250.83", "V57", "E888", "8", "1234", "428"]),
        column("diag_3", ["786", "787", "788", "785", "999", "140"]),
        column("gender", ["Female", "Male", "Unknown/Invalid", "Female", "Male", "Female"]),
        column("age", ["[70-80)", "[0-10)", "[90-100)", "[50-60)", "[60-70)", "[40-50)"]),
        column("readmitted", ["<30", ">30", "NO", "<30", "NO", "NO"]),
        *[column(name, ["No"] * 6) for name in MEDICATIONS],
    ).with_columns(
        column("insulin", ["Up", "Steady", "No", "Down", "No", "Steady"]),
        column("metformin", ["Steady", "Up", "No", "No", "No", "No"]),
    )


def silver_table(layout: DataLayout) -> pl.DataFrame:
    return pl.read_parquet(current(layout.table(JOB, silver.SILVER, MONTH)) / "encounters.parquet")


def test_icd9_chapters_of_known_codes():
    codes = ["250.83", "250", "428", "785", "786", "787", "788", "486", "577", "996", "715", "599", "162", "239.9",
             "V57", "v45.1", "E888", "8", "276", " 414 ", "?", None, "", "1234", "ABC", "0", "V5", "E12"]
    expected = ["diabetes", "diabetes", "circulatory", "circulatory", "respiratory", "digestive", "genitourinary",
                "respiratory", "digestive", "injury", "musculoskeletal", "genitourinary", "neoplasms", "neoplasms",
                "other", "other", "other", "other", "other", "circulatory", None, None, None, None, None, None, None, None]
    result = icd9.chapters(codes)
    assert [chapter for _, chapter in result] == expected
    assert [status for status, _ in result][-8:] == ["unknown"] * 3 + ["unparseable"] * 5


def test_silver_counts_unknowns_exactly_and_derives_columns(tmp_path, month_rows):
    layout = DataLayout.at(tmp_path)
    deliver(layout, hand_made(month_rows))
    figures = silver.build_silver(layout, MONTH)
    assert figures["rows_in"] == figures["rows_out"] == 6
    assert figures["unknown_values"] == {"race": 2, "payer_code": 3, "medical_specialty": 1, "diag_1": 1, "gender": 1}
    assert figures["unparseable_codes"] == {"diag_2": 1}
    assert figures["problems"] == [{"column_name": "diag_2", "reason": "unparseable_icd9", "rows": 1,
                                    "example_value": "1234", "example_file": figures["files"][0]}]
    table = silver_table(layout)
    assert table["race"].null_count() == 2 and table["payer_code"].null_count() == 3
    assert table["gender"].null_count() == 1 and table["medical_specialty"].null_count() == 1
    by_id = {row["encounter_id"]: row for row in table.iter_rows(named=True)}
    rows = [by_id[i] for i in month_rows["encounter_id"]]
    assert [r["diag_2"] for r in rows] == ["250.83", "V57", "E888", "8", "1234", "428"]
    assert [r["diag_2_chapter"] for r in rows] == ["diabetes", "other", "other", "other", None, "circulatory"]
    assert [r["diag_1"] for r in rows][-1] is None and [r["diag_1_chapter"] for r in rows][-1] is None
    assert [r["diag_3_chapter"] for r in rows] == ["respiratory", "digestive", "genitourinary", "circulatory", "injury",
                                                   "neoplasms"]
    assert [r["age_years"] for r in rows] == [75, 5, 95, 55, 65, 45]
    assert [r["medications_active"] for r in rows] == [2, 2, 0, 1, 0, 1]
    assert [r["medications_changed"] for r in rows] == [1, 1, 0, 1, 0, 0]
    assert figures["chapters"]["diag_2_chapter"] == {"diabetes": 1, "other": 3, "unknown": 1, "circulatory": 1}
    quarantine = pl.read_parquet(current(layout.table(JOB, silver.SILVER, MONTH)) / "quarantine.parquet")
    assert dict(zip(quarantine["column_name"] + "/" + quarantine["reason"], quarantine["rows"])) == {
        "diag_1/unknown": 1, "diag_2/unparseable_icd9": 1, "gender/unknown": 1, "medical_specialty/unknown": 1,
        "payer_code/unknown": 3, "race/unknown": 2}


def test_bad_values_are_quarantined_or_refused_by_name(tmp_path, month_rows):
    broken = hand_made(month_rows).with_columns(
        pl.Series("race", ["Martian", "?", "Caucasian", "Caucasian", "Caucasian", "Caucasian"]),
        pl.Series("age", ["[70-80", "[0-10)", "[90-100)", "[50-60)", "[60-70)", "[40-50)"]),
        pl.Series("time_in_hospital", [3, 99, 3, 3, 3, 3]),
    )
    layout = DataLayout.at(tmp_path / "lenient")
    deliver(layout, broken)
    figures = silver.build_silver(layout, MONTH, max_problem_share=0.5)
    problems = {(p["column_name"], p["reason"]): (p["rows"], p["example_value"]) for p in figures["problems"]}
    assert problems[("race", "not_allowed")] == (1, "Martian")
    assert problems[("age", "not_allowed")] == (1, "[70-80")
    assert problems[("time_in_hospital", "out_of_range")] == (1, "99")
    table = silver_table(layout)
    assert figures["rows_out"] == 6 and table["age_years"].null_count() == 1 and table["time_in_hospital"].null_count() == 1

    strict = DataLayout.at(tmp_path / "strict")
    deliver(strict, broken)
    with pytest.raises(ContractError, match=r"part-0\.parquet: column age has 1 of 6 rows not_allowed \(e\.g\. '\[70-80'\)"):
        silver.build_silver(strict, MONTH)
    assert not strict.table(JOB, silver.SILVER, MONTH).exists()  # nothing written


def test_rows_set_aside_are_counted_never_dropped_silently(tmp_path, month_rows):
    from datetime import date

    rows = hand_made(month_rows)
    copy = rows.head(1).with_columns(pl.col("race").replace("?", "Asian"))
    outside = rows.slice(1, 1).with_columns(pl.lit(date(2008, 4, 1)).alias("encounter_date"))
    frame = pl.concat([rows.slice(0, 1), copy, outside, rows.slice(2)])
    layout = DataLayout.at(tmp_path)
    deliver(layout, frame)
    figures = silver.build_silver(layout, MONTH, max_problem_share=0.5)
    assert figures["rows_in"] == 7 and figures["rows_out"] == 5
    assert figures["rows_set_aside"] == {"duplicate": 1, "date_outside_month": 1} and figures["duplicates"] == 1
    table = silver_table(layout)
    first = table.filter(pl.col("encounter_id") == rows["encounter_id"][0])
    assert len(first) == 1 and first["race"][0] is None  # the first copy wins
    rejected = pl.read_parquet(current(layout.table(JOB, silver.SILVER, MONTH)) / "rejected.parquet")
    assert sorted(rejected["reason"].to_list()) == ["date_outside_month", "duplicate"]
    assert rejected.filter(pl.col("reason") == "duplicate")["source_row"].to_list() == [1]


def test_unreadable_deliveries_are_refused_with_the_column(tmp_path, month_rows):
    layout = DataLayout.at(tmp_path / "missing")
    deliver(layout, hand_made(month_rows).drop("A1Cresult"))
    with pytest.raises(ContractError, match="missing required column.*A1Cresult"):
        silver.build_silver(layout, MONTH)
    layout = DataLayout.at(tmp_path / "text_ids")
    deliver(layout, hand_made(month_rows).with_columns(pl.col("encounter_id").cast(pl.String)))
    with pytest.raises(ContractError, match="column encounter_id must be an integer"):
        silver.build_silver(layout, MONTH)
    layout = DataLayout.at(tmp_path / "not_a_number")
    deliver(layout, hand_made(month_rows).with_columns(pl.Series("num_procedures", ["1", "x", "2", "0", "1", "3"])))
    figures = silver.build_silver(layout, MONTH, max_problem_share=0.5)
    assert {"column_name": "num_procedures", "reason": "not_a_integer", "rows": 1, "example_value": "x",
            "example_file": figures["files"][0]} in figures["problems"]


def test_every_refusal_is_one_line_naming_file_column_count_and_a_real_value(tmp_path, month_rows):
    """What a person reads when a month is refused: no `(e.g. None)`, no line break, the file named."""
    def refusal(name: str, frame: pl.DataFrame | None = None, content: bytes | None = None) -> str:
        layout = DataLayout.at(tmp_path / name)
        if frame is not None:
            deliver(layout, frame)
        else:
            landing = layout.landing(JOB, MONTH)
            landing.mkdir(parents=True)
            (landing / "part-0.parquet").write_bytes(content)
            (landing / SUCCESS_MARKER).write_text("")
        with pytest.raises(ContractError) as refused:
            silver.build_silver(layout, MONTH)
        message = str(refused.value)
        assert "\n" not in message and "None" not in message, message
        assert message.startswith(str(layout.landing(JOB, MONTH) / "part-0.parquet")), message
        return message

    rows = hand_made(month_rows)
    assert "column num_procedures has 2 of 6 rows not_a_integer (e.g. 'x')" in refusal(
        "not_a_number", rows.with_columns(pl.Series("num_procedures", ["1", "x", "2", "y", "1", "3"])))
    assert "column encounter_date has 2 of 6 rows missing_date (e.g. '2008-02-30')" in refusal(
        "bad_dates", rows.with_columns(pl.Series("encounter_date", ["2008-03-01", "2008-02-30", None, "2008-03-04",
                                                                      "2008-03-05", "2008-03-06"])))
    assert "column patient_nbr has 2 of 6 rows missing_patient (all empty)" in refusal(
        "no_patient", rows.with_columns(pl.Series("patient_nbr", [1, None, 3, None, 5, 6], dtype=pl.Int64)))
    assert "column encounter_id has 1 of 6 rows NULL (the first in row 3, counting from 1)" in refusal(
        "null_id", rows.with_columns(pl.Series("encounter_id", [1, 2, None, 4, 5, 6], dtype=pl.Int64)))

    buffer = io.BytesIO()
    rows.write_parquet(buffer)
    sound = bytearray(buffer.getvalue())
    pages_scrambled = bytes(b ^ 0x5A if 4 <= i < len(sound) // 3 else b for i, b in enumerate(sound))
    assert "unreadable Parquet file" in refusal("corrupt_pages", content=pages_scrambled)
    assert "unreadable Parquet file" in refusal("truncated", content=bytes(sound[:len(sound) // 2]))


def test_gold_tables_have_exactly_the_schema_columns(tmp_path, month_rows):
    layout = DataLayout.at(tmp_path)
    landing = hand_made(month_rows)
    deliver(layout, landing)
    digest = hashlib.sha256((layout.landing(JOB, MONTH) / "part-0.parquet").read_bytes()).hexdigest()
    silver.build_silver(layout, MONTH)
    features = gold.build_feature_store(layout, MONTH)
    labels = gold.build_label_store(layout, MONTH)
    store = pl.read_parquet(current(layout.table(JOB, gold.FEATURE_STORE, MONTH)) / "feature_store.parquet")
    assert store.columns == KEYS + NUMERIC_FEATURES + CATEGORICAL_FEATURES
    assert LABEL not in store.columns and "readmitted" not in store.columns
    assert all(store.schema[c] == pl.String for c in CATEGORICAL_FEATURES)
    assert all(store.schema[c].is_numeric() for c in NUMERIC_FEATURES)
    assert store["encounter_id"].is_unique().all() and features["rows"] == 6
    assert features["null_counts"] == {"race": 2, "gender": 1, "payer_code": 3, "medical_specialty": 1,
                                       "diag_1_chapter": 1, "diag_2_chapter": 1}
    assert features["unknown_codes"] == {"diag_1_chapter": 1, "diag_2_chapter": 1, "diag_3_chapter": 0}
    assert sorted(store["admission_type_id"].drop_nulls().unique().to_list()) == sorted(
        str(v) for v in landing["admission_type_id"].unique().to_list())

    label_store = pl.read_parquet(current(layout.table(JOB, gold.LABEL_STORE, MONTH)) / "label_store.parquet")
    assert label_store.columns == KEYS + [LABEL] and label_store.schema[LABEL] == pl.Int32
    by_id = dict(zip(label_store["encounter_id"], label_store[LABEL]))
    assert [by_id[i] for i in landing["encounter_id"]] == [1, 0, 0, 1, 0, 0]
    assert labels == {"month": MONTH, "rows": 6, "positives": 2, "label_rate": 2 / 6, "without_label": 0}
    assert hashlib.sha256((layout.landing(JOB, MONTH) / "part-0.parquet").read_bytes()).hexdigest() == digest


def test_a_generated_month_goes_through_unchanged(tmp_path):
    layout = DataLayout.at(tmp_path)
    world.deliver_months(layout, rows=20_000, seed=4, first="2008-06", last="2008-06")
    delivered = pl.read_parquet(layout.landing(JOB, "2008-06") / "encounters.parquet")
    figures = silver.build_silver(layout, "2008-06")
    assert figures["rows_in"] == figures["rows_out"] == len(delivered) and not figures["problems"]
    for column in ("race", "payer_code", "medical_specialty", "diag_1", "diag_2", "diag_3"):
        assert figures["unknown_values"].get(column, 0) == (delivered[column] == "?").sum(), column
    features = gold.build_feature_store(layout, "2008-06")
    labels = gold.build_label_store(layout, "2008-06")
    assert features["rows"] == labels["rows"] == len(delivered)
    assert labels["positives"] == (delivered["readmitted"] == "<30").sum()
    assert sum(figures["chapters"]["diag_1_chapter"].values()) == len(delivered)
