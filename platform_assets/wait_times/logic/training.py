"""Per-entity XGBoost models trained in a process pool, tier by tier, largest first.

One call trains every selected entity of a day (the daily asset; run config selects one entity,
one tier or all). The parent exports the selected entities' rows once (one Parquet file per
entity), then a spawn pool of `pool_size()` workers (`min(available RAM x 0.8 / 4 GB, cores,
16)`, each XGBoost at nthread=1: measured 2x faster than one model at nthread=2) trains them in
priority order. A worker does everything for its entity: fit with early stopping on the last 20%
of its observations in time, compare with the current champion on the same validation rows,
register the model (UBJ, SHA-256), promote it unless degraded, and keep the last N versions.

Failures are isolated: an exception is recorded as 'failed' with its error; a worker process
that dies (segfault, out of memory) breaks the pool, so the pool is rebuilt and the entities that
were in flight are retried one at a time, and the one that kills its worker again is recorded as
failed. A failed entity writes no model, so it stays due and is retried next run.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from platform_assets.wait_times.logic.features import FEATURES, feature_matrix
from platform_assets.wait_times.logic.quality import degradation
from platform_assets.wait_times.logic.status import StatusWriter
from platform_assets.wait_times.logic.tables import JOB, SCHEMAS, current_files, partition_dir
from platform_assets.wait_times.logic.versions import MODEL_FILE, champion_ref, keep_last, load_booster, model_name, promote
from platform_core import duck
from platform_core.metrics import regression_metrics
from platform_core.registry import ModelRegistry
from platform_core.storage import DataLayout, atomic_dir, scratch_dir

TOO_FEW = "too_few_observations"
XGB_PARAMS = {"objective": "reg:absoluteerror", "tree_method": "hist", "max_depth": 6, "eta": 0.1, "subsample": 0.5,
              "min_child_weight": 10, "nthread": 1}


@dataclass(frozen=True)
class TrainSettings:
    max_rounds: int = 400  # cap: even if nothing stops early, 1,700 entities fit in ~12 min on 2 cores
    early_stopping_rounds: int = 50
    valid_share: float = 0.2  # the last 20% of an entity's observations in time
    min_train_rows: int = 50
    min_valid_rows: int = 10
    keep_versions: int = 5
    degrade_tolerance: float = 0.02  # degraded: worse than the current MAE by more than 2%, with 95% confidence
    degrade_confidence: float = 0.95  # for the whole run: shared among the entities compared (quality.py)
    degrade_comparisons: int = 1  # entities compared in one run; train_entities sets it to the selection's size
    incremental: bool = False  # continue the champion's trees on the rows it has not seen (see the bench)
    incremental_rounds: int = 100
    incremental_max_trees: int = 800
    workers: int | None = None  # None: pool_size()
    memory_per_worker_gb: float = 4.0
    max_workers: int = 16
    fail_entities: tuple[int, ...] = ()  # fault drill: these entities raise inside their worker
    crash_entities: tuple[int, ...] = ()  # fault drill: these entities kill their worker process


def pool_size(memory_per_worker_gb: float = 4.0, max_workers: int = 16) -> int:
    """min(available RAM x 0.8 / 4 GB, cores, 16), at least 1."""
    import psutil

    by_memory = int(psutil.virtual_memory().available * 0.8 / (memory_per_worker_gb * 2**30))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(by_memory, cores, max_workers))


@dataclass(frozen=True)
class EntityTask:
    entity_id: int
    park: str
    tier: int
    observation_count: int
    reason: str
    data_file: str | None
    registry_root: str
    day: str
    settings: TrainSettings = field(default_factory=TrainSettings)


def _result(task: EntityTask, status: str, reason: str, **values) -> dict:
    row = {column: None for column in SCHEMAS["training_results"]}
    row.update(entity_id=task.entity_id, park=task.park, tier=task.tier, status=status, reason=reason,
               train_rows=0, valid_rows=0, promoted=False)
    row.update(values)
    return row


def _fit(train_X, train_y, valid_X, valid_y, settings: TrainSettings, seed: int, base=None, rounds: int | None = None):
    import xgboost as xgb

    dtrain = xgb.DMatrix(train_X, train_y, nthread=1)
    dvalid = xgb.DMatrix(valid_X, valid_y, nthread=1)
    booster = xgb.train({**XGB_PARAMS, "seed": seed}, dtrain, rounds or settings.max_rounds, evals=[(dvalid, "valid")],
                        early_stopping_rounds=settings.early_stopping_rounds, verbose_eval=False, xgb_model=base)
    return booster[: booster.best_iteration + 1]


def train_entity(task: EntityTask) -> dict:
    """Train, judge, register and (unless degraded) promote one entity's model. Never raises:
    an error becomes a 'failed' row naming it."""
    started = time.perf_counter()
    settings = task.settings
    try:
        if task.entity_id in settings.crash_entities:
            os._exit(70)
        if task.entity_id in settings.fail_entities:
            raise RuntimeError(f"injected failure for entity {task.entity_id} (fault drill)")
        return _train(task, started)
    except Exception as exc:  # noqa: BLE001 (isolation: one entity's error never reaches the pool)
        return _result(task, "failed", "error", error=f"{type(exc).__name__}: {exc}"[:500],
                       seconds=round(time.perf_counter() - started, 3))


def trainable(rows: int, settings: TrainSettings) -> bool:
    """Enough rows for a model: `min_train_rows` to fit and `min_valid_rows` to stop early on.
    An entity below it is skipped as too_few_observations and forecast by the fallback."""
    n_valid = round(rows * settings.valid_share)
    return rows - n_valid >= settings.min_train_rows and n_valid >= settings.min_valid_rows


def _train(task: EntityTask, started: float) -> dict:
    settings = task.settings
    frame = pl.read_parquet(task.data_file).sort("observed_at") if task.data_file else pl.DataFrame()
    n = len(frame)
    n_valid = round(n * settings.valid_share)
    if not trainable(n, settings):
        return _result(task, "skipped", TOO_FEW, train_rows=n - n_valid, valid_rows=n_valid)
    X, y = feature_matrix(frame), frame["posted_wait"].cast(pl.Float32).to_numpy()
    cut = n - n_valid
    registry = ModelRegistry(task.registry_root)
    previous_ref = champion_ref(registry, task.entity_id)
    previous, previous_meta = None, None
    if previous_ref is not None:
        previous_meta = registry.metadata(previous_ref)
        if previous_meta.get("features") == FEATURES:
            previous = load_booster(registry, previous_ref)

    mode, train_from = "full", 0
    if settings.incremental and previous is not None and previous_meta.get("trees", 0) < settings.incremental_max_trees:
        seen_until = np.datetime64(previous_meta["train_end"])
        new_rows = int((frame["observed_at"].to_numpy()[:cut] > seen_until).sum())
        if new_rows >= settings.min_train_rows:
            mode, train_from = "incremental", cut - new_rows
    booster = _fit(X[train_from:cut], y[train_from:cut], X[cut:], y[cut:], settings, seed=task.entity_id,
                   base=previous if mode == "incremental" else None,
                   rounds=settings.incremental_rounds if mode == "incremental" else None)
    import xgboost as xgb

    valid = xgb.DMatrix(X[cut:], nthread=1)
    prediction = booster.predict(valid)
    metrics = regression_metrics(y[cut:], prediction)
    verdict = None
    if previous is not None:
        hours = frame["observed_at"].dt.truncate("1h").to_numpy()[cut:]
        verdict = degradation(np.abs(prediction - y[cut:]), np.abs(previous.predict(valid) - y[cut:]), hours,
                              settings.degrade_tolerance, settings.degrade_confidence, settings.degrade_comparisons)
    seconds = round(time.perf_counter() - started, 3)  # in training_results: in the hashed metadata every version would be new
    metadata = {"entity_id": task.entity_id, "park": task.park, "tier": task.tier, "trained_on": task.day,
                "observation_count": task.observation_count, "train_rows": cut - train_from, "valid_rows": n_valid,
                "train_end": frame["observed_at"][cut - 1].isoformat(), "features": FEATURES, "params": XGB_PARAMS,
                "trees": booster.num_boosted_rounds(), "mode": mode, "mae": metrics["mae"], "rmse": metrics["rmse"],
                "degradation": verdict,
                "previous_version": previous_ref.version if previous_ref else None}
    ref = registry.register(JOB, model_name(task.entity_id), task.day, {MODEL_FILE: bytes(booster.save_raw("ubj"))}, metadata)
    degraded = bool(verdict and verdict["degraded"])
    promoted = False if degraded else promote(registry, task.entity_id, ref, f"trained on {task.day}: MAE {metrics['mae']}")
    keep_last(registry, task.entity_id, settings.keep_versions)
    return _result(task, "degraded" if degraded else "trained",
                   f"{task.reason}; worse than {previous_ref.version} beyond noise" if degraded else f"{task.reason}; {mode}",
                   version=ref.version, mae=metrics["mae"], rmse=metrics["rmse"],
                   previous_mae=verdict["previous_mae"] if verdict else None, trees=booster.num_boosted_rounds(),
                   seconds=seconds, train_rows=cut - train_from, valid_rows=n_valid, promoted=bool(promoted))


def export_training_rows(layout: DataLayout, day: date, entity_ids: list[int], target: Path,
                         threads: int | None = None) -> dict[int, str]:
    """One Parquet file per selected entity with its rows through `day`; returns entity -> file."""
    if not entity_ids:
        return {}
    con = duck.connect(threads)
    try:
        duck.view(con, "facts", current_files(layout, "fact_observations", last=day))
        duck.view(con, "hours", current_files(layout, "dim_park_hours", last=day))
        duck.view(con, "events", current_files(layout, "dim_events", last=day))
        con.register("selected", pl.DataFrame({"entity_id": entity_ids}, schema={"entity_id": pl.Int32}))
        con.execute(f"COPY ({duck.load_sql(JOB, 'training_rows')}) TO {duck.literal(target)} "
                    "(FORMAT parquet, PARTITION_BY (entity_id), WRITE_PARTITION_COLUMNS true, OVERWRITE_OR_IGNORE true)")
    finally:
        con.close()
    files = {}
    for folder in target.glob("entity_id=*"):
        parts = sorted(folder.glob("*.parquet"))
        if parts:
            files[int(folder.name.split("=", 1)[1])] = str(parts[0]) if len(parts) == 1 else str(folder / "*.parquet")
    return files


class _Memory:
    """Peak resident memory of this process plus its pool workers, sampled as entities finish."""

    def __init__(self):
        import psutil

        self.process = psutil.Process()
        self.peak = 0

    def sample(self) -> None:
        import psutil

        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        self.peak = max(self.peak, total)

    def figures(self) -> dict:
        self.sample()
        return {"peak_rss_mb_sampled": round(self.peak / 2**20, 1),
                "max_rss_mb_parent": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "max_rss_mb_largest_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def _warm_up() -> None:
    """Import the heavy libraries when a worker starts, so no entity's seconds include them."""
    import polars  # noqa: F401
    import xgboost  # noqa: F401


def run_pool(tasks: list[EntityTask], workers: int, on_result: Callable[[dict], None],
             worker: Callable[[EntityTask], dict] = train_entity, initializer: Callable[[], None] | None = _warm_up) -> list[dict]:
    """Run `worker` over `tasks` in priority order in a spawn pool of `workers`; at most `workers`
    in flight, so priority holds and a dying worker takes down few. Returns results in task order."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue, suspects, results = deque(tasks), set(), {}
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=initializer)
    inflight: dict = {}
    try:
        while queue or inflight:
            while queue and len(inflight) < (1 if suspects else workers):
                task = queue.popleft()
                inflight[pool.submit(worker, task)] = task
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            broken = []
            for future in done:
                task = inflight.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken.append(task)
                    continue
                suspects.discard(task.entity_id)
                results[task.entity_id] = result
                on_result(result)
            if broken:
                pool.shutdown(wait=True, cancel_futures=True)
                lost = broken + list(inflight.values())
                inflight.clear()
                pool = ProcessPoolExecutor(workers, mp_context=context, initializer=initializer)
                retry = []
                for task in lost:
                    if task.entity_id in suspects or len(lost) == 1:
                        suspects.discard(task.entity_id)
                        result = _result(task, "failed", "error", error="worker process died while training this entity")
                        results[task.entity_id] = result
                        on_result(result)
                    else:
                        suspects.add(task.entity_id)
                        retry.append(task)
                queue.extendleft(reversed(retry))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [results[t.entity_id] for t in tasks]


def train_entities(layout: DataLayout, day: date, index: pl.DataFrame, selected: pl.DataFrame,
                   settings: TrainSettings = TrainSettings(), on_progress: Callable[[dict], None] | None = None,
                   threads: int | None = None) -> tuple[pl.DataFrame, dict]:
    """Train the `selected` rows of the entity index (in their order) and write the day's
    training_results (every entity of the index: the others 'skipped', reason 'not_due').
    Progress goes to status.json and `on_progress`. Returns the results and figures."""
    started = time.perf_counter()
    memory = _Memory()
    status = StatusWriter(layout, day.isoformat(), len(selected), int(selected["observation_count"].sum()))
    status.write("preparing")
    workers = settings.workers or pool_size(settings.memory_per_worker_gb, settings.max_workers)
    staging = Path(tempfile.mkdtemp(dir=scratch_dir(), prefix="wait_times_training_"))
    try:
        files = export_training_rows(layout, day, selected["entity_id"].to_list(), staging / "rows", threads)
        settings = replace(settings, degrade_comparisons=max(len(selected), 1))  # every retrained entity may be compared
        prepared_s = time.perf_counter() - started
        tasks = [EntityTask(r["entity_id"], r["park"], r["tier"], r["observation_count"], r["due_reason"],
                            files.get(r["entity_id"]), str(layout.models), day.isoformat(), settings)
                 for r in selected.iter_rows(named=True)]
        snapshot = status.write("training")
        if on_progress:
            on_progress(snapshot)  # the rows are exported (minutes at full size): 0 done, training starts
        rows = dict(zip(selected["entity_id"].to_list(), selected["observation_count"].to_list()))

        def finished(result: dict) -> None:
            memory.sample()
            snapshot = status.finished(result["status"], rows[result["entity_id"]], result["tier"])
            if on_progress:
                on_progress(snapshot)

        trained = run_pool(tasks, workers, finished) if tasks else []
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    chosen = set(selected["entity_id"].to_list())
    others = [_result(EntityTask(r["entity_id"], r["park"], r["tier"], r["observation_count"], r["due_reason"], None, "", ""),
                      "skipped", "not_due" if not r["due"] else "not_selected")
              for r in index.iter_rows(named=True) if r["entity_id"] not in chosen]
    results = pl.DataFrame(trained + others, schema=SCHEMAS["training_results"])
    with atomic_dir(partition_dir(layout, "training_results", day)) as tmp:
        results.write_parquet(tmp / "part-00000.parquet")
    status.write("trained")
    figures = {**training_figures(results), "workers": workers, "selected": len(selected),
               "prepare_seconds": round(prepared_s, 2), "wall_seconds": round(time.perf_counter() - started, 2),
               **memory.figures()}
    return results, figures


def training_figures(results: pl.DataFrame) -> dict:
    """Counts by tier and status, and the trained models' MAE, trees and seconds."""
    by_tier = {}
    for tier in sorted(results["tier"].unique().to_list()):
        part = results.filter(pl.col("tier") == tier)
        by_tier[int(tier)] = {s: int((part["status"] == s).sum()) for s in ("trained", "degraded", "skipped", "failed")}
    fitted = results.filter(pl.col("status").is_in(["trained", "degraded"]))
    too_few = results.filter(pl.col("reason") == TOO_FEW).sort("tier", "entity_id")
    return {"by_tier": by_tier, **{s: int((results["status"] == s).sum()) for s in ("trained", "degraded", "skipped", "failed")},
            "compared": int(results["previous_mae"].is_not_null().sum()),
            "too_few_observations": len(too_few),
            "too_few_by_tier": {int(t): n for t, n in too_few.group_by("tier").len().sort("tier").iter_rows()},
            "too_few_entities": too_few["entity_id"].head(50).to_list(),
            "promoted": int(results["promoted"].sum()),
            "median_mae": round(float(fitted["mae"].median()), 3) if len(fitted) else None,
            "median_trees": float(fitted["trees"].median()) if len(fitted) else None,
            "train_seconds_sum": round(float(fitted["seconds"].sum()), 2) if len(fitted) else 0.0,
            "failed_entities": results.filter(pl.col("status") == "failed")["entity_id"].to_list()}
