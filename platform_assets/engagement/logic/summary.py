"""The execution summary `make run JOB=engagement` prints."""

from __future__ import annotations

from platform_core.periods import month_label, parse_month
from platform_core.storage import DataLayout
from platform_core.summary import check_line, stage_table
from platform_core.verdicts import judged_lines


def _tiers(rows: list[dict]) -> str:
    return "  ".join(f"{r['tier']} {r['rows']:,} ({100 * r['share']:.1f}%)" for r in rows)


def quarantine_lines(customers: dict) -> list[str]:
    """The delivery's quarantine: customers set aside (a value outside its range, a duplicate id)
    and values cast to NULL (imputed), per column and reason."""
    quarantine = customers.get("quarantine")
    rows_in = customers["rows_in"]
    lines = [f"Quarantine (customers: {rows_in:,} rows in; {customers['set_aside']:,} set aside for a value outside its "
             f"column's range, {customers['duplicates']:,} duplicate ids; neither trained on nor scored)"]
    if not isinstance(quarantine, list):  # an empty table is stored as text
        return [*lines, "  nothing quarantined"]
    return lines + [f"  {q['column_name']:<28} {q['reason']:<16} {q['rows']:>9,}  {100 * q['rows'] / rows_in:6.2f}%"
                    for q in quarantine]


def format_summary(recorded: dict, layout: DataLayout) -> str:
    stages, label = recorded["stages"], month_label(parse_month(recorded["partition"]))
    lines = [f"engagement {label}: execution summary", "", *stage_table(stages, recorded["wall_s"], len(recorded["runs"]))]
    model, scores = stages["engagement_model"][0], stages["engagement_scores"][0]
    search = model["search"]
    lines += ["", f"Model {model['version']} (promoted: {model['promoted']}; trained on {model['rows_in']:,} labelled customers "
                  f"in {model['duration_s']:.1f}s)",
              f"  test split   R² {model['r2']:.4f}  RMSE {model['rmse']:.4f}  MAE {model['mae']:.4f}",
              f"  search       {search['method']}: {search['candidates']} candidates, {search['fits']} fits, "
              f"{search['seconds']:.1f}s, CV R² {search['cv_r2']:.4f}"]
    truth = scores.get("against_truth")
    if truth:
        lines.append(f"  vs truth     R² {truth['r2']:.4f}  RMSE {truth['rmse']:.4f}  MAE {truth['mae']:.4f} on "
                     f"{truth['scored_with_truth']:,} scored customers (synthetic world)")
        lines.append(f"  tiers        {100 * truth['true_tier_share']:.1f}% in their true tier (truth has no label noise); "
                     f"mean confidence {100 * truth['mean_confidence']:.1f}% estimates the share whose observed engagement "
                     "falls in the tier")
    if model.get("judged"):
        lines += ["", "Gates on the test split (95% intervals; pass: within the limit, FAIL: beyond it, inconclusive: "
                      "straddles it)", *judged_lines(model["judged"])]
    lines += ["", "Fairness (binarized score > 0.5; pass or FAIL when the gap's interval, held jointly over every comparison, "
              "lies within or beyond the limit; inconclusive when it straddles it)"]
    for f in model["fairness"]:
        interval = (f"tpr {f['interval']['true_positive_rate']}  fpr {f['interval']['false_positive_rate']}"
                    if isinstance(f["interval"], dict) else f["interval"])
        lines.append(f"  {f['gate']:<30} gap {f['difference']:.4f}  interval {interval}  limit {f['limit']}  {f['verdict']}")
    seconds = scores["duration_s"]
    lines += ["", f"Scores: {scores['rows_out']:,} customers, view {scores['catalog_view']} in {layout.catalog}",
              f"  engagement_tier  {_tiers(scores['tiers'])}",
              f"  churn_risk_tier  {_tiers(scores['churn_risk'])}",
              f"Throughput: scoring {scores['rows_out']:,} customers in {seconds:.2f}s = "
              f"{scores['rows_out'] / max(seconds, 1e-9):,.0f} customers/s (select, scale, predict, tiers, Parquet; the seed: 83/s)",
              "", *quarantine_lines(stages["customers"][0]), check_line(recorded["checks"])]
    return "\n".join(lines)
