"""The execution summary `make run JOB=readmission` prints."""

from __future__ import annotations

from platform_core.periods import month_label, parse_month
from platform_core.storage import DataLayout
from platform_core.summary import check_line, stage_table
from platform_core.verdicts import SHOWN, judged_lines

COMPARISON = {"pass": "not worse", "fail": "worse", "inconclusive": "inconclusive"}


def _f(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _oot_quality(model: dict) -> list[str]:
    """The champion judged on OOT, each figure beside its interval, and calibration against truth."""
    figures, deciles = model.get("oot_quality") or {}, model.get("oot_calibration") or []
    if not figures:
        return []
    lines = ["Champion on the OOT window, which chose nothing (pass / FAIL / inconclusive by the 95% interval; "
             "calibration held jointly over the deciles):", *judged_lines(figures)]
    if deciles and "true_rate" in deciles[0]:
        worst = max(deciles, key=lambda d: abs(d["true_rate"] - d["mean_predicted"]))
        lines.append(f"  against truth: largest |mean true probability - mean predicted| over the deciles "
                     f"{abs(worst['true_rate'] - worst['mean_predicted']):.4f} (decile {worst['decile']})")
    return lines


def format_summary(recorded: dict, layout: DataLayout) -> str:
    stages, label = recorded["stages"], month_label(parse_month(recorded["partition"]))
    lines = [f"readmission {label}: execution summary", "", *stage_table(stages, recorded["wall_s"], len(recorded["runs"]))]
    prerequisites = stages.get("training_prerequisites", [])
    aside = prerequisites[-1].get("set_aside", []) if prerequisites else []
    if aside:
        lines += ["", f"Set aside (refused deliveries, no data for them; training went on without them): {len(aside)} month(s)",
                  *(f"  {a['month']}  {a['reason']}" for a in aside)]
    model = stages["readmission_models"][0]
    best = model["best_achievable_auc"]
    lines += ["", f"Models trained on {model['samples']['train']:,} encounters (test {model['samples']['test']:,}, "
                  f"OOT {model['samples']['oot']:,}) in {model['duration_s']:.1f}s; folds grouped by patient",
              f"  {'algorithm':<20} {'window':<6} {'accuracy':>8} {'precision':>9} {'recall':>7} {'f1':>7} {'auc':>7} "
              f"{'best auc':>8} {'gap':>7} {'brier':>7}"]
    for m in model["metrics"]:
        lines.append(f"  {m['algorithm']:<20} {m['window']:<6} {_f(m['accuracy']):>8} {_f(m['precision']):>9} "
                     f"{_f(m['recall']):>7} {_f(m['f1']):>7} {_f(m['auc_roc']):>7} {_f(m.get('best_achievable_auc')):>8} "
                     f"{_f(m.get('auc_gap')):>7} {_f(m['brier']):>7}")
    lines += [f"  best achievable AUC from the true probabilities: test {_f(best.get('test'))}, OOT {_f(best.get('oot'))}",
              "  tuning" + (f" on {model['search_rows']:,} of them (whole patients drawn at random)"
                            if model.get("search_rows", model["samples"]["train"]) < model["samples"]["train"] else "")
              + ": " + "; ".join(f"{a} {t['fits']} fits in {t['search_seconds']:.1f}s, CV AUC {t['cv_auc']:.4f}"
                                       for a, t in model["tuning"].items()),
              f"Champion (on test AUC, never OOT; the simplest algorithm that qualifies: its shortfall against the best "
              f"not confidently beyond the margin): {model['champion'] or 'none'}",
              *(f"  {c['algorithm']:<20} test AUC {c['test_auc']:.4f}, minus the best {c['minus_best']:+.4f} "
                f"[{c['low']:+.4f}, {c['high']:+.4f}]  {COMPARISON[c['verdict']]}{'' if c['qualifies'] else ', does not qualify'}"
                for c in model["champions"].get("overall_comparison", [])),
              *_oot_quality(model),
              "", "Fairness on the test window (equal opportunity: the deciding recall gap and its interval, held jointly "
                  "over every pair of groups compared; pass: within the limit, FAIL: beyond it, inconclusive: straddles it)"]
    for f in model["fairness"]:
        lines.append(f"  {f['algorithm']:<20} gap {_f(f['gap'])} [{_f(f['low'])}, {_f(f['high'])}]  "
                     f"{SHOWN[f['verdict']]}{' (blocks)' if f['verdict'] == 'inconclusive' and not f['passed'] else ''}  "
                     f"{f['pair']}" + (f"  {f['reason']}" if f["verdict"] == "fail" else ""))
    if model.get("fairness_open_groups"):
        lines.append(f"  the champion's open groups: positives -> about how many would settle each "
                     f"(equal_opportunity_conclusive)\n    " + model["fairness_open_groups"].replace("; ", "\n    "))
    scores = stages.get("readmission_scores", [])
    if scores:
        s = scores[-1]
        lines += ["", f"Scores {label}: {s['rows_out']:,} encounters, view {s['catalog_view']} in {layout.catalog}",
                  "  risk bands  " + "  ".join(f"{b['risk_band']} {b['rows']:,} ({100 * b['share']:.1f}%)" for b in s["risk_bands"]),
                  f"Throughput: scoring {s['rows_out']:,} encounters in {s['duration_s']:.3f}s = "
                  f"{s['rows_out'] / max(s['duration_s'], 1e-9):,.0f} encounters/s (preprocess, predict, bands)"]
    monitoring = stages.get("readmission_monitoring", [])
    if monitoring:
        m = monitoring[-1]
        perf = m.get("performance") or {}
        lines.append(f"Monitoring {label}: score PSI {_f(m['score_psi'])}, max feature PSI {_f(m['max_feature_psi'])}"
                     + (f", drifting: {', '.join(m['features_drifting'])}" if m["features_drifting"] else "")
                     + (f"; AUC {_f(perf.get('auc_roc'))} on the month's labels" if perf else "; labels not in yet"))
    lines.append(check_line(recorded["checks"]))
    return "\n".join(lines)
