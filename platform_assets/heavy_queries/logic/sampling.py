"""Training-set sampling: every heavy query, and small queries kept more often near the heavy boundary.

The seed's continuous distance-based boundary sampling: a small query's distance to the boundary
is how far, in log10 cost, it is below the nearer of the two thresholds (CPU, peak memory). Its
keep probability is the uniform rate that gives `ratio` small per heavy, times a multiplier that
decays with the distance (exp(-d / median d)), bounded to [min_multiplier, max_boost] and scaled
(by bisection) so the expected number kept is exactly `ratio` x heavy. Queries that nearly were
heavy are what the model must learn to separate; far-away ones are easy and plentiful.

The plan (`BoundaryPlan`) is computed from counts, not rows: the small queries' distances binned
at DISTANCE_BIN (a 0.02% step in cost) and the number of heavy ones, which a window adds up one
day at a time; so is the cap: when more than `max_rows` would be kept, every probability, heavy
ones included, is scaled by the same factor, the ratio holds and the sample stays bounded
whatever the log's size. Each row is kept or not by its own draw (Poisson sampling), a uniform
number hashed from its query_id and the seed (polars' hash: stable for the installed version), so
a row's fate does not depend on which batch it is read in; `keep_probability` is stored so any
estimate can be reweighted.
Plain random under-sampling at the same ratio is here for comparison (bench/heavy_queries_serving.py).
"""

from __future__ import annotations

from dataclasses import dataclass

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


DISTANCE_BIN = 1e-4


def distance_counts(distance: np.ndarray) -> np.ndarray:
    """Distances binned at DISTANCE_BIN (bin i holds [i, i + 1) x DISTANCE_BIN)."""
    return np.bincount(np.floor(np.asarray(distance) / DISTANCE_BIN).astype(np.int64), minlength=1)


def add_counts(total: np.ndarray | None, counts: np.ndarray) -> np.ndarray:
    if total is None:
        return counts
    size = max(len(total), len(counts))
    return np.pad(total, (0, size - len(total))) + np.pad(counts, (0, size - len(counts)))


def _centers(counts: np.ndarray) -> np.ndarray:
    """The distance at the middle of each DISTANCE_BIN bin of `counts`."""
    return (np.arange(len(counts)) + 0.5) * DISTANCE_BIN


def _weighted_median(counts: np.ndarray) -> float | None:
    if counts.sum() == 0:
        return None
    middle = int(np.searchsorted(np.cumsum(counts), counts.sum() / 2))
    return (middle + 0.5) * DISTANCE_BIN


@dataclass(frozen=True)
class BoundaryPlan:
    """Keep probabilities as a function of a row's distance and label."""

    base: float
    scale: float
    k: float
    thin: float  # <= 1: the cap's factor, on every probability
    max_boost: float
    min_multiplier: float

    def small_probability(self, distance: np.ndarray) -> np.ndarray:
        return np.clip(self.base * np.clip(self.k * np.exp(-np.asarray(distance) / self.scale), self.min_multiplier,
                                           self.max_boost), 0.0, 1.0)

    def probability(self, distance: np.ndarray, heavy: np.ndarray) -> np.ndarray:
        return self.thin * np.where(heavy, 1.0, self.small_probability(distance))


def plan_boundary(small_counts: np.ndarray, heavy: int, ratio: float = 5.0, max_boost: float = 2.0,
                  min_multiplier: float = 0.05, max_rows: int | None = None) -> BoundaryPlan:
    """The plan for `heavy` heavy queries and small ones whose binned distances are `small_counts`."""
    centers = _centers(small_counts)
    target = ratio * heavy
    base = min(1.0, target / max(int(small_counts.sum()), 1))
    median = _weighted_median(small_counts)
    scale = median if median else 1.0
    low, high = 1e-9, 1e9
    for _ in range(200):
        k = (low * high) ** 0.5
        if (small_counts * BoundaryPlan(base, scale, k, 1.0, max_boost, min_multiplier).small_probability(centers)).sum() < target:
            low = k
        else:
            high = k
    plan = BoundaryPlan(base, scale, high, 1.0, max_boost, min_multiplier)
    expected = heavy + float((small_counts * plan.small_probability(centers)).sum())
    thin = min(1.0, max_rows / expected) if max_rows and expected > 0 else 1.0
    return BoundaryPlan(base, scale, high, thin, max_boost, min_multiplier)


def uniform(query_ids: pl.Series, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per query_id, the same for the same id and seed in any batch."""
    return query_ids.cast(pl.String).fill_null("").hash(seed=seed).to_numpy() / 2.0**64


def boundary_figures(plan: BoundaryPlan, small_counts: np.ndarray, heavy_in: int, sample: pl.DataFrame) -> dict:
    """What a boundary sample holds against what it was drawn from (`sample` with heavy and boundary_distance)."""
    centers = _centers(small_counts)
    kept_small = sample.filter(~pl.col("heavy"))["boundary_distance"].to_numpy()
    dropped = np.clip(add_counts(small_counts, -distance_counts(kept_small))[:len(small_counts)], 0, None)
    present = centers[small_counts > 0]
    multipliers = plan.small_probability(present) / plan.base if len(present) and plan.base > 0 else None
    heavy_kept = int(sample["heavy"].sum())
    small_kept = sample.height - heavy_kept
    return {
        "method": "boundary", "rows_in": heavy_in + int(small_counts.sum()), "heavy_in": heavy_in,
        "small_in": int(small_counts.sum()), "heavy_kept": heavy_kept, "small_kept": small_kept,
        "ratio_achieved": round(small_kept / heavy_kept, 3) if heavy_kept else None,
        "expected_small": round(plan.thin * float((small_counts * plan.small_probability(centers)).sum()), 1),
        "cap_factor": round(plan.thin, 6), "scale_k": round(plan.k, 6), "distance_scale": round(plan.scale, 4),
        "base_rate": round(plan.base, 6),
        "multiplier_range": [round(float(multipliers.min()), 4), round(float(multipliers.max()), 4)] if multipliers is not None else None,
        "median_distance_kept": round(float(np.median(kept_small)), 4) if len(kept_small) else None,
        "median_distance_dropped": round(m, 4) if (m := _weighted_median(dropped)) is not None else None,
    }


def boundary_sample(frame: pl.DataFrame, thresholds: HeavyThresholds, ratio: float = 5.0, max_boost: float = 2.0,
                    min_multiplier: float = 0.05, seed: int = 7, max_rows: int | None = None) -> tuple[pl.DataFrame, dict]:
    """(sample with `keep_probability` and `boundary_distance`, figures) of a labelled frame in memory."""
    heavy = frame["heavy"].to_numpy()
    distance = boundary_distance(frame, thresholds)
    small_counts = distance_counts(distance[~heavy])
    plan = plan_boundary(small_counts, int(heavy.sum()), ratio, max_boost, min_multiplier, max_rows)
    sample = draw(frame.with_columns(pl.Series("boundary_distance", distance)), plan.probability(distance, heavy), seed)
    return sample, boundary_figures(plan, small_counts, int(heavy.sum()), sample)


def draw(frame: pl.DataFrame, probability: np.ndarray, seed: int) -> pl.DataFrame:
    """The rows of `frame` kept by their own draws against `probability`, with `keep_probability`."""
    keep = uniform(frame["query_id"], seed) < probability
    return frame.with_columns(pl.Series("keep_probability", probability)).filter(pl.Series(keep))


def random_undersample(frame: pl.DataFrame, ratio: float = 5.0, seed: int = 7) -> tuple[pl.DataFrame, dict]:
    """The plain alternative: every heavy query, small ones uniformly at `ratio` x heavy (expected)."""
    heavy = frame["heavy"].to_numpy()
    base = min(1.0, ratio * heavy.sum() / max((~heavy).sum(), 1))
    probability = np.where(heavy, 1.0, base)
    sample = draw(frame, probability, seed)
    heavy_kept = int(sample["heavy"].sum())
    small = sample.height - heavy_kept
    return sample, {"method": "random", "rows_in": len(frame), "heavy_in": int(heavy.sum()), "small_in": int((~heavy).sum()),
                    "heavy_kept": heavy_kept, "small_kept": small, "ratio_achieved": round(small / heavy_kept, 3) if heavy_kept else None,
                    "expected_small": round(float(probability[~heavy].sum()), 1)}
