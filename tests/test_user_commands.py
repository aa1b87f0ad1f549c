"""The Makefile's commands as a hostile user would type them: no text reaches a shell, `make
query` cannot write, and every bad argument ends in one paragraph naming the make variable."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from platform_assets.query import QueryRefused, checked_statements, lock_down
from platform_core import duck
from platform_core.storage import DataLayout

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def published(tmp_path) -> DataLayout:
    """A data root with one published Parquet table behind a catalog view."""
    layout = DataLayout.at(tmp_path / "data")
    table = layout.root / "warehouse" / "toy" / "scores.parquet"
    table.parent.mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT range AS id, range * 2 AS score FROM range(10)) TO {duck.literal(table)}")
    duck.publish_views(layout.catalog, {"toy_scores": table})
    return layout


def make(target: str, tmp_path: Path, layout: DataLayout, **variables: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PLATFORM_DATA_DIR": str(layout.root), "DAGSTER_HOME": str(tmp_path / "home"),
           "PLATFORM_SENSORS": "off"}
    return subprocess.run(["make", "-s", "-C", str(REPO), target, *(f"{k}={v}" for k, v in variables.items())],
                          env=env, capture_output=True, text=True, timeout=300)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


ATTACKS = {
    "copy over a published file": "COPY (SELECT 1 AS x) TO '{table}' (FORMAT parquet)",
    "a read, then a copy": "SELECT 1; COPY (SELECT 1 AS x) TO '{table}' (FORMAT parquet)",
    "attach read-write": "ATTACH '{root}/other.duckdb' AS other (READ_WRITE)",
    "detach the catalog": "DETACH catalog",
    "install an extension": "INSTALL httpfs",
    "load an extension": "LOAD httpfs",
    "lift the lock": "SET enable_external_access = true",
    "drop a view": "DROP VIEW toy_scores",
    "pragma": "PRAGMA enable_profiling",
    "call": "CALL pragma_version()",
}


@pytest.mark.parametrize("sql", ATTACKS.values(), ids=ATTACKS.keys())
def test_a_statement_that_is_not_a_read_is_refused_before_anything_runs(published, sql):
    table = published.root / "warehouse" / "toy" / "scores.parquet"
    with duck.read_catalog(published.catalog) as con, pytest.raises(QueryRefused, match="make query refuses"):
        checked_statements(con, sql.format(table=table, root=published.root))


def test_reads_outside_the_data_root_are_refused_and_inside_it_work(published, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    with duck.read_catalog(published.catalog) as con:
        lock_down(con, [str(published.root)])
        assert con.execute("SELECT sum(score) FROM toy_scores").fetchone() == (90,)
        for sql in (f"SELECT * FROM read_csv('{outside}')", "SELECT * FROM read_csv('/etc/passwd')"):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql).fetchall()
        with pytest.raises(duckdb.Error):
            con.execute("SET enable_external_access = true")


def test_make_query_refuses_every_write_and_leaves_the_catalog_whole(published, tmp_path):
    table = published.root / "warehouse" / "toy" / "scores.parquet"
    before = (digest(table), digest(published.catalog))
    for sql in ATTACKS.values():
        done = make("query", tmp_path, published, SQL=sql.format(table=table, root=published.root))
        assert done.returncode == 2, (sql, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 2  # the paragraph, make's line
    assert (digest(table), digest(published.catalog)) == before
    assert not (published.root / "other.duckdb").exists()
    done = make("query", tmp_path, published, SQL="SELECT count(*) AS n,\n  sum(score) AS total\nFROM toy_scores")
    assert done.returncode == 0 and "90" in done.stdout, done.stderr


def test_make_query_reads_sql_of_any_size_from_a_file(published, tmp_path):
    sql_file = tmp_path / "big.sql"
    sql_file.write_text("SELECT count(*) AS n FROM toy_scores\n-- " + "x" * 300_000 + "\nWHERE score >= 0")
    done = make("query", tmp_path, published, SQL_FILE=str(sql_file))
    assert done.returncode == 0 and "10" in done.stdout, done.stderr


INJECTIONS = [
    ("query", {"SQL": "select 1 -- `touch {pwned}`"}),
    ("query", {"SQL": 'select 1"; touch {pwned}; echo "'}),
    ("query", {"SQL": "select '$(shell touch {pwned})'"}),
    ("classify", {"SQL": "select `touch {pwned}` from t"}),
    ("classify", {"SQL": 'select 1"; touch {pwned}; echo "'}),
    ("classify", {"SQL": "select 1", "USER_NAME": "a; touch {pwned}"}),
    ("run", {"JOB": "a; touch {pwned}"}),
    ("models", {"JOB": "$$(touch {pwned})"}),
    ("rollback", {"REASON": '"; touch {pwned}; echo "'}),
    ("backfill", {"PARTITIONS": "2025q3; touch {pwned}"}),
]


@pytest.mark.parametrize("target, variables", INJECTIONS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(INJECTIONS)])
def test_user_text_never_reaches_a_shell(published, tmp_path, target, variables):
    pwned = tmp_path / "pwned"
    done = make(target, tmp_path, published, **{k: v.format(pwned=pwned) for k, v in variables.items()})
    assert not pwned.exists(), (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "/bin/sh" not in done.stderr


BAD_ARGUMENTS = [
    ("run", {"JOB": "engagment"}, "did you mean JOB=engagement"),
    ("run", {"ROWS": "many"}, "ROWS='many' is not a whole number"),
    ("run", {"JOB": "wait_times", "PARTITION": "2025/09/02"}, "PARTITION='2025/09/02'"),
    ("generate", {"SEED": "x"}, "SEED='x' is not a whole number"),
    ("backfill", {}, "PARTITIONS="),
    ("models", {"JOB": "nojob"}, "no champion model for 'nojob'"),
    ("rollback", {}, "REASON="),
    ("query", {}, "the SQL is empty"),
    ("query", {"SQL_FILE": "/no/such/file.sql"}, "cannot read the SQL file"),
    ("retrain", {"ENTITY": "forty-two"}, "ENTITY='forty-two' is not a whole number"),
    ("retrain", {"DAY": "2025/08/31", "ENTITY": "42"}, "DAY='2025/08/31' is not a day"),
    ("retrain", {"ENTITY": "42"}, "no day has trained models yet"),
    ("rollback-entity", {}, "choose exactly one of ENTITY=<id> or ALL=1"),
    ("dashboard", {"PORT": "http"}, "PORT='http' is not a whole number"),
]


@pytest.mark.parametrize("target, variables, message", BAD_ARGUMENTS,
                         ids=[f"{t}-{'-'.join(v) or 'none'}" for t, v, _ in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_paragraph_that_names_the_make_variable(published, tmp_path, target, variables, message):
    done = make(target, tmp_path, published, **variables)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "usage:" not in done.stderr and "argument --" not in done.stderr
