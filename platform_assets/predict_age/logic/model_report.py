"""What a person reads about a quarter's models: the gates' figures and the model card."""

from __future__ import annotations

from platform_assets.predict_age.logic.gates import fairness_table
from platform_core.reports import markdown_table


def model_card(label: str, evaluation: dict, versions: dict[str, str], promoted: bool, gates: list[dict],
               not_promoted_because: str = "a gate failed") -> str:
    models = [{"model": m, **evaluation[m]} for m in ("ridge", "xgboost")]
    if "champion" in evaluation:
        models.append({"model": f"champion {evaluation['champion']['version']}",
                       **{k: v for k, v in evaluation["champion"].items() if k != "version"}})
    return "\n\n".join([
        f"# predict_age models, {label}",
        "Champion: " + (", ".join(f"`{m}/{v}`" for m, v in versions.items()) if promoted else f"not promoted ({not_promoted_because})"),
        "## Held-out metrics", markdown_table(models),
        "## XGBoost by age band", markdown_table(evaluation["xgboost_by_age_band"]),
        "## Interval", markdown_table([evaluation["interval"]]),
        "## Confidence by decile", markdown_table(evaluation["confidence_deciles"]),
        "## Fairness gates (intervals held jointly over every comparison)", markdown_table(fairness_table(gates)),
        "## Error by group", markdown_table(evaluation["fairness"]),
        "## Top feature importances (share of total gain)", markdown_table(evaluation["feature_importance"]),
        "## Training data", markdown_table([{"rows": evaluation["training_data"]["rows"],
                                              **evaluation["training_data"]["splits"],
                                              "mean_age": evaluation["training_data"]["mean_age"]}]),
    ])
