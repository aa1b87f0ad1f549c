"""DuckDB helpers: SQL from `sql/<job>/`, in-memory connections, views over validated paths.

Values always travel as bound parameters. The only text spliced into SQL is a view name that
matches `IDENTIFIER` and a string quoted by `literal` (quotes doubled): file paths, built from
validated quarter labels and batch keys, and the contract engine's coded values, which views
cannot take as parameters.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Iterator

import duckdb

from platform_core.storage import Location, atomic_file, is_remote, remote_filesystems, scratch_dir

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@cache
def load_sql(job: str, name: str) -> str:
    """A job's SQL file, `sql/<job>/<name>.sql`."""
    return (SQL_DIR / ident(job) / f"{ident(name)}.sql").read_text()


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one step. Memory is capped (PLATFORM_DUCKDB_MEMORY_LIMIT, default
    4GB) and larger sorts and joins spill to PLATFORM_DUCKDB_TEMP_DIR, so a step's footprint does
    not grow with the quarter."""
    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET memory_limit = ?", [os.getenv("PLATFORM_DUCKDB_MEMORY_LIMIT", "4GB")])
    con.execute("SET temp_directory = ?", [os.getenv("PLATFORM_DUCKDB_TEMP_DIR", str(Path(tempfile.gettempdir()) / "duckdb_spill"))])
    con.execute("SET preserve_insertion_order = false")
    return _with_filesystems(con)


def _with_filesystems(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Object-store paths (s3://) are read through the data root's fsspec filesystem."""
    for fs in remote_filesystems():
        con.register_filesystem(fs)
    return con


def ident(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"invalid SQL identifier {name!r}: expected lowercase letters, digits and '_'")
    return name


def literal(path: Location | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def parquet_source(path: Location | list[Location]) -> str:
    """A `read_parquet(...)` over a file, a glob, every Parquet file under a directory, or a list of these."""
    paths = path if isinstance(path, list) else [path]
    targets = [p if "*" in p.name or p.is_file() else p / "**" / "*.parquet" for p in paths]
    return f"read_parquet([{', '.join(literal(t) for t in targets)}])"


def view(con: duckdb.DuckDBPyConnection, name: str, path: Location | list[Location]) -> None:
    con.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT * FROM {parquet_source(path)}")


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list[dict]:
    cur = con.execute(sql, params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def query(con: duckdb.DuckDBPyConnection, job: str, sql_name: str, params: dict | None = None) -> list[dict]:
    return rows(con, load_sql(job, sql_name), params)


def copy_to_parquet(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict | None, target: Path, row_group_size: int = 122_880
) -> None:
    con.execute(
        f"COPY ({sql}) TO {literal(target)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {int(row_group_size)})",
        params or {},
    )


def connect_catalog(path: Path, attempts: int = 20, wait_s: float = 0.5) -> duckdb.DuckDBPyConnection:
    """Open the catalog file read-write, waiting out a short-lived lock held by a reader."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(attempts):
        try:
            return _with_filesystems(duckdb.connect(str(path)))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or attempt == attempts - 1:
                raise
            time.sleep(wait_s)
    raise AssertionError("unreachable")


@contextmanager
def read_catalog(catalog: Location) -> Iterator[duckdb.DuckDBPyConnection]:
    """The catalog opened read-only, so the pipeline can still replace its views; a catalog on an
    object store is read from a local copy, and its views read the store through fsspec."""
    with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
        local = catalog
        if is_remote(catalog):
            local = Path(tmp) / catalog.name
            catalog.fs.get_file(catalog.path, str(local))
        con = _with_filesystems(duckdb.connect(str(local), read_only=True))
        try:
            yield con
        finally:
            con.close()


def publish_views(catalog: Location, views: dict[str, Location | list[Location]]) -> None:
    """Create or replace catalog views over Parquet, all in one transaction. A catalog on an
    object store is updated in a local copy and uploaded in one PUT (callers serialize writers)."""
    if is_remote(catalog):
        with atomic_file(catalog) as local:
            if catalog.exists():
                catalog.fs.get_file(catalog.path, str(local))
            _apply_views(local, views)
        return
    _apply_views(catalog, views)


def _apply_views(catalog: Path, views: dict[str, Location | list[Location]]) -> None:
    con = connect_catalog(catalog)
    try:
        con.execute("BEGIN TRANSACTION")
        for name, path in views.items():
            view(con, name, path)
        con.execute("COMMIT")
    finally:
        con.close()
