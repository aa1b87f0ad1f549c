"""TPC-DS and TPC-H data and queries from the official generators that `benchbox` ships.

Nobody here wrote these queries: `dsqgen`/`qgen` fill the 99 TPC-DS and 22 TPC-H templates with
random substitution parameters (a new `-RNGSEED`/`-r` seed gives a new instance), and
`dsdgen`/`dbgen` generate the data at a scale factor. The binaries run in temporary
directories (they write into their working directory, and dsqgen aborts on a long
`-DIRECTORY`). Their dialects do not run on DuckDB as emitted; `fix_for_duckdb` applies the fixes
measured in ML_TOOLING_NOTES.md section 3 (TPC-DS netezza 83/99 -> 99/99, TPC-H 0/22 -> 22/22).
A template that emits several statements (TPC-DS 14, 23, 24, 39; TPC-H 15) stays one query.
"""

from __future__ import annotations

import importlib.resources
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from platform_core.duck import ident, literal
from platform_core.storage import atomic_file, scratch_dir

TEMPLATES = {"tpcds": tuple(range(1, 100)), "tpch": tuple(range(1, 23))}
_PLATFORM = "linux-x86_64"
_DATA_FILE = re.compile(r"^(?P<table>[a-z_]+?)(?:_\d+_\d+)?\.(?:dat|tbl)$")
_SEED_COMMENT = re.compile(r"^--.*$", re.MULTILINE)


@dataclass(frozen=True)
class QueryInstance:
    """One query text generated from a template with one parameter seed."""

    benchmark: str
    template: int
    scale_factor: float
    seed: int
    sql: str

    @property
    def template_name(self) -> str:
        return f"{self.benchmark}_q{self.template}"


def binaries() -> Path:
    return Path(str(importlib.resources.files("benchbox") / "_binaries"))


def schema_name(benchmark: str, scale_factor: float) -> str:
    """`tpcds_sf0_01`, `tpch_sf1`: the database file's stem and the log's schema."""
    _check_benchmark(benchmark)
    return f"{benchmark}_sf{format(scale_factor, 'g').replace('.', '_')}"


def database_path(data_dir: Path, benchmark: str, scale_factor: float) -> Path:
    return Path(data_dir) / f"{schema_name(benchmark, scale_factor)}.duckdb"


def build_database(data_dir: Path, benchmark: str, scale_factor: float, seed: int = 1) -> Path:
    """The benchmark's tables at this scale factor in one DuckDB file, generated once: an existing
    file is reused (it only appears, atomically, once fully loaded). The generated text files
    live in a temporary directory that is removed afterwards. `seed` is dsdgen's -RNGSEED
    (dbgen's data is fixed by the scale factor)."""
    target = database_path(data_dir, benchmark, scale_factor)
    if target.exists():
        return target
    import duckdb

    with tempfile.TemporaryDirectory(prefix=f"{benchmark}-gen-", dir=scratch_dir()) as work, atomic_file(target) as tmp:
        files = _generate_data(Path(work), benchmark, scale_factor, seed)
        con = duckdb.connect(str(tmp))
        try:
            con.execute(_create_tables_sql(benchmark, scale_factor))
            tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            for path in files:
                table = _DATA_FILE.match(path.name).group("table")
                if table in tables:
                    con.execute(f"COPY {ident(table)} FROM {literal(path)} (DELIMITER '|', HEADER false)")
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return target


def _create_tables_sql(benchmark: str, scale_factor: float) -> str:
    if benchmark == "tpcds":
        from benchbox.tpcds import TPCDS

        return TPCDS(scale_factor=scale_factor).get_create_tables_sql(dialect="duckdb")
    from benchbox.tpch import TPCH

    return TPCH(scale_factor=scale_factor).get_create_tables_sql(dialect="duckdb")


def _generate_data(work: Path, benchmark: str, scale_factor: float, seed: int) -> list[Path]:
    """Run dsdgen (two children in parallel from SF 1) or dbgen in `work`; the files written.
    dsdgen gets relative paths: with absolute ones its parallel children crashed (SIGSEGV)."""
    _check_benchmark(benchmark)
    if benchmark == "tpcds":
        tool = binaries() / "tpc-ds" / _PLATFORM
        shutil.copy(tool / "tpcds.idx", work / "tpcds.idx")
        base = [str(tool / "dsdgen"), "-SCALE", format(scale_factor, "g"), "-DIR", ".", "-DISTRIBUTIONS", "tpcds.idx",
                "-TERMINATE", "N", "-FORCE", "Y", "-RNGSEED", str(seed)]
        commands = ([base + ["-PARALLEL", "2", "-CHILD", str(c)] for c in (1, 2)] if scale_factor >= 1 else [base])
        pattern = "*.dat"
    else:
        tool = binaries() / "tpc-h" / _PLATFORM
        commands = [[str(tool / "dbgen"), "-s", format(scale_factor, "g"), "-f", "-q", "-b", str(tool / "dists.dss")]]
        pattern = "*.tbl"
    running = [subprocess.Popen(c, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands]
    for proc, command in zip(running, commands):
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")
    return sorted(work.glob(pattern))


def generate_queries(benchmark: str, templates: list[int] | tuple[int, ...], scale_factor: float,
                     seeds: list[int] | tuple[int, ...]) -> list[QueryInstance]:
    """One instance per template and seed, with the generator's random substitution parameters,
    fixed to run on DuckDB. Generated in one temporary directory."""
    _check_benchmark(benchmark)
    with tempfile.TemporaryDirectory(prefix=f"{benchmark}-q-", dir=scratch_dir()) as work:
        generate = _dsqgen(Path(work)) if benchmark == "tpcds" else _qgen(Path(work))
        return [QueryInstance(benchmark, t, scale_factor, s, fix_for_duckdb(benchmark, generate(t, scale_factor, s)))
                for t in templates for s in seeds]


def _dsqgen(work: Path):
    tool = binaries() / "tpc-ds"
    shutil.copy(tool / _PLATFORM / "tpcds.idx", work / "tpcds.idx")
    (work / "q").symlink_to(tool / "templates" / "query_templates")

    def generate(template: int, scale_factor: float, seed: int) -> str:
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        _run([str(tool / _PLATFORM / "dsqgen"), "-DIRECTORY", "q", "-TEMPLATE", f"query{template}.tpl", "-DIALECT",
              "netezza", "-SCALE", format(scale_factor, "g"), "-RNGSEED", str(seed), "-OUTPUT_DIR", "out", "-QUIET", "Y"], work)
        return (out / "query_0.sql").read_text()

    return generate


def _qgen(work: Path):
    tool = binaries() / "tpc-h"
    env = {"DSS_QUERY": str(tool / "templates" / "queries")}

    def generate(template: int, scale_factor: float, seed: int) -> str:
        return _run([str(tool / _PLATFORM / "qgen"), "-b", str(tool / _PLATFORM / "dists.dss"), "-r", str(seed),
                     "-s", format(scale_factor, "g"), str(template)], work, env)

    return generate


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} {' '.join(command[1:])} failed ({done.returncode}): {done.stderr[-500:]}")
    return done.stdout


def fix_for_duckdb(benchmark: str, sql: str) -> str:
    """The generator's text made to run on DuckDB, with the measured fixes only: TPC-DS
    `+ 14 days` and the alias `at`; TPC-H's Oracle `where rownum <= N;`, `day (3)` and a view
    made temporary (queries run on read-only connections). Comments are dropped (qgen's
    names its seed)."""
    _check_benchmark(benchmark)
    if benchmark == "tpcds":
        sql = re.sub(r"([+-])\s*(\d+)\s+days\b", r"\1 INTERVAL \2 DAY", sql)
        sql = re.sub(r"\)\s+at\s*,", ") at_,", sql)
    else:
        sql = re.sub(r";\s*where rownum <= -1;", ";", sql)
        sql = re.sub(r";\s*where rownum <= (\d+);", r"\nlimit \1;", sql)
        sql = sql.replace("day (3)", "day").replace("create view", "create temp view")
    return _SEED_COMMENT.sub("", sql).strip()


def split_statements(sql: str) -> list[str]:
    """The statements of one query text, as DuckDB's parser splits them (raises on a parse error)."""
    import duckdb

    return [s.query.strip().rstrip(";").strip() for s in duckdb.extract_statements(sql)]


def _check_benchmark(benchmark: str) -> None:
    if benchmark not in TEMPLATES:
        raise ValueError(f"unknown benchmark {benchmark!r}: expected one of {sorted(TEMPLATES)}")
