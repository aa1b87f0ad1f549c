"""The seed's three ShortCircuitOperators as gates checked before training.

Each gate is a GateResult whose metadata carries a `reason` a person can act on; when one
fails, training does not run and the wiring shows which precondition failed and why. The gates
are pure functions over the config (path or text) and the lists of months available, so the
wiring only has to list what is on disk (`available_months`, `set_aside_months`).

A month set aside (its delivery refused: silver.build_or_set_aside) is a gap with a reason: the
gold gate excuses it as long as every window keeps some months, `enough_partitions` counts only
months with data, and a failure names the months set aside and why. `no_month_set_aside` is a
warning that lists them whenever there are any, even when training goes ahead.
"""

from __future__ import annotations

from pathlib import Path

from platform_assets.readmission.logic.model_config import ModelConfig, ModelConfigError, load_model_config
from platform_assets.readmission.logic.schema import JOB
from platform_assets.readmission.logic.silver import set_aside_reason
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


def set_aside_months(layout: DataLayout, table: str) -> dict[str, str]:
    """{month: reason} for the months of a gold table whose current version was set aside."""
    area = layout.table_area(JOB, table)
    if not area.exists():
        return {}
    found = {child.name: set_aside_reason(layout, table, child.name) for child in area.iterdir()
             if not child.name.startswith((".", "_"))}
    return {month: reason for month, reason in sorted(found.items()) if reason}


def _named(set_aside: dict[str, str]) -> str:
    """`2 month(s) set aside: 2003-05 (why), 2004-01 (why)`."""
    return f"{len(set_aside)} month(s) set aside: " + ", ".join(f"{m} ({why})" for m, why in sorted(set_aside.items()))


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


def gold_data_gate(config: ModelConfig, feature_months: list[str], label_months: list[str],
                   set_aside: dict[str, str] | None = None) -> GateResult:
    """`gold_data_present`: the feature store AND the label store cover every month of the three
    windows, but for months set aside, and every window keeps at least one month."""
    set_aside = set_aside or {}
    missing, emptied = {}, []
    for table, present in ((FEATURE_STORE, set(feature_months)), (LABEL_STORE, set(label_months))):
        for name, window in config.windows.items():
            gap = [m for m in window.months() if m not in present and m not in set_aside]
            if gap:
                missing[f"{table}.{name}"] = gap
            if not present & set(window.months()):
                emptied.append(f"{table}.{name}")
    excused = {m: why for m, why in set_aside.items() if m in config.all_months()}
    required = len(config.all_months())
    if not missing and not emptied:
        reason = f"feature and label stores cover all {required} months" + (f" but {_named(excused)}" if excused else "")
        return GateResult("gold_data_present", True, {"reason": reason, "months_required": required,
                                                      "months_set_aside": len(excused)})
    problems = [f"{key} lacks {len(gap)} month(s): {_ranges(gap)}" for key, gap in missing.items()]
    problems += [f"{key} has no month with data left" for key in dict.fromkeys(emptied) if key not in missing]
    reason = "gold data missing: " + "; ".join(problems) + (f" ({_named(excused)})" if excused else "")
    return GateResult("gold_data_present", False, {
        "reason": reason, "months_required": required, "months_set_aside": len(excused),
        "missing": {key: _ranges(gap) for key, gap in missing.items()},
    })


def partitions_gate(config: ModelConfig, feature_months: list[str], label_months: list[str],
                    set_aside: dict[str, str] | None = None) -> GateResult:
    """`enough_partitions`: at least `min_partitions` months hold both features and labels."""
    both = sorted(set(feature_months) & set(label_months))
    passed = len(both) >= config.min_partitions
    reason = (f"{len(both)} monthly partitions with features and labels (at least {config.min_partitions} needed)"
              if passed else f"only {len(both)} monthly partition(s) with features and labels; at least {config.min_partitions} needed"
              + (f" ({_named(set_aside)})" if set_aside else ""))
    return GateResult("enough_partitions", passed, {"reason": reason, "partitions": len(both), "min_partitions": config.min_partitions})


def set_aside_gate(set_aside: dict[str, str]) -> GateResult:
    """`no_month_set_aside` (a warning): names every month set aside and why."""
    return GateResult("no_month_set_aside", not set_aside, {
        "reason": _named(set_aside) if set_aside else "no month set aside",
        "set_aside": [{"month": m, "reason": why} for m, why in sorted(set_aside.items())]}, blocking=False)


def check_prerequisites(source: Path | str, feature_months: list[str], label_months: list[str],
                        set_aside: dict[str, str] | None = None) -> tuple[list[GateResult], ModelConfig | None]:
    """The seed's three gates, in its order, then the set-aside warning; with an invalid config the
    gold and partition gates fail as not checked."""
    config_result, config = config_gate(source)
    warning = set_aside_gate(set_aside or {})
    if config is None:
        return [config_result, GateResult("gold_data_present", False, {"reason": NOT_CHECKED}),
                GateResult("enough_partitions", False, {"reason": NOT_CHECKED}), warning], None
    return [config_result, gold_data_gate(config, feature_months, label_months, set_aside),
            partitions_gate(config, feature_months, label_months, set_aside), warning], config


def failure_summary(gates: list[GateResult]) -> str | None:
    """One line naming each failed blocking precondition and its reason (None when all passed)."""
    failed = [f"{g.name}: {g.metadata['reason']}" for g in gates
              if g.blocking and not g.passed and g.metadata.get("reason") != NOT_CHECKED]
    return "training skipped; " + " | ".join(failed) if failed else None
