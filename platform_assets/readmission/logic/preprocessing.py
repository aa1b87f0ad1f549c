"""From gold `feature_store` + `label_store` to model matrices, with encoders fitted on the train window only.

One `Preprocessor` serves every algorithm and is stored as JSON (data, not code):
- `ordinal` (trees): numeric columns with NULL as the train median, each categorical as its index
  among the train window's categories; NULL and categories never seen in training are -1;
- `onehot` (logistic regression): numeric columns standardized with the train mean and scale,
  one 0/1 column per train category; NULL and unseen categories are all zeros.
Transforms are vectorized (one polars select straight to a float32 matrix; one numpy scatter for
the one-hot columns), so scoring keeps up with the booster. `check_no_leakage` proves that no test or OOT encounter reached the training rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import polars as pl

from platform_assets.readmission.logic.model_config import ModelConfig, Window
from platform_assets.readmission.logic.schema import CATEGORICAL_FEATURES, JOB, LABEL, NUMERIC_FEATURES
from platform_core.storage import DataLayout, current

Encoding = Literal["ordinal", "onehot"]
UNKNOWN_CODE = -1


class LeakageError(AssertionError):
    """A row of the test or OOT window (or outside the train window) reached training."""


@dataclass
class Preprocessor:
    numeric: list[str]
    categorical: list[str]
    categories: dict[str, list[str]]
    medians: list[float]
    means: list[float]
    scales: list[float]
    fitted_on: dict = field(default_factory=dict)  # train window and rows: where the fitted numbers came from

    def feature_names(self, encoding: Encoding) -> list[str]:
        if encoding == "ordinal":
            return [*self.numeric, *self.categorical]
        return [*self.numeric, *(f"{c}={v}" for c in self.categorical for v in self.categories[c])]

    def _numeric(self) -> list[pl.Expr]:
        return [pl.col(c).cast(pl.Float32).fill_null(m).fill_nan(m) for c, m in zip(self.numeric, self.medians)]

    def _codes(self, dtype: pl.DataType) -> list[pl.Expr]:
        """Each categorical as its index among the train categories (an Enum's physical code: one
        hash lookup per value), -1 for NULL and unseen values."""
        return [pl.col(c).cast(pl.String).cast(pl.Enum(self.categories[c]), strict=False).to_physical().cast(dtype)
                .fill_null(UNKNOWN_CODE) for c in self.categorical]

    def codes(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(numeric float32 with NULL as the train median, categorical int32 codes with -1 for NULL/unseen)."""
        numeric = frame.select(self._numeric()).to_numpy(order="c")
        codes = frame.select(self._codes(pl.Int32)).to_numpy(order="c")
        return numeric.astype(np.float32, copy=False), codes.astype(np.int32, copy=False)

    def transform(self, frame: pl.DataFrame, encoding: Encoding) -> np.ndarray:
        """The model matrix: float32, C-contiguous, columns in `feature_names(encoding)` order. The
        ordinal matrix comes out of one polars select, ready for XGBoost's inplace_predict."""
        if encoding == "ordinal":
            return frame.select(*self._numeric(), *self._codes(pl.Float32)).to_numpy(order="c").astype(np.float32, copy=False)
        numeric, codes = self.codes(frame)
        widths = np.array([len(self.categories[c]) for c in self.categorical], dtype=np.int64)
        starts = len(self.numeric) + np.concatenate([[0], np.cumsum(widths)[:-1]])
        out = np.zeros((len(frame), len(self.numeric) + int(widths.sum())), dtype=np.float32)
        out[:, :len(self.numeric)] = (numeric - np.asarray(self.means, dtype=np.float32)) / np.asarray(self.scales, dtype=np.float32)
        flat = (np.arange(len(frame), dtype=np.int64)[:, None] * out.shape[1] + starts + codes)[codes >= 0]
        out.reshape(-1)[flat] = 1.0
        return out

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Preprocessor:
        return cls(**json.loads(data))


def _in_window(frame: pl.DataFrame, window: Window) -> pl.Series:
    return frame["encounter_date"].cast(pl.Date).is_between(window.start, window.end)


def fit_preprocessor(train: pl.DataFrame, window: Window, numeric: list[str] = NUMERIC_FEATURES,
                     categorical: list[str] = CATEGORICAL_FEATURES) -> Preprocessor:
    """Encoders and scaler fitted on `train`, which must lie wholly inside the train `window`."""
    outside = int((~_in_window(train, window)).sum())
    if outside:
        raise LeakageError(f"{outside} of {len(train)} rows given to fit the encoders are outside the train window {window.start}..{window.end}")
    values = train.select(pl.col(numeric).cast(pl.Float64))
    medians = [float(v) if v is not None else 0.0 for v in values.median().row(0)]
    filled = values.with_columns(pl.col(c).fill_null(m).fill_nan(m) for c, m in zip(numeric, medians))
    means = [float(v) for v in filled.mean().row(0)]
    scales = [float(v) if v and v > 0 else 1.0 for v in filled.std(ddof=0).row(0)]
    categories = {c: sorted(train[c].cast(pl.String).drop_nulls().unique().to_list()) for c in categorical}
    return Preprocessor(list(numeric), list(categorical), categories, medians, means, scales,
                        {"window": [str(window.start), str(window.end)], "rows": len(train)})


def _read_months(layout: DataLayout, table: str, months: list[str]) -> pl.DataFrame:
    files = [str(f) for m in months for f in sorted(current(layout.table(JOB, table, m)).rglob("*.parquet"))]
    if not files:
        raise FileNotFoundError(f"no {table} Parquet files for months {months[0]}..{months[-1]} under {layout.table_area(JOB, table)}")
    return pl.read_parquet(files)


def join_labels(features: pl.DataFrame, labels: pl.DataFrame, window: Window) -> tuple[pl.DataFrame, dict]:
    """Feature rows with their label, restricted to `window`; every row left out is counted."""
    labels = labels.select("encounter_id", LABEL)
    joined = features.join(labels, on="encounter_id", how="inner")
    inside = joined.filter(_in_window(joined, window))
    counts = {
        "feature_rows": len(features), "label_rows": len(labels), "rows": len(inside),
        "features_without_label": len(features) - int(features["encounter_id"].is_in(labels["encounter_id"].implode()).sum()),
        "labels_without_features": len(labels) - int(labels["encounter_id"].is_in(features["encounter_id"].implode()).sum()),
        "outside_window": len(joined) - len(inside),
        "positives": int(inside[LABEL].sum()),
    }
    return inside.sort("encounter_date", "encounter_id"), counts


def load_window(layout: DataLayout, window: Window) -> tuple[pl.DataFrame, dict]:
    """A window's labelled encounters from the gold monthly Parquet tables, with counts."""
    months = window.months()
    return join_labels(_read_months(layout, "feature_store", months), _read_months(layout, "label_store", months), window)


def load_windows(layout: DataLayout, config: ModelConfig) -> tuple[dict[str, pl.DataFrame], dict[str, dict]]:
    """{train, test, oot} frames and their counts."""
    loaded = {name: load_window(layout, window) for name, window in config.windows.items()}
    return {name: frame for name, (frame, _) in loaded.items()}, {name: counts for name, (_, counts) in loaded.items()}


def check_no_leakage(config: ModelConfig, train: pl.DataFrame, others: dict[str, pl.DataFrame],
                     preprocessor: Preprocessor | None = None) -> dict:
    """Raise LeakageError unless every training row is inside the train window, no test/OOT
    encounter id is among them, and the encoders were fitted on exactly these rows' window.
    Returns the figures it checked (patients seen in both windows are expected: it is the same
    person in a later year, and are reported, not refused)."""
    window = config.windows.train
    outside = int((~_in_window(train, window)).sum())
    if outside:
        raise LeakageError(f"{outside} training rows fall outside the train window {window.start}..{window.end}")
    train_ids = train["encounter_id"].implode()
    figures = {"train_rows": len(train), "train_first_date": str(train["encounter_date"].min()),
               "train_last_date": str(train["encounter_date"].max())}
    for name, frame in others.items():
        shared = int(frame["encounter_id"].is_in(train_ids).sum())
        if shared:
            raise LeakageError(f"{shared} encounters of the {name} window are in the training rows")
        later = int((frame["encounter_date"].cast(pl.Date) <= window.end).sum())
        if later:
            raise LeakageError(f"{later} rows of the {name} window are dated on or before the train window's end {window.end}")
        figures[f"{name}_encounters_in_train"] = 0
        figures[f"{name}_patients_also_in_train"] = int(frame["patient_nbr"].is_in(train["patient_nbr"].implode()).sum())
    if preprocessor is not None:
        fitted = preprocessor.fitted_on
        if fitted.get("window") != [str(window.start), str(window.end)] or fitted.get("rows") != len(train):
            raise LeakageError(f"the encoders were fitted on {fitted}, not on the {len(train)} rows of the train window")
        figures["encoders_fitted_on_rows"] = fitted["rows"]
    return figures

