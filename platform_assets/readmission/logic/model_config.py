"""The readmission model config (`platform_assets/readmission/model_config.yaml`), validated.

Windows, algorithms, search budget, gates and risk bands are configuration, never code. A bad
file fails with ONE `ModelConfigError` that names every offending field and its value, so the
prerequisite gate can show why training did not run instead of a stack trace.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "model_config.yaml"
ALGORITHMS = ("logistic_regression", "random_forest", "xgboost")
WINDOW_NAMES = ("train", "test", "oot")
STRATEGIES = ("halving", "random")


class ModelConfigError(ValueError):
    """The model config is not usable; the message names each field and value at fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def months(self) -> list[str]:
        """Every month the window touches, as `YYYY-MM` partition labels."""
        out, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


class Windows(_Strict):
    train: Window
    test: Window
    oot: Window

    @model_validator(mode="after")
    def _ordered_and_disjoint(self) -> Windows:
        for earlier, later in pairwise(WINDOW_NAMES):
            a, b = getattr(self, earlier), getattr(self, later)
            if b.start <= a.end:
                raise ValueError(f"{later} starts {b.start}, not after {earlier} ends {a.end}: windows must be ordered and not overlap")
        return self

    def items(self) -> list[tuple[str, Window]]:
        return [(name, getattr(self, name)) for name in WINDOW_NAMES]


class Search(_Strict):
    candidates: int = Field(gt=0, le=1000)
    folds: int = Field(ge=2, le=20)
    scoring: Literal["roc_auc"] = "roc_auc"
    strategy: Literal["halving", "random"] = "halving"
    seed: int = 7
    max_rows: int | None = Field(default=None, gt=1_000)  # tune on whole patients' encounters up to this many rows


class Threshold(_Strict):
    policy: Literal["max_f1", "youden", "fixed"] = "max_f1"
    value: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _value_when_fixed(self) -> Threshold:
        if self.policy == "fixed" and self.value is None:
            raise ValueError("policy 'fixed' needs a value in (0, 1)")
        return self


class Fairness(_Strict):
    max_equal_opportunity_difference: float = Field(gt=0, lt=1)
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1)
    min_group_positives: int = Field(default=30, ge=1)
    inconclusive: Literal["warn", "block"] = "warn"  # an interval that straddles the limit: a warning, or a failure


class Champion(_Strict):
    """How the overall champion is chosen among the per-algorithm champions, on the TEST window only."""
    rule: Literal["simplest_not_worse", "highest"] = "simplest_not_worse"
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1)
    margin: float = Field(default=0.0, ge=0, lt=1)  # test AUC below the best that still counts as not worse
    inconclusive: Literal["warn", "block"] = "warn"  # warn: a contender that cannot be told apart qualifies, flagged


class Quality(_Strict):
    """The overall champion judged on the OOT window (logic/quality.py)."""
    calibration_tolerance: float = Field(default=0.05, gt=0, lt=1)  # |observed - mean predicted| per decile
    max_auc_gap: float = Field(default=0.03, gt=0, lt=1)  # best achievable AUC (true probabilities) minus the champion's
    champion_tolerance: float = Field(default=0.01, ge=0, lt=1)  # OOT AUC the new champion may lose against the one it replaces
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1)
    inconclusive: Literal["warn", "block"] = "warn"  # an open figure: a warning, or a failure


class RiskBand(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    upper: float = Field(gt=0, le=1)


class ModelConfig(_Strict):
    windows: Windows
    algorithms: list[str] = Field(min_length=1)
    search: Search
    min_partitions: int = Field(ge=1)
    threshold: Threshold = Threshold()
    fairness: Fairness
    champion: Champion = Champion()
    quality: Quality = Quality()
    risk_bands: list[RiskBand] = Field(min_length=1)

    @field_validator("algorithms")
    @classmethod
    def _known_algorithms(cls, value: list[str]) -> list[str]:
        unknown = [a for a in value if a not in ALGORITHMS]
        if unknown:
            raise ValueError(f"unknown algorithm(s) {unknown}; known: {list(ALGORITHMS)}")
        if len(set(value)) != len(value):
            raise ValueError("an algorithm is listed twice")
        return value

    @field_validator("risk_bands")
    @classmethod
    def _bands_cover_unit_interval(cls, value: list[RiskBand]) -> list[RiskBand]:
        uppers = [band.upper for band in value]
        if any(b <= a for a, b in pairwise(uppers)) or uppers[-1] != 1.0:
            raise ValueError(f"upper bounds {uppers} must be strictly ascending and end at 1.0")
        if len({band.name for band in value}) != len(value):
            raise ValueError("band names must be unique")
        return value

    def all_months(self) -> list[str]:
        """The months of the three windows, in order."""
        return [month for _, window in self.windows.items() for month in window.months()]


def _value_at(document: object, loc: tuple) -> object:
    for part in loc:
        in_dict = isinstance(document, dict) and part in document
        in_list = isinstance(document, list) and isinstance(part, int) and part < len(document)
        if in_dict or in_list:
            document = document[part]
        else:
            return None
    return document


def _describe(error: dict, document: object) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    value = _value_at(document, error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    scalar = value is not None and not isinstance(value, (dict, list))
    return f"{field} = {value!r}: {message}" if scalar else f"{field}: {message}"


def parse_model_config(document: dict, source: str = "model config") -> ModelConfig:
    """A validated ModelConfig from a parsed document; one ModelConfigError naming every bad field."""
    if not isinstance(document, dict):
        raise ModelConfigError(f"{source}: expected a mapping of settings, got {type(document).__name__}")
    try:
        return ModelConfig.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(_describe(e, document) for e in exc.errors())
        raise ModelConfigError(f"{source}: {problems}") from None


def load_model_config(source: Path | str = DEFAULT_CONFIG_PATH) -> ModelConfig:
    """Read and validate the config from a path, or from YAML text (anything with a newline)."""
    import yaml

    is_text = isinstance(source, str) and "\n" in source
    name = "model config text" if is_text else str(source)
    try:
        document = yaml.safe_load(source if is_text else Path(source).read_text())
    except OSError as exc:
        raise ModelConfigError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ModelConfigError(f"{name}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_model_config(document, name)
