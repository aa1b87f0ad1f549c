"""Is a new model worse than the current one? A paired comparison on the same validation rows.

Each row gives d = |error of the new model| - |error of the current one|. Rows of the same hour
share that hour's crowd, so they are not independent: the standard error of the mean difference
is clustered by hour (CR0 sandwich), with a t quantile on (clusters - 1) degrees of freedom. The new
model is degraded only when it is worse by more than `tolerance` x the current MAE with the
stated confidence (the interval's lower bound clears the margin), so noise alone never flags
it, and a verdict does not flip because a big entity has more rows than a small one. The verdict
is three-way (platform_core/verdicts.py): fail (degraded, not promoted), pass (not worse beyond
the margin) or inconclusive (the validation rows cannot tell; promoted, counted). A run compares
`comparisons` entities at once (about 750 on a daily retrain), so each interval is drawn at
`confidence` shared among them (Bonferroni): on a day where nothing degraded, no entity is
flagged by chance more often than 1 - `confidence` for the whole run.
"""

from __future__ import annotations

import numpy as np

from platform_core.verdicts import FAIL, INCONCLUSIVE, per_comparison_level, verdict


def degradation(new_abs_error: np.ndarray, previous_abs_error: np.ndarray, clusters: np.ndarray,
                tolerance: float = 0.02, confidence: float = 0.95, comparisons: int = 1) -> dict:
    from scipy import stats

    d = np.asarray(new_abs_error, dtype=np.float64) - np.asarray(previous_abs_error, dtype=np.float64)
    n = len(d)
    previous_mae = float(np.mean(previous_abs_error)) if n else float("nan")
    if n < 2:
        return {"degraded": False, "verdict": INCONCLUSIVE, "mean_difference": float("nan"), "lower": float("nan"),
                "upper": float("nan"), "previous_mae": previous_mae, "margin": float("nan"), "clusters": 0, "rows": n,
                "comparisons": comparisons}
    mean = float(d.mean())
    _, cluster_index = np.unique(clusters, return_inverse=True)
    k = int(cluster_index.max()) + 1
    if k >= 2:
        sums = np.bincount(cluster_index, weights=d - mean)
        se, df = float(np.sqrt((sums**2).sum()) / n), k - 1
    else:
        se, df = float(d.std(ddof=1) / np.sqrt(n)), n - 1
    half = float(stats.t.ppf(0.5 + per_comparison_level(confidence, comparisons) / 2, df)) * se
    margin = tolerance * previous_mae
    outcome = verdict(mean - half, mean + half, margin)
    return {"degraded": outcome == FAIL, "verdict": outcome, "mean_difference": round(mean, 4), "lower": round(mean - half, 4),
            "upper": round(mean + half, 4), "previous_mae": round(previous_mae, 4), "margin": round(margin, 4),
            "clusters": k, "rows": n, "comparisons": comparisons}
