"""The execution summary `make run` prints, modelled on the reference run's report."""

from __future__ import annotations

from pathlib import Path

from platform_assets.predict_age.logic.gates import with_interval
from platform_core.periods import Quarter
from platform_core.summary import check_line, stage_table
from platform_core.verdicts import SHOWN, judged_lines

SOURCES = ["EXISTING_APPROX_AGE", "EXISTING_BIRTH_YEAR", "ML_PREDICTION", "DEFAULT_RULE"]


def _metrics_row(name: str, m: dict) -> str:
    return (f"  {name:<10} MAE {m['mae']:>6.3f}  RMSE {m['rmse']:>6.3f}  R² {m['r2']:>6.3f}  "
            f"within 5 y {100 * m['within_5']:>5.1f}%  bias {m['bias']:>+6.3f}  (n={m['rows']:,})")


def _fairness_lines(gates: list[dict]) -> list[str]:
    """Each attribute's figures beside their intervals and limits, its verdict and the groups left open."""
    if not gates:
        return []
    first = gates[0]
    blocks = "blocks" if first["inconclusive"] == "block" else "warns"
    lines = [f"  fairness   ({first['confidence_level']:.0%} intervals held jointly over {first['comparisons']} comparisons; "
             f"pass: within the limit, FAIL: beyond it, inconclusive: straddles it, {blocks})"]
    for g in gates:
        lines.append(f"  fairness   {g['attribute']:<9} max/min group MAE {with_interval(g, 'mae_ratio')}, worst |bias| (y) "
                     f"{with_interval(g, 'abs_bias')} over {g['groups_gated']} of {g['groups']} groups: {SHOWN[g['verdict']]}")
        if g["open_groups"]:
            lines.append("             open (rows -> about how many would settle it): "
                         + ", ".join(_open_group(o) for o in g["open_groups"]))
    return lines


def _judged_lines(figures: dict[str, dict]) -> list[str]:
    """Each judged model-gate figure beside its interval and limit, and what an open one is missing."""
    head = "  gates      (95% intervals; pass: within the limit, FAIL: beyond it, inconclusive: straddles it)"
    return [head, *judged_lines(figures, "  gates      ")] if figures else []


def _open_group(o: dict) -> str:
    """`midwest 123 -> ~288 (a MAE ratio of 1.25, west too)` or `M 348 -> ~825 (its |bias| 0.3705)`."""
    if o["rows_to_settle"] is not None:
        return f"{o['group']} {o['rows']:,} -> ~{o['rows_to_settle']:,} (its {o['open_on']})"
    also = f", {o['also_in']} too" if o["also_in"] else ""
    return f"{o['group']} {o['rows']:,} -> ~{o['rows_needed']:,} (a {o['to_resolve']}{also})"


def format_summary(recorded: dict, catalog: Path) -> str:
    stages, label = recorded["stages"], Quarter.parse(recorded["partition"]).label
    lines = [f"predict_age {label}: execution summary", "", *stage_table(stages, recorded["wall_s"], len(recorded["runs"]))]

    qa = stages["human_qa"][0]
    by_source = {r["prediction_source"]: r for r in qa["by_source"]}
    total = sum(r["rows"] for r in by_source.values())
    lines += ["", f"Final table: {total:,} rows, view predict_age_final_results_{label} in {catalog}"]
    for source in SOURCES:
        r = by_source.get(source, {"rows": 0, "pct": 0.0, "mean_confidence": None})
        conf = "-" if r["mean_confidence"] is None else f"{r['mean_confidence']:.3f}"
        lines.append(f"  {source:<22} {r['rows']:>13,}  {r['pct']:>6.2f}%  mean confidence {conf}")

    models = stages["age_models"][0]
    interval = models["interval"]
    lines += ["", f"Models (held-out test split of rows with an existing age; trained in {models['duration_s']:.1f}s)",
              _metrics_row("ridge", models["ridge"]), _metrics_row("xgboost", models["xgboost"]),
              f"  interval   nominal {100 * interval['nominal']:.0f}%: held-out coverage {100 * interval['coverage']:.1f}%, "
              f"mean width {interval['mean_width']:.2f} y",
              f"  {'champion' if models['promoted'] else 'candidate':<10} {', '.join(models['versions'].values())} "
              + ("(promoted: True)" if models["promoted"] else "(not promoted: the batches use the current champion)")]
    lines += _judged_lines(models.get("judged", {}))
    lines += _fairness_lines(models.get("fairness_gates", []))
    missing = stages.get("missing_rows_evaluation") or [{}]
    if "xgboost" in missing[0]:
        lines += [f"Same models on previously-missing rows against ground truth (synthetic world, sample n={missing[0]['rows_in']:,})",
                  _metrics_row("ridge", missing[0]["ridge"]), _metrics_row("xgboost", missing[0]["xgboost"])]

    source = stages["source_snapshot"][0]
    quarantine = source.get("quarantine") or []
    lines += ["", f"Quarantine (source_snapshot: values cast to NULL, duplicates set aside; {source['rows_in']:,} rows in)"]
    lines += [f"  {q['column_name']:<22} {q['reason']:<18} {q['rows']:>13,}  {100 * q['rows'] / source['rows_in']:>6.2f}%"
              for q in quarantine] or ["  nothing quarantined"]

    truth = qa.get("truth_accuracy") or []
    if truth:
        lines += ["", "Accuracy against ground truth (synthetic world; previously-missing rows are ML_PREDICTION/DEFAULT_RULE)"]
        for r in truth:
            lines.append(f"  {r['prediction_source']:<22} MAE {r['mae']:>6.3f}  RMSE {r['rmse']:>6.3f}  "
                         f"within 5 y {r['within_5_pct']:>5.1f}%  bias {r['bias']:>+6.3f}  (n={r['rows']:,})")

    batches = stages["prediction_batches"]
    predicted = sum(b["rows_out"] for b in batches)
    seconds = sum(b["duration_s"] for b in batches)
    lines += ["", f"Throughput: prediction {predicted:,} rows in {seconds:.2f}s = {predicted / max(seconds, 1e-9):,.0f} rows/s "
                  f"(reference: ~1,445 rows/s per container)",
              check_line(recorded["checks"])]
    return "\n".join(lines)
