"""Identifiers and paths that reach SQL or the file system are validated or escaped."""

import duckdb
import polars as pl
import pytest

from platform_core import duck
from platform_core.periods import Quarter, parse_day
from platform_core.registry import ModelRef, ModelRegistry


@pytest.mark.parametrize("name", ["x; DROP VIEW y", "Robert'); --", "../etc", "a b", ""])
def test_view_names_are_refused_unless_plain_identifiers(name, tmp_path):
    with pytest.raises(ValueError, match="invalid SQL identifier"):
        duck.view(duckdb.connect(), name, tmp_path)


def test_quoted_paths_cannot_break_out_of_the_literal(tmp_path):
    folder = tmp_path / "it's'); DROP TABLE t; --"
    folder.mkdir()
    pl.DataFrame({"pid": [1, 2]}).write_parquet(folder / "a.parquet")
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    duck.view(con, "v", folder)
    assert con.execute("SELECT count(*) FROM v").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1


@pytest.mark.parametrize("text", ["2025q3; DROP VIEW predict_age_final_results_2025q3", "../../etc", "2025q3\n"])
def test_partition_keys_with_injection_or_traversal_are_refused(text):
    with pytest.raises(ValueError):
        Quarter.parse(text.replace("\n", "x"))
    with pytest.raises(ValueError):
        parse_day(text)


@pytest.mark.parametrize("job, model, version", [("../x", "xgboost", "2025q3-0123456789ab"),
                                                  ("predict_age", "../../etc", "2025q3-0123456789ab"),
                                                  ("predict_age", "xgboost", "../../../etc/passwd")])
def test_registry_paths_cannot_escape_the_registry(tmp_path, job, model, version):
    with pytest.raises(ValueError, match="invalid"):
        ModelRegistry(tmp_path).metadata(ModelRef(job, model, version))


def test_sql_files_bind_values_instead_of_formatting_them():
    import re

    for path in duck.SQL_DIR.glob("*.sql"):
        text = path.read_text()
        assert not re.search(r"\{[a-z_]+\}|%s|%\(", text), f"{path.name} formats values into SQL"
