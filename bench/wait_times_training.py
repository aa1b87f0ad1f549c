"""wait_times training, side by side on the same data: the seed's way against the platform's.

    .venv/bin/python bench/wait_times_training.py --entities 1700 --days 730        # full size (the lead)
    .venv/bin/python bench/wait_times_training.py --entities 60 --days 30 --sample 6  # a quick check

- seed: one `python` subprocess per entity, sequential, 2,000 rounds without early stopping
  (XGBoost's default threads), measured on `--sample` entities spread over the size range and
  extrapolated to all entities by a least-squares fit of seconds on training rows;
- platform: every entity in the spawn pool (early stopping 50, cap 400, nthread=1), then a
  typical next day (one more day delivered, ETL'd, only the due entities trained);
- quality: forecast MAE against the world's true expected waits over the next 3 days, platform
  models vs the seed's 2,000-tree models on the sampled entities (goal: within 2%);
- incremental continuation vs full retrain on the next day, for the sampled entities.

Prints a markdown table and writes JSON to bench/results/wait_times_training.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from platform_assets.wait_times.logic.delivery import deliver_day, deliver_history, load_world
from platform_assets.wait_times.logic.entity_index import Selection, build_entity_index, read_entity_index, select_entities
from platform_assets.wait_times.logic.etl import process_day, process_days
from platform_assets.wait_times.logic.features import feature_matrix
from platform_assets.wait_times.logic.forecasting import SLOT, forecast_slots
from platform_assets.wait_times.logic.tables import current_files
from platform_assets.wait_times.logic.training import (
    XGB_PARAMS,
    EntityTask,
    TrainSettings,
    export_training_rows,
    train_entities,
    train_entity,
)
from platform_assets.wait_times.logic.versions import champion_ref, load_booster
from platform_assets.wait_times.logic.world import WorldParams
from platform_core.registry import ModelRegistry
from platform_core.storage import DataLayout, remove_tree

SEED_SCRIPT = """
import sys, time
import numpy as np, polars as pl, xgboost as xgb
sys.path.insert(0, {repo!r})
from platform_assets.wait_times.logic.features import feature_matrix
frame = pl.read_parquet(sys.argv[1]).sort("observed_at")
X, y = feature_matrix(frame), frame["posted_wait"].cast(pl.Float32).to_numpy()
cut = len(y) - int(round(len(y) * 0.2))
params = {{k: v for k, v in {params!r}.items() if k != "nthread"}}
booster = xgb.train(params, xgb.DMatrix(X[:cut], y[:cut]), 2000)
booster.save_model(sys.argv[2])
"""


def _setup(layout: DataLayout, params: WorldParams) -> dict:
    started = time.perf_counter()
    delivered = deliver_history(layout, params)
    world = load_world(layout)
    days = [world.start + timedelta(days=k) for k in range(params.history_days)]
    etl = process_days(layout, days) if not current_files(layout, "fact_observations") else {"seconds": 0.0, "skipped": True}
    return {"deliver": delivered, "etl": etl, "seconds": round(time.perf_counter() - started, 1)}


def _seed_way(sample: list[int], files: dict[int, str], workdir: Path) -> dict:
    script = workdir / "seed_train.py"
    script.write_text(SEED_SCRIPT.format(repo=str(REPO), params=XGB_PARAMS))
    seconds = {}
    for entity in sample:
        started = time.perf_counter()
        subprocess.run([sys.executable, str(script), files[entity], str(workdir / f"seed-{entity}.json")], check=True)
        seconds[entity] = time.perf_counter() - started
    return seconds


def _truth_mae(layout: DataLayout, world, day, entity: int, park: str, booster) -> float:
    import xgboost as xgb

    schedule = pl.read_parquet([str(f) for f in current_files(layout, "park_schedule", day, day)])
    slots = forecast_slots(schedule, day, 3).filter(pl.col("park") == park)
    predicted = np.maximum(booster.predict(xgb.DMatrix(feature_matrix(slots, at="slot_middle"))), 0)
    truth = world.true_expected_wait(np.full(len(slots), entity), slots["slot_start"] + SLOT / 2)
    return float(np.abs(predicted - truth).mean())


def _next_day_truth(layout: DataLayout, world, day, index: pl.DataFrame, full_models: Path, incremental_models: Path,
                    entities: int = 150) -> dict:
    """Forecast MAE against truth of the next day's full-retrain and incremental champions, on up to
    `entities` due entities spread over the size range (both registries start from the same day)."""
    due = index.filter(pl.col("due")).sort("observation_count")
    picks = due[np.unique(np.linspace(0, len(due) - 1, min(entities, len(due))).round().astype(int))]
    full, incremental = ModelRegistry(full_models), ModelRegistry(incremental_models)
    pairs = []
    for entity, park in picks.select("entity_id", "park").iter_rows():
        refs = champion_ref(full, entity), champion_ref(incremental, entity)
        if None in refs:
            continue
        pairs.append((_truth_mae(layout, world, day, entity, park, load_booster(full, refs[0])),
                      _truth_mae(layout, world, day, entity, park, load_booster(incremental, refs[1]))))
    f, i = np.array(pairs).T
    return {"entities": len(pairs), "full_truth_mae": round(float(f.mean()), 4), "incremental_truth_mae": round(float(i.mean()), 4),
            "relative": round(float(i.mean() / f.mean() - 1), 4), "incremental_worse_by_2pct_on": int((i > 1.02 * f).sum()),
            "incremental_better_by_2pct_on": int((i < f / 1.02).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=1700)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--sample", type=int, default=20, help="entities trained the seed's way")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "wait_times_bench"))
    args = parser.parse_args()

    import xgboost as xgb

    params = WorldParams(seed=args.seed, entities=args.entities, history_days=args.days)
    layout = DataLayout.at(Path(args.data) / f"e{args.entities}-d{args.days}-s{args.seed}")
    setup = _setup(layout, params)
    world = load_world(layout)
    day = world.history_end
    remove_tree(layout.models)
    registry = ModelRegistry(layout.models)

    build_entity_index(layout, day, registry)
    index = read_entity_index(layout, day)
    everything = select_entities(index, Selection("all"))
    _, full = train_entities(layout, day, index, everything, TrainSettings())

    next_day = day + timedelta(days=1)
    deliver_day(layout, world, next_day) if not layout.landing("wait_times", next_day.isoformat()).exists() else None
    process_day(layout, next_day)
    index_figures = build_entity_index(layout, next_day, registry)
    next_index = read_entity_index(layout, next_day)
    workdir = Path(tempfile.mkdtemp(prefix="wait_times_bench_"))
    day_models = workdir / "models-day"  # the full retrain's registry: the next day starts from it, both ways
    shutil.copytree(layout.models, day_models)
    _, typical = train_entities(layout, next_day, next_index, select_entities(next_index), TrainSettings())
    shutil.move(layout.models, workdir / "models-next-full")
    shutil.copytree(day_models, layout.models)
    _, typical_incremental = train_entities(layout, next_day, next_index, select_entities(next_index),
                                            TrainSettings(incremental=True))
    next_day_truth = _next_day_truth(layout, world, next_day, next_index, workdir / "models-next-full", layout.models)
    registry = ModelRegistry(day_models)

    trainable = index.filter(pl.col("observation_count") >= 100).sort("observation_count")
    picks = np.unique(np.linspace(0, len(trainable) - 1, min(args.sample, len(trainable))).round().astype(int))
    sample = trainable[picks]
    try:
        files = export_training_rows(layout, day, sample["entity_id"].to_list(), workdir / "rows")
        seed_seconds = _seed_way(sample["entity_id"].to_list(), files, workdir)
        rows = sample["observation_count"].to_numpy().astype(float)
        fit = np.polyfit(rows, [seed_seconds[e] for e in sample["entity_id"]], 1)
        all_rows = index["observation_count"].to_numpy().astype(float)
        seed_extrapolated = float(np.maximum(np.polyval(fit, all_rows), fit[1]).sum())

        quality, incremental = [], []
        for entity, park in sample.select("entity_id", "park").iter_rows():
            seed_booster = xgb.Booster()
            seed_booster.load_model(str(workdir / f"seed-{entity}.json"))
            ours = load_booster(registry, champion_ref(registry, entity))
            quality.append((_truth_mae(layout, world, day, entity, park, ours),
                            _truth_mae(layout, world, day, entity, park, seed_booster)))
        next_files = export_training_rows(layout, next_day, sample["entity_id"].to_list(), workdir / "next")
        for entity, park, tier, count in sample.select("entity_id", "park", "tier", "observation_count").iter_rows():
            if entity not in next_files:
                continue
            outcome = {}
            for mode in ("full", "incremental"):
                scratch = DataLayout.at(workdir / f"inc-{mode}")
                if not (scratch.models / "wait_times").exists():
                    shutil.copytree(layout.models, scratch.models)
                settings = TrainSettings(incremental=mode == "incremental", min_train_rows=20)
                started = time.perf_counter()
                result = train_entity(EntityTask(entity, park, tier, count, "bench", next_files[entity], str(scratch.models),
                                                 (next_day + timedelta(days=1)).isoformat(), settings))
                outcome[mode] = {"seconds": time.perf_counter() - started, "mae": result["mae"], "trees": result["trees"],
                                 "status": result["status"], "mode": result["reason"]}
            incremental.append(outcome)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    ours_mae, seed_mae = np.mean([q[0] for q in quality]), np.mean([q[1] for q in quality])
    inc_full = [o for o in incremental if o["incremental"]["mode"].endswith("incremental")]
    results = {
        "entities": args.entities, "days": args.days, "observations": int(index["observation_count"].sum()),
        "setup": setup,
        "platform_full_retrain": full, "platform_next_day": {**typical, "due": index_figures},
        "platform_next_day_incremental": typical_incremental, "next_day_truth_full_vs_incremental": next_day_truth,
        "seed": {"sample": len(sample), "sample_seconds": round(sum(seed_seconds.values()), 1),
                 "seconds_per_row_fit": [float(fit[0]), float(fit[1])], "extrapolated_all_seconds": round(seed_extrapolated, 1)},
        "quality": {"entities": len(quality), "platform_truth_mae": round(float(ours_mae), 4),
                    "seed_2000_trees_truth_mae": round(float(seed_mae), 4),
                    "relative": round(float(ours_mae / seed_mae - 1), 4),
                    "platform_worse_by_2pct_on": int(sum(o > 1.02 * s for o, s in quality))},
        "incremental_vs_full": {
            "entities": len(inc_full),
            "full_seconds": round(sum(o["full"]["seconds"] for o in inc_full), 2),
            "incremental_seconds": round(sum(o["incremental"]["seconds"] for o in inc_full), 2),
            "full_mean_mae": round(float(np.mean([o["full"]["mae"] for o in inc_full])), 4) if inc_full else None,
            "incremental_mean_mae": round(float(np.mean([o["incremental"]["mae"] for o in inc_full])), 4) if inc_full else None},
    }
    out = REPO / "bench" / "results" / "wait_times_training.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    q, s, inc = results["quality"], results["seed"], results["incremental_vs_full"]
    print(f"| wait_times, {args.entities:,} entities, {results['observations']:,} observations | value |\n| --- | --- |")
    print(f"| seed: {s['sample']} entities, one subprocess each, 2,000 trees | {s['sample_seconds']:.1f} s |")
    print(f"| seed: all entities, extrapolated | {s['extrapolated_all_seconds'] / 60:.1f} min |")
    print(f"| platform: all entities, pool of {full['workers']} | {full['wall_seconds'] / 60:.2f} min "
          f"(trained {full['trained']}, skipped {full['skipped']}, failed {full['failed']}) |")
    print(f"| platform: next day, {typical['selected']} due, full retrain | {typical['wall_seconds']:.1f} s |")
    t = results["next_day_truth_full_vs_incremental"]
    print(f"| platform: next day, {typical_incremental['selected']} due, incremental | {typical_incremental['wall_seconds']:.1f} s; "
          f"MAE vs truth on {t['entities']} entities {t['full_truth_mae']:.3f} full / {t['incremental_truth_mae']:.3f} incremental |")
    print(f"| peak memory, parent + workers (full retrain) | {full['peak_rss_mb_sampled']:,.0f} MB |")
    print(f"| forecast MAE vs truth, platform / 2,000 trees ({q['entities']} entities) | "
          f"{q['platform_truth_mae']:.3f} / {q['seed_2000_trees_truth_mae']:.3f} ({100 * q['relative']:+.1f}%) |")
    if inc["entities"]:
        print(f"| next day, {inc['entities']} entities: full retrain / incremental | {inc['full_seconds']:.2f} s / "
              f"{inc['incremental_seconds']:.2f} s; MAE {inc['full_mean_mae']:.3f} / {inc['incremental_mean_mae']:.3f} |")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
