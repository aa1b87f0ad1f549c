"""Settings of the engagement job (resource key `engagement`). Every field can be set as
ENGAGEMENT_<FIELD> in the environment; the defaults train on 100,000 customers on 2 cores."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from resources.settings import JobSettings


class EngagementConfig(JobSettings):
    env_prefix: ClassVar[str] = "ENGAGEMENT_"

    selected_features: int = Field(default=45, description="k of SelectKBest(f_regression): features the model sees.")
    search: Literal["halving_early_stopping", "early_stopping", "halving", "grid"] = Field(default="halving_early_stopping",
                        description="Search over the seed's grid: halving_early_stopping (default: each candidate boosted once "
                                    "per fold with its best round read off the validation curve, candidates raced by successive "
                                    "halving), early_stopping, halving (sklearn successive halving) or grid (every fit).")
    folds: int = Field(default=5, description="Cross-validation folds of the search (the seed's: 5).")
    search_max_rows: int = Field(default=50_000, gt=1_000,
                                 description="The search tunes on at most this many training rows (drawn at random); the "
                                             "final model is fit on all of them.")
    seed: int = Field(default=7, description="Seed for the split, the search and the model.")
    nthread: int = Field(default=2, description="Threads for training and scoring.")
    min_labelled_rows: int = Field(default=2_000, description="Fewer labelled customers than this: the month is not trained on.")
    max_duplicate_rate: float = Field(default=0.01, description="Above this share of duplicate customer ids the delivery is refused.")
    max_unknown_value_rate: float = Field(
        default=0.05, description="Above this share of values cast to NULL (unknown codes, non-numbers) in any column it is refused.")
    max_quarantine_rate: float = Field(
        default=0.01, description="Above this share of customers set aside for a value outside its column's range (NaN, "
                                  "infinite, implausible, a label outside [0, 1]) the delivery is refused.")
    min_r2: float = Field(default=0.7, description="Quality floor: test R² of the engagement score.")
    max_rmse: float = Field(default=0.12, description="Quality floor: test RMSE of the engagement score.")
    max_dp_difference: float = Field(
        default=0.1, description="Demographic parity difference of the binarized score (> 0.5): fails when confidently above.")
    max_eo_difference: float = Field(default=0.1, description="Equalized odds difference: fails when confidently above.")
    max_proxy_auc: float = Field(default=0.75, description="A selected feature predicting a protected attribute above this AUC is a proxy.")
    min_group_rows: int = Field(default=100, description="Smaller groups are reported, not gated.")
    fairness_inconclusive: Literal["warn", "block"] = Field(
        default="warn", description="A fairness verdict the test rows cannot settle: warn (fairness_conclusive fails as a "
                                    "warning naming the groups and rows needed; promotion goes on) or block (the gate fails).")
    calibration_tolerance: float = Field(default=0.05, description="Allowed gap between mean confidence and observed tier accuracy.")
    champion_tolerance: float = Field(default=0.01, description="A candidate whose test R² is lower than the champion's by more is not promoted.")
    quality_inconclusive: Literal["warn", "block"] = Field(
        default="warn", description="A test R² or RMSE whose interval straddles its floor: warn (gates_conclusive fails as a "
                                    "warning naming the rows needed) or block (holdout_quality fails).")
    calibration_inconclusive: Literal["warn", "block"] = Field(
        default="warn", description="A calibration gap whose interval straddles calibration_tolerance: warn (gates_conclusive) "
                                    "or block (confidence_calibrated fails).")
    champion_inconclusive: Literal["warn", "block"] = Field(
        default="warn", description="A candidate whose paired R² loss against the champion straddles champion_tolerance: "
                                    "warn (promoted, gates_conclusive warns) or block (not promoted).")

