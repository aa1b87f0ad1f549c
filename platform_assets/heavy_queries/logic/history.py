"""Historical features: what earlier days say about a query's user, its normalized text on its schema (the
fingerprint) and its client.

A `HistoryState` is built from the labelled log of the `WINDOW_DAYS` days strictly before
`as_of`, so a query is never described by its own run or by anything after it, and a count means
the same on day 40 as on day 15 (an all-time count grows with the log and drifts by construction).
Each key (user, fingerprint, source) keeps its runs per day over the days the window covers,
mean and p90 of ln(1 + CPU ms), heavy rate and last day seen. An unseen key
gets the cold-start values: count 0, the global mean and p90, the global heavy rate, and
`COLD_DAYS` since last seen; heavy rates are shrunk toward the global rate by `PRIOR_RUNS`
pseudo-runs, so a key seen once does not jump to 0 or 1. The state is plain JSON, the same one
training builds per day and serving loads.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import polars as pl

HISTORY_FEATURES = [
    "user_runs_per_day_log", "user_mean_log_cpu", "user_p90_log_cpu", "user_heavy_rate", "user_days_since_last",
    "user_distinct_fingerprints_log",
    "fp_runs_per_day_log", "fp_mean_log_cpu", "fp_p90_log_cpu", "fp_heavy_rate", "fp_days_since_last", "fp_max_log_memory",
    "source_runs_per_day_log", "source_mean_log_cpu", "source_heavy_rate",
    "cold_user", "cold_fingerprint",
]
FINGERPRINT_FEATURES = [name for name in HISTORY_FEATURES if name.startswith("fp_")] + ["cold_fingerprint"]
WINDOW_DAYS = 14
COLD_DAYS = WINDOW_DAYS + 1
PRIOR_RUNS = 5.0

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)", re.S)  # an open comment runs to the end (linear time)
_STRINGS = re.compile(r"'(?:[^']|'')*'")
_NUMBERS = re.compile(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b")
_IN_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_SPACE = re.compile(r"\s+")


def normalize_sql(sql: str) -> str:
    """The query's shape: comments dropped, literals as ?, IN lists as (?), lower case, single spaces."""
    text = _STRINGS.sub("?", _COMMENTS.sub(" ", sql) if "--" in sql or "/*" in sql else sql)
    text = _IN_LIST.sub("(?)", _NUMBERS.sub("?", text.lower()))
    return _SPACE.sub(" ", text).strip().rstrip(";").strip()


def fingerprint(sql: str, schema: str | None = None) -> str:
    """The query's shape on its schema: the same template on a 10x larger schema is another workload, whose
    history says what that one costs."""
    return hashlib.sha1(f"{normalize_sql(sql)}\x00{(schema or '').strip().lower()}".encode()).hexdigest()[:16]


@dataclass
class HistoryState:
    as_of: str  # ISO day: the state describes the days before it
    days_covered: int  # days of the window the log covers (runs are divided by it)
    global_stats: dict[str, float]
    users: dict[str, list[float]]  # runs, mean, p90, heavy rate, last day (ordinal), distinct fingerprints
    fingerprints: dict[str, list[float]]  # runs, mean, p90, heavy rate, last day (ordinal), max ln(1 + peak bytes)
    sources: dict[str, list[float]]  # runs, mean, p90, heavy rate

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "HistoryState":
        return cls(**data)

    def features(self, user: str, fp: str, source: str, day: date) -> list[float]:
        """The 17 HISTORY_FEATURES of one query run on `day` (on or after `as_of`)."""
        g = self.global_stats
        per_day = 1.0 / max(self.days_covered, 1)
        cold_group = [0.0, g["mean_log_cpu"], g["p90_log_cpu"], g["heavy_rate"], None]
        u = self.users.get(user)
        f = self.fingerprints.get(fp)
        s = self.sources.get(source) or cold_group
        today = day.toordinal()

        def since(stats):
            return float(min(COLD_DAYS, today - stats[4])) if stats else float(COLD_DAYS)

        us, fs = u or cold_group, f or cold_group
        return [
            math.log1p(us[0] * per_day), us[1], us[2], us[3], since(u), math.log1p(u[5] if u else 0.0),
            math.log1p(fs[0] * per_day), fs[1], fs[2], fs[3], since(f), f[5] if f else g["median_log_memory"],
            math.log1p(s[0] * per_day), s[1], s[3],
            0.0 if u else 1.0, 0.0 if f else 1.0,
        ]


def _group_stats(rows: pl.DataFrame, key: str, global_rate: float, extra: list[pl.Expr]) -> dict[str, list[float]]:
    table = rows.group_by(key).agg(
        pl.len().alias("runs"),
        pl.col("log_cpu").mean().alias("mean"),
        pl.col("log_cpu").quantile(0.9, interpolation="linear").alias("p90"),
        pl.col("heavy").sum().alias("heavy"),
        pl.col("day").max().alias("last"),
        *extra,
    )
    out = {}
    for row in table.iter_rows(named=True):
        rate = (row["heavy"] + PRIOR_RUNS * global_rate) / (row["runs"] + PRIOR_RUNS)
        values = [float(row["runs"]), row["mean"], row["p90"], rate, float(row["last"].toordinal())]
        out[str(row[key])] = values + [float(row[name]) for name in ("distinct_fp", "max_log_memory") if name in row]
    return out


def build_state(labelled: pl.DataFrame, as_of: date, window_days: int = WINDOW_DAYS) -> HistoryState:
    """The state from the labelled runs of the `window_days` days before `as_of` (columns user,
    source, query, day, cpu_time_ms, peak_memory_bytes, heavy; or a precomputed `fingerprint`)."""
    start = as_of - timedelta(days=window_days)
    days_covered = (as_of - max(start, labelled["day"].min())).days if len(labelled) else 0
    rows = _prepared(labelled).filter((pl.col("day") < as_of) & (pl.col("day") >= start))
    if rows.is_empty():
        zero = {"mean_log_cpu": 0.0, "p90_log_cpu": 0.0, "heavy_rate": 0.0, "median_log_memory": 0.0}
        return HistoryState(as_of.isoformat(), max(days_covered, 0), zero, {}, {}, {})
    present = rows.filter(pl.col("log_cpu").is_not_null())
    global_stats = {
        "mean_log_cpu": float(present["log_cpu"].mean() or 0.0),
        "p90_log_cpu": float(present["log_cpu"].quantile(0.9, interpolation="linear") or 0.0),
        "heavy_rate": float(rows["heavy"].mean()),
        "median_log_memory": float(rows["log_memory"].median() or 0.0),
    }
    rate = global_stats["heavy_rate"]

    def filled(stats: dict[str, list[float]]) -> dict[str, list[float]]:
        for values in stats.values():  # a key whose runs all lack a CPU time: the global figures
            values[1] = global_stats["mean_log_cpu"] if values[1] is None else float(values[1])
            values[2] = global_stats["p90_log_cpu"] if values[2] is None else float(values[2])
        return stats

    return HistoryState(
        as_of=as_of.isoformat(),
        days_covered=days_covered,
        global_stats=global_stats,
        users=filled(_group_stats(rows, "user", rate, [pl.col("fingerprint").n_unique().alias("distinct_fp")])),
        fingerprints=filled(_group_stats(rows, "fingerprint", rate,
                                         [pl.col("log_memory").max().fill_null(global_stats["median_log_memory"]).alias("max_log_memory")])),
        sources=filled(_group_stats(rows, "source", rate, [])),
    )


def _prepared(labelled: pl.DataFrame) -> pl.DataFrame:
    frame = labelled if "fingerprint" in labelled.columns else with_fingerprints(labelled)
    return frame.select(
        pl.col("user").cast(pl.String), pl.col("source").cast(pl.String), "fingerprint", "day",
        pl.col("heavy").cast(pl.Int64),
        pl.col("cpu_time_ms").cast(pl.Float64).log1p().alias("log_cpu"),
        pl.col("peak_memory_bytes").cast(pl.Float64).log1p().alias("log_memory"),
    )


def with_fingerprints(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with a `fingerprint` column (computed once per distinct text and schema; no schema column: none)."""
    keys = ["query", "schema"] if "schema" in frame.columns else ["query"]
    distinct = frame.select(keys).unique()
    prints = [fingerprint(*key) for key in distinct.iter_rows()]
    mapping = distinct.with_columns(pl.Series("fingerprint", prints, dtype=pl.String))
    return frame.join(mapping, on=keys, how="left", maintain_order="left", nulls_equal=True)


def states_by_day(labelled: pl.DataFrame, days: list[date]) -> dict[date, HistoryState]:
    """One state per day to featurize, each from the days before it."""
    prepared = with_fingerprints(labelled) if "fingerprint" not in labelled.columns else labelled
    return {day: build_state(prepared, day) for day in sorted(set(days))}
