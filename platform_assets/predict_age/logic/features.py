"""Model features: which columns of staging_features feed the models, and the first-name encoder.

The first-name cohort is the strongest single signal of age, so it is target-encoded: the mean
(and spread) of known ages per name, shrunk toward the overall mean for rare names. The encoder
is fitted on the training split only and stored as plain JSON beside the models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

NUMERIC = [
    "household_size", "num_children", "length_of_residence", "income_rank", "net_worth_rank",
    "vehicle_count", "vehicle_age", "social_profiles", "credit_card_count",
    "years_since_first_seen", "days_since_activity",
]
# categorical code -> number of levels (codes 0..levels-1, NULL when unknown)
CATEGORICAL = {
    "marital_code": 4, "homeowner_code": 2, "education_code": 4, "occupation_code": 6,
    "landline_code": 2, "mobile_code": 2, "email_code": 8, "voter_code": 2,
}
SENSITIVE = {"gender_code": 2, "region_code": 4}
NAME_FEATURES = ["first_name_age", "first_name_age_sd", "first_name_log_count"]


def feature_names(sensitive_as_features: bool) -> list[str]:
    categorical = {**CATEGORICAL, **(SENSITIVE if sensitive_as_features else {})}
    return NUMERIC + list(categorical) + NAME_FEATURES


def categorical_levels(features: list[str]) -> dict[str, int]:
    return {f: n for f, n in {**CATEGORICAL, **SENSITIVE}.items() if f in features}


def usable_feature_count(frame: pl.DataFrame, features: list[str]) -> np.ndarray:
    """How many model inputs a row actually has; rows with too few get the default rule."""
    present = [c for c in features if c in frame.columns and c not in NAME_FEATURES] + ["first_name"]
    return frame.select(pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int32) for c in present])).to_series().to_numpy()


@dataclass(frozen=True)
class NameEncoder:
    names: list[str]
    mean_age: list[float]
    sd_age: list[float]
    log_count: list[float]
    smoothing: float

    @classmethod
    def fit(cls, first_name: pl.Series, age: np.ndarray, smoothing: float = 20.0, min_count: int = 5) -> "NameEncoder":
        frame = pl.DataFrame({"first_name": first_name, "age": age.astype(np.float64)})
        global_mean = float(frame["age"].mean())
        global_sd = float(frame["age"].std())
        stats = (
            frame.drop_nulls("first_name")
            .group_by("first_name")
            .agg(pl.len().alias("n"), pl.col("age").mean().alias("mean"), pl.col("age").std().fill_null(0).alias("sd"))
            .filter(pl.col("n") >= min_count)
            .sort("first_name")
        )
        n = stats["n"].to_numpy().astype(np.float64)
        weight = n / (n + smoothing)
        mean = weight * stats["mean"].to_numpy() + (1 - weight) * global_mean
        sd = weight * stats["sd"].to_numpy() + (1 - weight) * global_sd
        return cls(
            names=stats["first_name"].to_list(),
            mean_age=np.round(mean, 6).tolist(),
            sd_age=np.round(sd, 6).tolist(),
            log_count=np.round(np.log1p(n), 6).tolist(),
            smoothing=smoothing,
        )

    def transform(self, first_name: pl.Series) -> pl.DataFrame:
        """The three name features; a name not seen in training gives NULLs, not a guess."""
        frame = pl.DataFrame({"first_name": first_name.cast(pl.String)})
        out = {}
        for col, values in zip(NAME_FEATURES, (self.mean_age, self.sd_age, self.log_count)):
            mapping = dict(zip(self.names, values))
            out[col] = frame["first_name"].replace_strict(mapping, default=None, return_dtype=pl.Float32)
        return pl.DataFrame(out)

    def to_json(self) -> dict:
        return {"names": self.names, "mean_age": self.mean_age, "sd_age": self.sd_age,
                "log_count": self.log_count, "smoothing": self.smoothing}

    @classmethod
    def from_json(cls, payload: dict) -> "NameEncoder":
        return cls(**payload)


def feature_matrix(frame: pl.DataFrame, encoder: NameEncoder, features: list[str]) -> np.ndarray:
    """float32 matrix (rows x features), NULL as NaN, built once per frame."""
    encoded = frame.drop([c for c in NAME_FEATURES if c in frame.columns]).hstack(encoder.transform(frame["first_name"]))
    return encoded.select([pl.col(f).cast(pl.Float32) for f in features]).to_numpy().astype(np.float32, copy=False)
