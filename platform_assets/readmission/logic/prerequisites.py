"""The seed's three ShortCircuitOperators as gates checked before training.

Each gate is a GateResult whose metadata carries a `reason` a person can act on; when one
fails, training does not run and the wiring shows which precondition failed and why. The gates
are pure functions over the config (path or text) and the lists of months available, so the
wiring only has to list what is on disk (`available_months`).
"""

from __future__ import annotations

from pathlib import Path

from platform_assets.readmission.logic.model_config import ModelConfig, ModelConfigError, load_model_config
from platform_assets.readmission.logic.schema import JOB
from platform_core.gates import GateResult
from platform_core.periods import month_label, parse_month
from platform_core.storage import DataLayout, current

FEATURE_STORE = "feature_store"
LABEL_STORE = "label_store"
NOT_CHECKED = "not checked: the model config is invalid"


def available_months(layout: DataLayout, table: str, job: str = JOB) -> list[str]:
    """Monthly partitions of a gold table whose current version holds at least one Parquet file."""
    area = layout.table_area(job, table)
    if not area.exists():
        return []
    months = []
    for child in area.iterdir():
        try:
            label = month_label(parse_month(child.name))
        except ValueError:
            continue
        if label == child.name and any(current(child).glob("*.parquet")):
            months.append(label)
    return sorted(months)


def config_gate(source: Path | str) -> tuple[GateResult, ModelConfig | None]:
    """`model_config_valid`: the config parses and passes its schema."""
    try:
        config = load_model_config(source)
    except ModelConfigError as exc:
        return GateResult("model_config_valid", False, {"reason": str(exc)}), None
    return GateResult("model_config_valid", True, {
        "reason": "the model config is valid", "algorithms": list(config.algorithms),
        "windows": {name: f"{w.start}..{w.end}" for name, w in config.windows.items()},
    }), config


def _ranges(months: list[str]) -> str:
    """`1999-01..1999-03, 2004-07` from sorted month labels."""
    if not months:
        return ""
    dates = [parse_month(m) for m in months]
    runs, start = [], dates[0]
    for prev, nxt in zip(dates, dates[1:] + [None]):
        following = (prev.year + (prev.month == 12), prev.month % 12 + 1)
        if nxt is None or (nxt.year, nxt.month) != following:
            runs.append(month_label(start) if start == prev else f"{month_label(start)}..{month_label(prev)}")
            start = nxt
    return ", ".join(runs)


def gold_data_gate(config: ModelConfig, feature_months: list[str], label_months: list[str]) -> GateResult:
    """`gold_data_present`: the feature store AND the label store cover every month of the three windows."""
    missing = {}
    for table, present in ((FEATURE_STORE, set(feature_months)), (LABEL_STORE, set(label_months))):
        for name, window in config.windows.items():
            gap = [m for m in window.months() if m not in present]
            if gap:
                missing[f"{table}.{name}"] = gap
    if not missing:
        return GateResult("gold_data_present", True, {"reason": f"feature and label stores cover all {len(config.all_months())} months",
                                                      "months_required": len(config.all_months())})
    reason = "gold data missing: " + "; ".join(f"{key} lacks {len(gap)} month(s): {_ranges(gap)}" for key, gap in missing.items())
    return GateResult("gold_data_present", False, {
        "reason": reason, "months_required": len(config.all_months()),
        "missing": {key: _ranges(gap) for key, gap in missing.items()},
    })


def partitions_gate(config: ModelConfig, feature_months: list[str], label_months: list[str]) -> GateResult:
    """`enough_partitions`: at least `min_partitions` months hold both features and labels."""
    both = sorted(set(feature_months) & set(label_months))
    passed = len(both) >= config.min_partitions
    reason = (f"{len(both)} monthly partitions with features and labels (at least {config.min_partitions} needed)"
              if passed else f"only {len(both)} monthly partition(s) with features and labels; at least {config.min_partitions} needed")
    return GateResult("enough_partitions", passed, {"reason": reason, "partitions": len(both), "min_partitions": config.min_partitions})


def check_prerequisites(source: Path | str, feature_months: list[str], label_months: list[str]) -> tuple[list[GateResult], ModelConfig | None]:
    """All three gates, in the seed's order; with an invalid config the other two fail as not checked."""
    config_result, config = config_gate(source)
    if config is None:
        return [config_result, GateResult("gold_data_present", False, {"reason": NOT_CHECKED}),
                GateResult("enough_partitions", False, {"reason": NOT_CHECKED})], None
    return [config_result, gold_data_gate(config, feature_months, label_months),
            partitions_gate(config, feature_months, label_months)], config


def failure_summary(gates: list[GateResult]) -> str | None:
    """One line naming each failed precondition and its reason (None when all passed)."""
    failed = [f"{g.name}: {g.metadata['reason']}" for g in gates if not g.passed and g.metadata.get("reason") != NOT_CHECKED]
    return "training skipped; " + " | ".join(failed) if failed else None
