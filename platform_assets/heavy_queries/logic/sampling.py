"""Training-set sampling: every heavy query, and small queries kept more often near the heavy boundary.

The seed's continuous distance-based boundary sampling: a small query's distance to the boundary
is how far, in log10 cost, it is below the nearer of the two thresholds (CPU, peak memory). Its
keep probability is the uniform rate that gives `ratio` small per heavy, times a multiplier that
decays with the distance (exp(-d / median d)), bounded to [min_multiplier, max_boost] and scaled
(by bisection) so the expected number kept is exactly `ratio` x heavy. Queries that nearly were
heavy are what the model must learn to separate; far-away ones are easy and plentiful.
Each row is kept or not by its own draw (Poisson sampling), deterministic from `seed` over rows
ordered by query_id; `keep_probability` is stored so any estimate can be reweighted.
Plain random under-sampling at the same ratio is here for comparison (bench/heavy_queries_serving.py).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.config import HeavyThresholds


def boundary_distance(frame: pl.DataFrame, thresholds: HeavyThresholds) -> np.ndarray:
    """log10 distance of each run below the nearer threshold (0 at or past it)."""
    cpu = np.log10(frame["cpu_time_ms"].cast(pl.Float64).fill_null(0.0).to_numpy() + 1.0)
    memory = np.log10(frame["peak_memory_bytes"].cast(pl.Float64).fill_null(0.0).to_numpy() + 1.0)
    to_cpu = np.log10(thresholds.cpu_ms + 1.0) - cpu
    to_memory = np.log10(thresholds.peak_memory_bytes + 1.0) - memory
    return np.maximum(np.minimum(to_cpu, to_memory), 0.0)


def _draw(frame: pl.DataFrame, probability: np.ndarray, seed: int, method: str) -> tuple[pl.DataFrame, dict]:
    order = np.argsort(frame["query_id"].to_numpy(), kind="stable")
    uniform = np.empty(len(frame))
    uniform[order] = np.random.default_rng(seed).random(len(frame))
    keep = uniform < probability
    sample = frame.with_columns(pl.Series("keep_probability", probability)).filter(pl.Series(keep))
    heavy = int(sample["heavy"].sum())
    small = len(sample) - heavy
    return sample, {
        "method": method, "rows_in": len(frame), "heavy_in": int(frame["heavy"].sum()),
        "small_in": int((~frame["heavy"]).sum()), "heavy_kept": heavy, "small_kept": small,
        "ratio_achieved": round(small / heavy, 3) if heavy else None, "expected_small": round(float(probability[~frame["heavy"].to_numpy()].sum()), 1),
    }


def boundary_sample(frame: pl.DataFrame, thresholds: HeavyThresholds, ratio: float = 5.0, max_boost: float = 2.0,
                    min_multiplier: float = 0.05, seed: int = 7) -> tuple[pl.DataFrame, dict]:
    """(sample with `keep_probability` and `boundary_distance`, figures) of a labelled frame."""
    heavy = frame["heavy"].to_numpy()
    distance = boundary_distance(frame, thresholds)
    small = ~heavy
    target = ratio * heavy.sum()
    base = min(1.0, target / max(small.sum(), 1))
    scale = float(np.median(distance[small])) if small.any() else 1.0
    shape = np.exp(-distance / (scale if scale > 0 else 1.0))

    def probabilities(k: float) -> np.ndarray:
        return np.clip(base * np.clip(k * shape, min_multiplier, max_boost), 0.0, 1.0)

    low, high = 1e-9, 1e9
    for _ in range(200):
        k = (low * high) ** 0.5
        if probabilities(k)[small].sum() < target:
            low = k
        else:
            high = k
    probability = np.where(heavy, 1.0, probabilities(high))
    sample, figures = _draw(frame.with_columns(pl.Series("boundary_distance", distance)), probability, seed, "boundary")
    kept = sample.filter(~pl.col("heavy"))["boundary_distance"]
    dropped = distance[small & ~np.isin(frame["query_id"].to_numpy(), sample["query_id"].to_numpy())]
    figures.update({
        "scale_k": round(high, 6), "distance_scale": round(scale, 4), "base_rate": round(base, 6),
        "multiplier_range": [round(float(probability[small].min() / base), 4), round(float(probability[small].max() / base), 4)]
        if small.any() and base > 0 else None,
        "median_distance_kept": round(float(kept.median()), 4) if len(kept) else None,
        "median_distance_dropped": round(float(np.median(dropped)), 4) if len(dropped) else None,
    })
    return sample, figures


def random_undersample(frame: pl.DataFrame, ratio: float = 5.0, seed: int = 7) -> tuple[pl.DataFrame, dict]:
    """The plain alternative: every heavy query, small ones uniformly at `ratio` x heavy (expected)."""
    heavy = frame["heavy"].to_numpy()
    base = min(1.0, ratio * heavy.sum() / max((~heavy).sum(), 1))
    return _draw(frame, np.where(heavy, 1.0, base), seed, "random")
