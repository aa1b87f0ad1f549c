"""A Trino-like query log built around the measured corpus, with ground truth.

Nothing in a log row's costs is invented: each row is one measured execution of exactly its
query text (`measured_run_id` in the truth), picked among that text's executions (a text re-run
in the log gets the jitter its real re-executions had, and an out-of-memory failure when the
execution picked ran under a memory limit). Executions under a memory limit are picked with
weight `memory_limited_weight` against 1 for the others, so resource errors stay a small share
of the log, as in production. What is synthetic is who ran what and when:

- users: analysts (superset, jupyter, trino-cli) with habits, that is favourite templates on one or
  two preferred schemas (scale factors), a taste for metadata statements, re-runs of their own
  recent queries and near-duplicates (the same template with other parameters); and services
  (airflow, dbt) whose scheduled jobs re-run the same text daily at the same hour, now and then
  with new parameters;
- volume: `rows_per_day` on average, weekends at `weekend_factor` of a weekday (services run
  every day), Poisson noise;
- catalogs: `curated` (curated sources) and `hive` / `iceberg` (not), a habit per user: most
  users (`curated_user_share`) work mostly on curated sources, about 70% of rows in all;
- defects to exercise validation: rows delivered twice (same query_id, the same day or the next
  day's delivery) and a few invalid rows (copies of real rows with one value broken), listed
  in the truth's defects.

Deterministic from the seed, given the same corpus.
"""

from __future__ import annotations

import bisect
import math
import random
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.config import HeavyThresholds
from platform_assets.heavy_queries.logic.corpus import USER_ERROR_TEMPLATE, ZERO_COST_PREFIX

LOG_SCHEMA = {
    "query_id": pl.String, "user": pl.String, "source": pl.String, "catalog": pl.String, "schema": pl.String,
    "query_type": pl.String, "query": pl.String, "create_time": pl.Datetime("us"), "cpu_time_ms": pl.Int64,
    "wall_time_ms": pl.Int64, "peak_memory_bytes": pl.Int64, "error_type": pl.String, "curated": pl.Boolean,
}
TRUTH_SCHEMA = {"query_id": pl.String, "template": pl.String, "scale_factor": pl.Float64, "measured_run_id": pl.String}
DEFECTS_SCHEMA = {"query_id": pl.String, "defect": pl.String, "day": pl.Date}
_ROW_SCHEMA = {**LOG_SCHEMA, "template": pl.String, "scale_factor": pl.Float64, "measured_run_id": pl.String, "day": pl.Date}
CATALOGS = {"curated": True, "hive": False, "iceberg": False}
ANALYST_SOURCES = ("superset", "jupyter", "trino-cli")
SERVICE_SOURCES = ("airflow", "dbt")
DEFECTS = ("negative_cpu_time", "negative_peak_memory", "null_query", "null_create_time", "create_time_outside_day",
           "null_query_id")


@dataclass(frozen=True)
class LogSpec:
    days: int = 44
    start: date = date(2025, 9, 1)
    rows_per_day: int = 2000
    analysts: int = 36
    services: int = 8
    service_share: float = 0.25
    weekend_factor: float = 0.35
    rerun_share: float = 0.3
    explore_share: float = 0.1
    user_error_share: float = 0.01
    duplicate_share: float = 0.004
    invalid_per_day: int = 3
    curated_user_share: float = 0.7
    memory_limited_weight: float = 0.2
    seed: int = 7

    @property
    def day_list(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class QueryLog:
    log: pl.DataFrame
    truth: pl.DataFrame
    defects: pl.DataFrame


def heavy_expr(thresholds: HeavyThresholds) -> pl.Expr:
    """The heavy label (config.HeavyThresholds, as labelled.sql applies it) over a log or corpus frame."""
    return ((pl.col("cpu_time_ms") >= thresholds.cpu_ms)
            | (pl.col("peak_memory_bytes") > thresholds.peak_memory_bytes)
            | pl.col("error_type").is_in(list(thresholds.resource_errors)).fill_null(False))


def choose_thresholds(frame: pl.DataFrame, target_rate: float = 0.10) -> tuple[HeavyThresholds, float]:
    """Scaled thresholds for a local corpus or log so heavy is a small minority, and the heavy
    share they give on `frame` (rows with a negative cost ignored; an `n` column weighs each row
    as that many, so a log can be given as its distinct costs with their counts).

    Both thresholds sit at the same quantile q of their column (CPU and memory both matter, as
    in the seed's 300 s / 10 GB pair), rounded up to two significant digits; q is the lowest
    that keeps the heavy share (resource errors included, which count whatever q is) at or
    under `target_rate`, found by bisection since the share falls as q rises."""
    valid = frame.filter((pl.col("cpu_time_ms") >= 0) & (pl.col("peak_memory_bytes") >= 0))
    weight = valid["n"].cast(pl.Float64) if "n" in valid.columns else pl.Series([1.0] * valid.height)
    columns = {name: _sorted_weights(valid[name].to_numpy(), weight.to_numpy()) for name in ("cpu_time_ms", "peak_memory_bytes")}

    def at(q: float) -> tuple[HeavyThresholds, float]:
        chosen = HeavyThresholds(cpu_ms=_round_up(_higher_quantile(*columns["cpu_time_ms"], q)),
                                 peak_memory_bytes=_round_up(_higher_quantile(*columns["peak_memory_bytes"], q)))
        heavy = valid.select(heavy_expr(chosen)).to_series().to_numpy()
        return chosen, float((heavy * weight.to_numpy()).sum() / weight.sum())

    low, high = 0.5, 1.0
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if at(mid)[1] > target_rate else (low, mid)
    return at(high)


def _sorted_weights(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(values, kind="stable")
    return values[order], np.cumsum(weights[order])


def _higher_quantile(values: np.ndarray, cumulative: np.ndarray, q: float) -> float:
    """The q quantile with `higher` interpolation of values repeated by their weights (polars' rule:
    the value at sorted position ceil(q * (n - 1)))."""
    position = math.ceil(q * (cumulative[-1] - 1))
    return float(values[min(int(np.searchsorted(cumulative, position, side="right")), len(values) - 1)])


def _round_up(value: float) -> int:
    """Up to two significant digits: 1234 -> 1300, so thresholds read like configuration."""
    if value <= 0:
        return 1
    step = 10 ** max(math.floor(math.log10(value)) - 1, 0)
    return int(math.ceil(value / step) * step)


def generate_log(corpus: pl.DataFrame, spec: LogSpec | None = None) -> QueryLog:
    """The whole log (every day, defects included), its truth (one row per query_id, invalid
    copies included) and the defects list, in memory: `iter_log`'s days put together (a small
    log's view; delivery writes the days one at a time). `log` and `truth` carry a `day` column:
    the delivery a row belongs to (a late duplicate's is the next day), dropped when delivered."""
    days = list(iter_log(corpus, spec or LogSpec()))
    return QueryLog(*(pl.concat([getattr(d, name) for d in days]) for name in ("log", "truth", "defects")))


def iter_log(corpus: pl.DataFrame, spec: LogSpec) -> Iterator[QueryLog]:
    """The log one delivered day at a time, so its size is bounded by a day, not by the log: the
    day's rows (its duplicates and invalid rows, and the previous day's late duplicates, included),
    the truth of the query_ids it introduces and its defects. Deterministic from the seed."""
    rng = np.random.default_rng(spec.seed)
    world = _World(corpus, spec, rng)
    letters = random.Random(spec.seed)
    carried = pl.DataFrame(schema=_ROW_SCHEMA)
    days = spec.day_list
    for i, day in enumerate(days):
        frame = pl.DataFrame(world.day_rows(day), schema=_ROW_SCHEMA)
        duplicates, invalid, defects = _defects(frame, day, spec, rng, letters)
        late = rng.random(duplicates.height) < 0.2 if i < len(days) - 1 else np.zeros(duplicates.height, dtype=bool)
        next_carried = duplicates.filter(pl.Series(late)).with_columns(pl.lit(days[i + 1] if i < len(days) - 1 else day).alias("day"))
        defects = pl.concat([defects, _listed(duplicates.filter(pl.Series(~late)), day), _listed(carried, day)])
        log = (pl.concat([frame, duplicates.filter(pl.Series(~late)), carried, invalid])
               .sort(["day", "create_time"], nulls_last=True, maintain_order=True))
        truth = (pl.concat([frame, invalid]).filter(pl.col("query_id").is_not_null())
                 .unique("query_id", keep="first", maintain_order=True).select([*TRUTH_SCHEMA, "day"]))
        carried = next_carried
        yield QueryLog(log.drop(["template", "scale_factor", "measured_run_id"]), truth, defects)


class _World:
    """The corpus as texts and families, and the users with their habits."""

    def __init__(self, corpus: pl.DataFrame, spec: LogSpec, rng: np.random.Generator):
        self.spec, self.rng = spec, rng
        corpus = corpus.sort("run_id")
        texts = (corpus.group_by(["schema", "query"], maintain_order=True)
                 .agg(pl.col("template").first(), pl.col("scale_factor").first(), pl.col("query_type").first(),
                      pl.col("run_id"), pl.col("cpu_time_ms"), pl.col("wall_time_ms"), pl.col("peak_memory_bytes"),
                      pl.col("error_type"), pl.col("memory_limit")))
        self.texts = texts.to_dicts()
        for t in self.texts:
            w = np.array([spec.memory_limited_weight if m else 1.0 for m in t["memory_limit"]])
            t["pick"] = np.cumsum(w / w.sum()).tolist()
        self.families: dict[tuple[str, str], list[int]] = {}
        for i, t in enumerate(self.texts):
            self.families.setdefault((t["template"], t["schema"]), []).append(i)
        self.schemas = sorted({t["schema"] for t in self.texts})
        self.tpc = [f for f in self.families if not f[0].startswith(ZERO_COST_PREFIX) and f[0] != USER_ERROR_TEMPLATE]
        self.zero_cost = {s: [i for f, ids in self.families.items() if f[1] == s and f[0].startswith(ZERO_COST_PREFIX)
                              for i in ids] for s in self.schemas}
        self.typos = {s: self.families.get((USER_ERROR_TEMPLATE, s), []) for s in self.schemas}
        self.analysts = [self._analyst(i) for i in range(spec.analysts)]
        self.jobs = self._service_jobs()
        self.counter = 0
        self.r = random.Random(spec.seed)  # row-level draws: Python's generator is far faster per scalar

    def _analyst(self, i: int) -> dict:
        rng = self.rng
        schemas = list(rng.choice(self.schemas, size=min(len(self.schemas), int(rng.integers(1, 3))), replace=False))
        pool = [f for f in self.tpc if f[1] in schemas] or self.tpc
        favourites = [pool[j] for j in rng.choice(len(pool), size=min(len(pool), int(rng.integers(3, 13))), replace=False)]
        curated = rng.random() < self.spec.curated_user_share
        return {
            "user": f"analyst_{i:03d}", "schemas": schemas, "favourites": favourites,
            "weights": np.cumsum(_zipf(len(favourites))).tolist(), "activity": float(rng.lognormal(0, 0.8)),
            "zero_cost": float(rng.uniform(0.05, 0.35)), "history": [],
            "sources": np.cumsum(rng.dirichlet(np.ones(len(ANALYST_SOURCES)))).tolist(),
            "catalogs": np.cumsum([0.85, 0.1, 0.05] if curated else [0.2, 0.5, 0.3]).tolist(),
            "hour": float(rng.uniform(9, 16)),
        }

    def _service_jobs(self) -> list[dict]:
        rng, spec = self.rng, self.spec
        weekday_rows = spec.rows_per_day * 7 / (5 + 2 * spec.weekend_factor)
        jobs = []
        for j in range(max(1, round(spec.service_share * weekday_rows))):
            service = int(rng.integers(spec.services))
            family = self.tpc[int(rng.integers(len(self.tpc)))]
            jobs.append({
                "user": f"svc_etl_{service:02d}", "source": SERVICE_SOURCES[service % len(SERVICE_SOURCES)],
                "family": family, "text": self.families[family][int(rng.integers(len(self.families[family])))],
                "catalog": list(CATALOGS)[int(rng.choice(3, p=[0.7, 0.2, 0.1]))],
                "hour": int(rng.integers(0, 24)), "minute": int(rng.integers(0, 60)),
            })
        return jobs

    def day_rows(self, day: date) -> list[dict]:
        rng, r, spec = self.rng, self.r, self.spec
        weekend = day.weekday() >= 5
        factor = (spec.weekend_factor if weekend else 1.0) * 7 / (5 + 2 * spec.weekend_factor)
        rows = []
        for job in self.jobs:
            if r.random() < 0.15:
                job["text"] = r.choice(self.families[job["family"]])
            at = datetime.combine(day, datetime.min.time()) + timedelta(
                hours=job["hour"], minutes=job["minute"], seconds=r.uniform(0, 50))
            rows.append(self._row(job["user"], job["source"], job["catalog"], job["text"], at))
        analyst_rows = max(0, int(rng.poisson(spec.rows_per_day * factor)) - len(self.jobs))
        activity = np.array([a["activity"] for a in self.analysts])
        counts = rng.multinomial(analyst_rows, activity / activity.sum())
        for analyst, n in zip(self.analysts, counts):
            for _ in range(int(n)):
                rows.append(self._analyst_row(analyst, day))
        rows.sort(key=lambda r: r["create_time"])
        for i, row in enumerate(rows):
            row["query_id"] = self._query_id(row["create_time"], i)
            row["day"] = day
        return rows

    def _analyst_row(self, a: dict, day: date) -> dict:
        r, spec = self.r, self.spec
        draw = r.random()
        schema = r.choice(a["schemas"])
        if draw < spec.user_error_share and self.typos[schema]:
            text = r.choice(self.typos[schema])
        elif draw < a["zero_cost"] and self.zero_cost[schema]:
            text = r.choice(self.zero_cost[schema])
        elif a["history"] and r.random() < spec.rerun_share:
            text = r.choice(a["history"])
        else:
            if r.random() < spec.explore_share:
                family = r.choice(self.tpc)
            else:
                family = a["favourites"][_draw(r, a["weights"])]
            text = r.choice(self.families[family])
            a["history"] = (a["history"] + [text])[-20:]
        hour = min(max(r.gauss(a["hour"], 2.5), 0.0), 23.99)
        at = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
        source = ANALYST_SOURCES[_draw(r, a["sources"])]
        catalog = list(CATALOGS)[_draw(r, a["catalogs"])]
        return self._row(a["user"], source, catalog, text, at)

    def _row(self, user: str, source: str, catalog: str, text: int, at: datetime) -> dict:
        t = self.texts[text]
        k = _draw(self.r, t["pick"])
        return {
            "user": user, "source": source, "catalog": catalog, "schema": t["schema"], "query_type": t["query_type"],
            "query": t["query"], "create_time": at.replace(microsecond=(at.microsecond // 1000) * 1000),
            "cpu_time_ms": t["cpu_time_ms"][k], "wall_time_ms": t["wall_time_ms"][k],
            "peak_memory_bytes": t["peak_memory_bytes"][k], "error_type": t["error_type"][k],
            "curated": CATALOGS[catalog], "template": t["template"], "scale_factor": t["scale_factor"],
            "measured_run_id": t["run_id"][k],
        }

    def _query_id(self, at: datetime, index: int) -> str:
        """Trino's form: `<yyyymmdd>_<hhmmss>_<counter>_<5 letters>`."""
        self.counter += 1
        return f"{at:%Y%m%d_%H%M%S}_{self.counter % 100000:05d}_{_letters(self.r)}"


def _draw(r: random.Random, cumulative: list[float]) -> int:
    """An index drawn with the probabilities whose running sum is `cumulative`."""
    return min(bisect.bisect_right(cumulative, r.random()), len(cumulative) - 1)


def _letters(r: random.Random) -> str:
    return "".join(r.choices(string.ascii_lowercase, k=5))


def _zipf(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1)
    return w / w.sum()


def _defects(frame: pl.DataFrame, day: date, spec: LogSpec, rng: np.random.Generator,
             letters: random.Random) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(duplicates, invalid rows, the invalid rows' defects) of one day: rows delivered twice (the
    caller sends 20% with the next day's delivery) and real rows copied under a new query_id with one
    value broken."""
    n = frame.height
    picked = rng.choice(n, size=min(n, round(n * spec.duplicate_share)), replace=False) if n else np.array([], dtype=int)
    duplicates = frame[np.sort(picked)]
    invalid_parts, defects = [], []
    for _ in range(spec.invalid_per_day if n else 0):
        defect = DEFECTS[int(rng.integers(len(DEFECTS)))]
        row = frame[int(rng.integers(n))].with_columns(
            (pl.col("query_id").str.slice(0, 22) + _letters(letters)).alias("query_id")).with_columns(_break(defect, day))
        invalid_parts.append(row)
        defects.append({"query_id": row["query_id"][0], "defect": defect, "day": day})
    invalid = pl.concat(invalid_parts) if invalid_parts else frame.clear()
    return duplicates, invalid, pl.DataFrame(defects, schema=DEFECTS_SCHEMA)


def _listed(duplicates: pl.DataFrame, day: date) -> pl.DataFrame:
    return pl.DataFrame({"query_id": duplicates["query_id"], "defect": "duplicate", "day": day}, schema=DEFECTS_SCHEMA)


def _break(defect: str, day: date) -> pl.Expr:
    if defect == "negative_cpu_time":
        return -pl.col("cpu_time_ms").abs() - 1
    if defect == "negative_peak_memory":
        return -pl.col("peak_memory_bytes").abs() - 1
    if defect == "null_query":
        return pl.lit(None, pl.String).alias("query")
    if defect == "null_create_time":
        return pl.lit(None, pl.Datetime("us")).alias("create_time")
    if defect == "create_time_outside_day":
        return pl.lit(datetime.combine(day - timedelta(days=400), datetime.min.time()), pl.Datetime("us")).alias("create_time")
    return pl.lit(None, pl.String).alias("query_id")


class LogFigures:
    """The log's counts, added up one day at a time (`add`), so delivery need not hold the log:
    rows, days, users, distinct texts, duplicates and invalid rows, query and error types and the
    curated share of valid rows (non-null query_id, first delivery of each), and their distinct
    costs with counts (`costs`, for choose_thresholds)."""

    def __init__(self) -> None:
        self.rows = self.valid = self.curated = self.duplicates = self.invalid = 0
        self.days, self.users, self.queries = set(), set(), set()
        self.query_types: Counter = Counter()
        self.error_types: Counter = Counter()
        # distinct (cpu_time_ms, peak_memory_bytes, error_type) of the valid rows, with their count `n`
        self.costs = pl.DataFrame(
            schema={"cpu_time_ms": pl.Int64, "peak_memory_bytes": pl.Int64, "error_type": pl.String, "n": pl.UInt32})

    def add(self, day: QueryLog) -> None:
        log = day.log
        self.rows += log.height
        self.days.update(log["day"].unique().to_list())
        self.users.update(log["user"].unique().to_list())
        self.queries.update(log["query"].unique().to_list())
        self.duplicates += int((day.defects["defect"] == "duplicate").sum())
        self.invalid += int((day.defects["defect"] != "duplicate").sum())
        valid = log.filter(pl.col("query_id").is_in(day.truth["query_id"].implode())).unique("query_id", keep="first")
        self.valid += valid.height
        self.curated += int(valid["curated"].sum())
        self.query_types.update(dict(valid.group_by("query_type").len().drop_nulls().iter_rows()))
        self.error_types.update(dict(valid.filter(pl.col("error_type").is_not_null()).group_by("error_type").len().iter_rows()))
        costs = valid.group_by("cpu_time_ms", "peak_memory_bytes", "error_type").agg(pl.len().alias("n"))
        self.costs = (pl.concat([self.costs, costs]).group_by("cpu_time_ms", "peak_memory_bytes", "error_type")
                      .agg(pl.col("n").sum()))

    def figures(self, thresholds: HeavyThresholds | None = None) -> dict:
        figures = {
            "rows": self.rows, "days": len(self.days), "users": len(self.users - {None}), "distinct_queries": len(self.queries - {None}),
            "duplicate_rows": self.duplicates, "invalid_rows": self.invalid,
            "query_types": dict(sorted(self.query_types.items())), "error_types": dict(sorted(self.error_types.items())),
            "curated_share": round(self.curated / max(self.valid, 1), 4),
        }
        if thresholds:
            costs = self.costs
            heavy = costs.filter(heavy_expr(thresholds))["n"].sum()
            figures["heavy_rate"] = round(float(heavy / max(costs["n"].sum(), 1)), 4)
        return figures


def log_figures(qlog: QueryLog, thresholds: HeavyThresholds | None = None) -> dict:
    """Counts for metadata: rows, days, users, duplicates and invalid rows, query types, error
    types, curated share, heavy share under `thresholds`."""
    figures = LogFigures()
    figures.add(qlog)
    return figures.figures(thresholds)
