"""Settings of the predict_age job (resource key `predict_age`). Every field can be set as PREDICT_AGE_<FIELD> in the
environment; the defaults run a 1M-row quarter on a 2-core laptop."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from resources.settings import JobSettings


class PredictAgeConfig(JobSettings):
    env_prefix: ClassVar[str] = "PREDICT_AGE_"

    min_age: int = Field(default=18, description="Lowest valid age; existing values below are unusable.")
    max_age: int = Field(default=100, description="Highest valid age.")
    training_max_rows: int = Field(
        default=200_000,
        description="Rows sampled (stratified by age band) for training; the reference used 14,000,000.",
    )
    seed: int = Field(default=7, description="Seed for sampling, splits and models.")
    sensitive_as_features: bool = Field(
        default=False,
        description="Use gender and region as model features. Off: they are only used to measure fairness.",
    )
    interval_coverage: float = Field(default=0.8, description="Nominal coverage of the calibrated interval.")
    interval_tolerance: float = Field(
        default=0.02, description="Allowed held-out coverage deviation, judged by the coverage's Wilson interval: a test split "
                                  "too small to tell is inconclusive (calibration_inconclusive), not a pass.")
    min_features: int = Field(default=3, description="Fewer usable inputs than this: DEFAULT_RULE, not a model guess.")
    max_holdout_mae: float = Field(default=6.0, description="Quality floor: held-out MAE in years.")
    min_holdout_within_5: float = Field(default=0.6, description="Quality floor: held-out share within 5 years.")
    min_usable_age_rate: float = Field(
        default=0.05, description="Below this share of usable values in either existing-age column the snapshot is refused."
    )
    max_usable_rate_drop: float = Field(
        default=0.5, description="A column's usable share may fall by at most this share of the previous quarter's.")
    max_duplicate_pid_rate: float = Field(default=0.01, description="Above this share of duplicate pids the snapshot is refused.")
    max_unknown_value_rate: float = Field(
        default=0.05, description="Above this share of unknown codes or non-numbers in any optional column the snapshot is refused."
    )
    existing_confidence: float = Field(default=1.0, description="confidence_score of existing values.")
    batch_retention: Literal["keep", "delete"] = Field(
        default="keep", description="What clean-up does with batch files once final_results passed its checks."
    )
    xgb_nthread: int = Field(default=2, description="XGBoost threads for training and prediction.")
    xgb_max_depth: int = Field(default=10, description="Depth of the point model's trees (chosen by measurement).")
    xgb_rounds: int = Field(default=400, description="Most boosting rounds; early stopping on validation usually ends sooner.")
    champion_tolerance: float = Field(
        default=0.05, description="A candidate whose held-out MAE exceeds the champion's by more than this share is not promoted."
    )
    fairness_max_mae_ratio: float = Field(default=1.25, description="Gender and region: max/min group MAE.")
    fairness_max_abs_bias: float = Field(default=1.0, description="Gender and region: largest |mean signed error| in years.")
    fairness_age_band_max_mae_ratio: float = Field(default=4.0, description="Age bands: max/min band MAE.")
    fairness_age_band_max_abs_bias: float = Field(default=3.0, description="Age bands: largest |bias| in years.")
    evaluation_sample_rows: int = Field(
        default=200_000, description="Synthetic world: previously-missing rows scored against ground truth per model."
    )
    drift_psi_threshold: float = Field(default=0.2, description="Daily monitoring warns above this PSI.")
    fairness_min_group_rows: int = Field(
        default=30, description="Smaller groups cannot be judged: the fairness verdict is inconclusive at best, naming them.")
    fairness_confidence_level: float = Field(
        default=0.95, description="Fairness intervals hold jointly at this level over every comparison the gate makes.")
    fairness_inconclusive: Literal["warn", "block"] = Field(
        default="warn", description="A fairness verdict the held-out rows cannot settle: warn (fairness_conclusive fails as a "
                                    "warning naming the groups and rows needed; promotion goes on) or block (fairness fails).")

    quality_inconclusive: Literal["warn", "block"] = Field(
        default="warn", description="A held-out MAE or share within 5 years whose interval straddles its floor: warn "
                                    "(gates_conclusive fails as a warning naming the rows needed) or block (holdout_quality "
                                    "fails).")
    calibration_inconclusive: Literal["warn", "block"] = Field(
        default="warn", description="A coverage deviation whose interval straddles interval_tolerance: warn (gates_conclusive) "
                                    "or block (interval_calibration fails).")
    champion_inconclusive: Literal["warn", "block"] = Field(
        default="warn", description="A candidate whose paired MAE difference against the champion straddles the tolerance: "
                                    "warn (promoted, gates_conclusive warns) or block (not promoted).")
