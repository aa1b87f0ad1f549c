"""Post-processing of engagement predictions into the published score table, vectorized.

Tiers cover [0, 1] with no gap: each tier is [low, high) except the last, which also holds 1.0
(the seed's pd.cut left a score of exactly 0 without a tier).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from platform_assets.engagement.logic.world import FEATURES, KEY

if TYPE_CHECKING:
    from platform_assets.engagement.logic.model import EngagementPipeline

ENGAGEMENT_TIERS = [(0.0, 0.3, "Low"), (0.3, 0.5, "Medium"), (0.5, 0.7, "High"), (0.7, 1.0, "Very High")]
CHURN_RISK_TIERS = [(0.0, 0.3, "Low"), (0.3, 0.5, "Medium"), (0.5, 0.7, "High"), (0.7, 1.0, "Critical")]
SCORE_DECIMALS = 3

SCORE_SCHEMA = {
    KEY: pl.Int64,
    "engagement_score": pl.Float64,
    "confidence": pl.Float64,
    "engagement_tier": pl.String,
    "churn_probability": pl.Float64,
    "churn_risk_tier": pl.String,
    "model_version": pl.String,
    "scored_at": pl.String,
}


def tier_index(values: np.ndarray, tiers: list[tuple[float, float, str]] = ENGAGEMENT_TIERS) -> np.ndarray:
    """Index of the tier holding each value in [0, 1]: [low, high), the last tier closed at 1."""
    inner_edges = np.array([low for low, _, _ in tiers[1:]])
    return np.searchsorted(inner_edges, values, side="right")


def tier_labels(values: np.ndarray, tiers: list[tuple[float, float, str]]) -> pl.Series:
    """Tier name of each value, gathered by tier index (no per-row Python)."""
    names = pl.Series([name for _, _, name in tiers])
    return names.gather(tier_index(values, tiers))


def feature_matrix(customers: pl.DataFrame, features: list[str] = FEATURES) -> np.ndarray:
    """All feature columns as one float32 matrix (nulls become NaN), built once."""
    return customers.select(pl.col(features).cast(pl.Float32)).to_numpy()


def score_customers(pipeline: EngagementPipeline, customers: pl.DataFrame, model_version: str, scored_at: str) -> pl.DataFrame:
    """The published score table: one row per customer, columns and types of SCORE_SCHEMA."""
    raw = pipeline.predict(feature_matrix(customers, pipeline.features))
    score = np.round(raw.astype(np.float64), SCORE_DECIMALS)
    churn = np.round(1.0 - score, SCORE_DECIMALS)
    confidence = np.round(pipeline.confidence(score), SCORE_DECIMALS)
    return pl.DataFrame(
        {
            KEY: customers[KEY].cast(pl.Int64),
            "engagement_score": score,
            "confidence": confidence,
            "engagement_tier": tier_labels(score, ENGAGEMENT_TIERS),
            "churn_probability": churn,
            "churn_risk_tier": tier_labels(churn, CHURN_RISK_TIERS),
            "model_version": pl.repeat(model_version, len(customers), dtype=pl.String, eager=True),
            "scored_at": pl.repeat(scored_at, len(customers), dtype=pl.String, eager=True),
        },
        schema=SCORE_SCHEMA,
    )


def tier_distribution(scores: pl.DataFrame, column: str = "engagement_tier",
                      tiers: list[tuple[float, float, str]] = ENGAGEMENT_TIERS) -> list[dict]:
    """Rows and share per tier of `column`, in tier order, zero-row tiers included."""
    total = max(len(scores), 1)
    counts = dict(scores.group_by(column).len().iter_rows())
    return [
        {"tier": name, "rows": counts.get(name, 0), "share": round(counts.get(name, 0) / total, 4)}
        for _, _, name in tiers
    ]
