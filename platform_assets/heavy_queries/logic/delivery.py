"""The query log delivered the way upstream would: one Parquet file per day in the landing area
(`_SUCCESS` last), and each day's ground truth apart (`truth.parquet`: which template, scale
factor and measured execution a query_id is; `defects.parquet`: the duplicates and invalid rows
injected into that day's delivery), where only evaluation reads it.

A day already delivered is never rewritten: its landing folder is read-only to the platform.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from platform_assets.heavy_queries.logic.config import HeavyThresholds
from platform_assets.heavy_queries.logic.corpus import (
    DEFAULT_CORPUS,
    LARGE_CORPUS,
    SMALL_CORPUS,
    CorpusSpec,
    build_corpus,
    corpus_cache_root,
    load_corpus,
)
from platform_assets.heavy_queries.logic.querylog import LOG_SCHEMA, LogFigures, LogSpec, choose_thresholds, iter_log
from platform_assets.heavy_queries.logic.tpc import database_path, schema_name
from platform_core.storage import SUCCESS_MARKER, DataLayout, write_once_dir

JOB = "heavy_queries"
LOG_FILE = "part-00000.parquet"
TRUTH_FILE = "truth.parquet"
DEFECTS_FILE = "defects.parquet"


@dataclass(frozen=True)
class Delivered:
    written: list[str]
    skipped: list[str]
    rows: int
    figures: dict = field(default_factory=dict)


def deliver_log(layout: DataLayout, corpus: pl.DataFrame, spec: LogSpec | None = None,
                days: list[date] | None = None, thresholds: HeavyThresholds | None = None,
                log: Callable[[str], None] | None = None) -> Delivered:
    """Generate the log from `corpus` (deterministic) one day at a time and deliver the chosen days
    (all by default) that have no landing folder yet, with their truth; a day is written and let go
    before the next is made, so memory is a day's, whatever the number of days. Figures: the log's
    counts, a pair of thresholds chosen on it (`local_*`, for tests and calibration) and `heavy_rate`,
    the heavy share of its valid rows under `thresholds` (the ones in use), else under the chosen pair.
    A progress line goes to `log` every 10 days."""
    spec = spec or LogSpec()
    wanted = set(days) if days is not None else set(spec.day_list)
    written, skipped, rows, counted = [], [], 0, LogFigures()
    for i, qlog in enumerate(iter_log(corpus, spec)):
        day = spec.day_list[i]
        counted.add(qlog)
        if log and (i + 1) % 10 == 0:
            log(f"query log: {i + 1} of {spec.days} days generated, {counted.rows:,} rows")
        if day not in wanted:
            continue
        landing = layout.landing(JOB, day.isoformat())
        if landing.exists():
            skipped.append(day.isoformat())
            continue
        part = qlog.log.select(list(LOG_SCHEMA))
        with write_once_dir(layout.truth(JOB, day.isoformat()), last=TRUTH_FILE) as tmp:
            qlog.defects.drop("day").write_parquet(tmp / DEFECTS_FILE)
            qlog.truth.drop("day").write_parquet(tmp / TRUTH_FILE)
        with write_once_dir(landing, last=SUCCESS_MARKER) as tmp:
            part.write_parquet(tmp / LOG_FILE)
            (tmp / SUCCESS_MARKER).write_text(f"rows={part.height}\n")
        written.append(day.isoformat())
        rows += part.height
    chosen, _ = choose_thresholds(counted.costs)
    figures = counted.figures(thresholds or chosen) | {"local_cpu_threshold_ms": chosen.cpu_ms,
                                                       "local_peak_memory_threshold_bytes": chosen.peak_memory_bytes}
    return Delivered(written, skipped, rows, figures)


def generate_world(layout: DataLayout, rows_per_day: int = LogSpec.rows_per_day, seed: int = LogSpec.seed,
                   corpus_spec: CorpusSpec = DEFAULT_CORPUS, cache_root: Path | None = None,
                   thresholds: HeavyThresholds | None = None, log: Callable[[str], None] | None = None) -> Delivered:
    """`make generate` for this job: build (or reuse) the measured corpus under the data root's
    cache (progress lines to `log`), then deliver the log's days that are not delivered yet;
    `heavy_rate` is measured under `thresholds` (see deliver_log)."""
    cache_root = cache_root or corpus_cache_root(layout)
    build = build_corpus(cache_root, corpus_spec, log=log)
    deliver_catalog_stats(layout, cache_root, corpus_spec)
    delivered = deliver_log(layout, load_corpus(build), LogSpec(rows_per_day=rows_per_day, seed=seed), thresholds=thresholds,
                            log=log)
    corpus = {f"corpus_{k}": v for k, v in build.figures.items()} | {"corpus_reused": build.reused,
                                                                     "corpus_seconds": round(build.seconds, 1)}
    return Delivered(delivered.written, delivered.skipped, delivered.rows, delivered.figures | corpus)


CORPORA = {"small": SMALL_CORPUS, "default": DEFAULT_CORPUS, "large": LARGE_CORPUS}


def deliver_catalog_stats(layout: DataLayout, cache_root: Path, spec: CorpusSpec) -> Path:
    """The engine's table statistics (schema -> table -> rows) the featurizer sizes tables with,
    delivered once as `landing/heavy_queries_catalog/current/catalog_stats.json`."""
    import duckdb

    target = layout.landing(JOB, "current", feed="catalog")
    if target.exists():
        return target
    stats = {}
    for benchmark, scales in (("tpcds", spec.tpcds_scales), ("tpch", spec.tpch_scales)):
        for sf in scales:
            with duckdb.connect(str(database_path(Path(cache_root) / "data", benchmark, sf)), read_only=True) as con:
                stats[schema_name(benchmark, sf)] = {
                    name: int(rows) for name, rows in con.execute("SELECT table_name, estimated_size FROM duckdb_tables()").fetchall()}
    with write_once_dir(target, SUCCESS_MARKER) as tmp:
        (tmp / "catalog_stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True) + "\n")
        (tmp / SUCCESS_MARKER).write_text(f"schemas={len(stats)}\n")
    return target
