"""The execution summary `make run JOB=heavy_queries` prints."""

from __future__ import annotations

from platform_core.storage import DataLayout
from platform_core.summary import check_line, stage_table


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _unparsed(features: dict) -> str:
    counts = features["unparsed"]
    parts = [f"{name} {', '.join(f'{n:,} {reason}' for reason, n in by_reason.items())}"
             for name, by_reason in counts.items() if by_reason]
    return "; ".join(parts) if parts else "none"


def format_summary(recorded: dict, layout: DataLayout) -> str:
    stages, day = recorded["stages"], recorded["partition"]
    lines = [f"heavy_queries {day}: execution summary", "", *stage_table(stages, recorded["wall_s"], len(recorded["runs"]))]
    labelled = stages["labelled_queries"]
    window, features, model = stages["query_window"][0], stages["query_features"][0], stages["heavy_query_model"][0]
    set_aside: dict[str, int] = {}
    for record in labelled:
        for reason, n in record["set_aside"].items():
            set_aside[reason] = set_aside.get(reason, 0) + n
    sampling, splits = window["sampling"], window["splits"]
    used = labelled[-1]["thresholds"]
    rows_in = sum(record["rows_in"] for record in labelled)
    lines += ["", f"Labels (heavy: CPU >= {used['cpu_ms']:,} ms, peak memory > {used['peak_memory_bytes']:,} bytes or a "
                  f"resource error): {window['rows_out']:,} queries in the 44-day window, {window['heavy']:,} heavy "
                  f"({_pct(window['heavy_share'])} as labelled); set aside of {rows_in:,} delivered rows: "
                  + (", ".join(f"{k} {v:,} ({_pct(v / max(rows_in, 1))})" for k, v in set_aside.items() if v) or "none")
                  + f"; {window['cross_day_duplicates']:,} duplicates across days",
              "Splits: " + "; ".join(f"{name} {s['first_day']}..{s['last_day']} {s['rows']:,} rows, {s['heavy']:,} heavy"
                                     for name, s in splits.items() if isinstance(s, dict)),
              f"Sampling (boundary, training days): {sampling['small_in']:,} small + {sampling['heavy_in']:,} heavy -> "
              f"{sampling['small_kept']:,} + {sampling['heavy_kept']:,}, ratio {sampling['ratio_achieved']}:1 small:heavy",
              f"Zero-cost categories routed without the model: {', '.join(window['zero_cost_routed']) or 'none'}",
              f"Features: {features['features']} ({features['numeric_features']} numeric, {features['vocabulary']} TF-IDF terms); "
              f"unparsed texts routed heavy without the model: {_unparsed(features)}"]
    cv, threshold, test = model["cv"], model["threshold"], model["test"]
    lines += [f"CV (5-fold stratified, early stopping): AUC {cv['auc']['mean']:.4f} ± {cv['auc']['std']:.4f}, PR-AUC "
              f"{cv['pr_auc']['mean']:.4f}, {model['rounds']} rounds, {model['training_seconds']:.1f}s",
              f"Threshold {threshold['threshold']:.6f} at FN:FP cost {threshold['cost_fn']:.0f}:{threshold['cost_fp']:.0f} "
              f"(validation days; expected cost {threshold['cost_per_1000_queries']} per 1,000 queries); cold start "
              f"(fingerprint without history) {model['cold_threshold']['threshold']:.6f} "
              f"({model['cold_threshold']['chosen_on']})",
              f"Test days ({test['rows']:,} queries, {test['heavy']} heavy): recall {_pct(test['recall'])} (interval "
              f"{test.get('recall_interval')}), FNR {_pct(test['fnr'])}, precision {_pct(test['precision'])}, routed "
              f"{_pct(test['routed_share'])}, AUC {test['auc']}; of them cold start {test['cold_start']['rows']:,} "
              f"queries, {test['cold_start']['heavy']} heavy, {test['cold_start']['tp']} caught",
              f"Compliance (recall >= 98% and FNR <= 2%, recall judged by its 95% interval): "
              f"{model['test'].get('shown', 'FAIL' if 'compliance_recall' in model['failed_gates'] else 'pass')}"
              + (f" (about {model['test']['heavy_needed']:,} heavy test queries would settle it)"
                 if model["test"].get("heavy_needed") else "") + "; "
              f"ONNX parity: {'PASS' if 'onnx_parity' not in model['failed_gates'] else 'FAIL'}",
              f"Model {model['version']}: {'promoted to champion' if model['promoted'] else 'kept in the registry, not promoted'}"]
    replay = stages.get("query_replay", [])
    if replay:
        r = replay[0]
        judged = r["judged_days"] or ["-", "-"]
        lines += [f"Replay {r['first_day']}..{r['last_day']} with {r['model_version']}, judged on {judged[0]}..{judged[1]} "
                  f"(days its model and threshold never saw): recall {_pct(r['recall'])}, FNR "
                  f"{_pct(r['fnr'])}, precision {_pct(r['precision'])}, routed {_pct(r['routed_share'])} "
                  f"({r['unparsed_routed_heavy']:,} unparsed); lowest daily "
                  f"recall {_pct(r['min_daily_recall'])}; score PSI {r['score_psi']:.4f}"
                  + (f"; drifting: {', '.join(r['features_drifting'][:5])}" if r["features_drifting"] else ""),
                  f"Views in {layout.catalog}: {', '.join(r['catalog_views'])} (make query SQL=\"...\")"]
    lines.append(check_line(recorded["checks"]))
    return "\n".join(lines)
