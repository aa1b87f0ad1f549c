import duckdb
import pyarrow.parquet as pq

from platform_assets.predict_age.logic.generator import generate_chunk, generate_snapshot
from platform_assets.predict_age.logic.source import CONTRACT
from platform_core.periods import Quarter

Q = Quarter.parse("2025q3")


def test_same_seed_same_snapshot_other_seed_differs():
    a, _ = generate_chunk(Q.start, 5_000, 0, seed=7, pid_start=1)
    b, _ = generate_chunk(Q.start, 5_000, 0, seed=7, pid_start=1)
    c, _ = generate_chunk(Q.start, 5_000, 0, seed=8, pid_start=1)
    assert a.equals(b)
    assert not a.equals(c)


def test_snapshot_follows_the_contract_and_truth_is_apart(tmp_path):
    snap = generate_snapshot(tmp_path / "landing", tmp_path / "truth", Q, 25_000, seed=3, chunk_rows=10_000)
    assert snap.files == 3
    assert (tmp_path / "landing" / "_SUCCESS").exists()
    schema = pq.read_schema(next((tmp_path / "landing").glob("*.parquet")))
    assert list(schema.names) == list(CONTRACT.columns)
    assert "true_age" not in schema.names
    con = duckdb.connect()
    rows, pids = con.execute(f"SELECT count(*), count(DISTINCT pid) FROM '{tmp_path}/landing/*.parquet'").fetchone()
    truth_pids = con.execute(f"SELECT count(DISTINCT pid) FROM '{tmp_path}/truth/*.parquet'").fetchone()[0]
    assert rows == pids == truth_pids == 25_000


def test_proportions_messiness_and_missing_not_at_random():
    snap, truth = generate_chunk(Q.start, 100_000, 0, seed=7, pid_start=1)
    con = duckdb.connect()
    con.register("s", snap)
    con.register("t", truth)
    values = {v for (v,) in con.execute("SELECT DISTINCT approximate_age FROM s").fetchall()}
    assert {"", "U", "0", "00", "120", None} <= values
    assert any(v and v.startswith(" ") for v in values)
    years = {v for (v,) in con.execute("SELECT DISTINCT birth_year FROM s").fetchall()}
    assert {"", "0", "0000", "19x5", None} <= years and any(v and v > "2025" and v.isdigit() for v in years)
    usable = con.execute("""
        SELECT avg(CASE WHEN TRY_CAST(trim(approximate_age) AS INT) BETWEEN 18 AND 100
                          OR TRY_CAST(birth_year AS INT) BETWEEN 1925 AND 2007 THEN 1 ELSE 0 END) FROM s""").fetchone()[0]
    assert 0.30 <= usable <= 0.45
    known_age, unknown_age = con.execute("""
        SELECT avg(true_age) FILTER (WHERE TRY_CAST(trim(approximate_age) AS INT) BETWEEN 18 AND 100),
               avg(true_age) FILTER (WHERE NOT coalesce(TRY_CAST(trim(approximate_age) AS INT) BETWEEN 18 AND 100, false))
        FROM s JOIN t USING (pid)""").fetchone()
    assert known_age > unknown_age + 5  # older people are more often known
    # first names carry signal: Mary is older than Madison
    mary, madison = (con.execute(f"SELECT avg(true_age) FROM s JOIN t USING (pid) WHERE upper(first_name) = '{n}'").fetchone()[0]
                     for n in ("MARY", "MADISON"))
    assert mary > madison + 30
