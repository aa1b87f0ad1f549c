"""What a person reads about a quarter's models: the gates' figures and the model card."""

from __future__ import annotations

import numpy as np

from platform_core.fairness import FairnessThresholds, evaluate_gate
from platform_core.publish import markdown_table


def fairness_gates(fairness: list[dict], general: FairnessThresholds, age_bands: FairnessThresholds) -> list[dict]:
    """One gate per attribute; age bands have their own thresholds (see fairness.py)."""
    return [{"attribute": attribute, **evaluate_gate([r for r in fairness if r["attribute"] == attribute],
                                                     age_bands if attribute == "age_band" else general)}
            for attribute in ("gender", "region", "age_band")]


def decile_correlation(deciles: list[dict]) -> float:
    """Spearman correlation between confidence decile and MAE (-1: MAE falls as confidence rises)."""
    mae = np.array([d["mae"] for d in deciles])
    ranks = mae.argsort().argsort()
    return float(np.corrcoef(np.arange(len(mae)), ranks)[0, 1]) if len(mae) > 2 else -1.0


def model_card(label: str, evaluation: dict, versions: dict[str, str], promoted: bool, gates: list[dict]) -> str:
    models = [{"model": m, **evaluation[m]} for m in ("ridge", "xgboost")]
    if "champion" in evaluation:
        models.append({"model": f"champion {evaluation['champion']['version']}",
                       **{k: v for k, v in evaluation["champion"].items() if k != "version"}})
    return "\n\n".join([
        f"# predict_age models, {label}",
        "Champion: " + (", ".join(f"`{m}/{v}`" for m, v in versions.items()) if promoted else "not promoted (a gate failed)"),
        "## Held-out metrics", markdown_table(models),
        "## XGBoost by age band", markdown_table(evaluation["xgboost_by_age_band"]),
        "## Interval", markdown_table([evaluation["interval"]]),
        "## Confidence by decile", markdown_table(evaluation["confidence_deciles"]),
        "## Fairness gates", markdown_table(gates),
        "## Error by group", markdown_table(evaluation["fairness"]),
        "## Top feature importances (share of total gain)", markdown_table(evaluation["feature_importance"]),
        "## Training data", markdown_table([{"rows": evaluation["training_data"]["rows"],
                                              **evaluation["training_data"]["splits"],
                                              "mean_age": evaluation["training_data"]["mean_age"]}]),
    ])
