"""Synthetic world only: the published scores against the true engagement of the customers
they score (truth is read here, after scoring, never by training)."""

from __future__ import annotations

import numpy as np
import polars as pl

from platform_assets.engagement.logic.scoring import ENGAGEMENT_TIERS, tier_index
from platform_assets.engagement.logic.world import KEY, TRUTH
from platform_core.metrics import regression_metrics
from platform_core.storage import Location


def accuracy_against_truth(scores: pl.DataFrame, truth_dir: Location) -> dict:
    """R², RMSE, MAE of engagement_score against the true engagement, the share of customers in
    their true tier, and the mean confidence that claims to estimate that share."""
    truth = pl.read_parquet(str(truth_dir / "*.parquet"))
    joined = scores.join(truth, on=KEY, how="inner")
    true, score = joined[TRUTH].to_numpy().astype(np.float64), joined["engagement_score"].to_numpy()
    in_true_tier = tier_index(np.clip(true, 0, 1), ENGAGEMENT_TIERS) == tier_index(score, ENGAGEMENT_TIERS)
    return {**regression_metrics(true, score), "scored_with_truth": len(joined),
            "true_tier_share": round(float(in_true_tier.mean()), 4) if len(joined) else None,
            "mean_confidence": round(float(joined["confidence"].mean()), 4) if len(joined) else None}
