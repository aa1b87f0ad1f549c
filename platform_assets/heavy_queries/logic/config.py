"""heavy_queries' settings as plain data: heavy thresholds and the model's knobs.

Heavy is a property of a finished query: CPU time at or above `cpu_ms`, peak memory above
`peak_memory_bytes`, or a resource error. The seed's production pair is 300 s / 10 GB (Trino's
DataSize, so 10 * 2^30 bytes). The local corpus runs TPC queries on DuckDB at small scale
factors, so its pair is scaled down; `calibrate_thresholds` picks one from a log so that heavy
queries are the intended minority.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

RESOURCE_ERRORS = ("EXCEEDED_MEMORY_LIMIT", "EXCEEDED_CPU_LIMIT", "EXCEEDED_TIME_LIMIT", "EXCEEDED_SPILL_LIMIT",
                   "EXCEEDED_GLOBAL_MEMORY_LIMIT", "EXCEEDED_LOCAL_MEMORY_LIMIT")


@dataclass(frozen=True)
class HeavyThresholds:
    cpu_ms: int
    peak_memory_bytes: int
    resource_errors: tuple[str, ...] = RESOURCE_ERRORS

    def as_dict(self) -> dict:
        return asdict(self)


PRODUCTION = HeavyThresholds(cpu_ms=300_000, peak_memory_bytes=10 * 2**30)
LOCAL = HeavyThresholds(cpu_ms=1_000, peak_memory_bytes=512 * 2**20)

QUERY_TYPES = ("SELECT", "INSERT", "CREATE_TABLE_AS_SELECT", "EXPLAIN", "SHOW", "DESCRIBE", "SET_SESSION", "USE")
ZERO_COST_CATEGORIES = ("show", "describe", "explain", "set", "use", "constant_select", "metadata_lookup")
READS_NO_TABLE = ("show", "describe", "explain", "set", "use", "constant_select")  # zero-cost by definition


@dataclass(frozen=True)
class ModelConfig:
    """Every knob of labels -> model -> gates, with the seed's values as defaults."""

    thresholds: HeavyThresholds = LOCAL
    query_types: tuple[str, ...] = QUERY_TYPES  # other types (DDL, DROP, GRANT...) are filtered out, counted
    curated_only: bool = True  # the seed trains on queries over curated sources only
    max_defect_share: float = 0.05  # a day losing more of its rows to delivery defects blocks the window
    sample_ratio: float = 5.0  # small : heavy after sampling
    max_sample_rows: int = 50_000  # the training sample's bound: above it every keep probability is scaled down
    max_boost: float = 2.0
    min_multiplier: float = 0.05
    train_days: int = 30
    validation_days: int = 7
    test_days: int = 7
    tfidf_terms: int = 750  # the seed's range is 500-1,000
    tfidf_min_df: int = 2
    folds: int = 5
    early_stopping_rounds: int = 30
    max_rounds: int = 400
    xgb_params: dict = field(default_factory=lambda: {
        "max_depth": 6, "eta": 0.1, "subsample": 0.8, "colsample_bytree": 0.5, "min_child_weight": 1.0,
        "tree_method": "hist", "objective": "binary:logistic", "eval_metric": "aucpr"})
    monotone_increasing: tuple[str, ...] = ("log_total_rows", "log_max_rows", "log_second_rows", "log_top2_rows_product",
                                            "n_large_tables", "scale_factor_hint")  # more rows read is never lighter
    cost_fn: float = 100.0
    cold_start: bool = True  # a fingerprint without history gets its own threshold (training.cold_start_threshold)
    cost_fp: float = 1.0
    min_recall: float = 0.98
    max_fnr: float = 0.02
    zero_cost_categories: tuple[str, ...] = ZERO_COST_CATEGORIES
    zero_cost_by_definition: tuple[str, ...] = READS_NO_TABLE  # routed unless the data show them heavy
    zero_cost_max_rate: float = 0.01
    confidence_level: float = 0.95
    compliance_inconclusive: str = "warn"  # recall above the floor but its interval across it: warn, or block
    onnx_tolerance: float = 1e-5
    replay_days: int = 14
    seed: int = 7
    nthread: int = 1  # one model on a shared 2-core machine: nthread=2 loses to thread contention


def calibrate_thresholds(cpu_ms: np.ndarray, peak_memory_bytes: np.ndarray, heavy_share: float = 0.10,
                         cpu_part: float = 0.7) -> HeavyThresholds:
    """A scaled pair for a local corpus: the CPU quantile that marks `cpu_part` of the wanted heavy
    share, and a memory quantile for the rest (the two overlap, so the result is at most the share)."""
    cpu = np.quantile(np.asarray(cpu_ms, dtype=np.float64), 1 - heavy_share * cpu_part)
    memory = np.quantile(np.asarray(peak_memory_bytes, dtype=np.float64), 1 - heavy_share * (1 - cpu_part))
    return HeavyThresholds(cpu_ms=int(np.ceil(cpu)), peak_memory_bytes=int(memory))
