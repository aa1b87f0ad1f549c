"""The figures `make run JOB=wait_times` prints: entities trained / skipped / failed by tier,
forecast error against truth, wall time and peak memory (this process and its pool workers)."""

from __future__ import annotations

import resource


def peak_memory_mb() -> dict:
    """Peak resident memory of this process and of its largest finished child (pool workers
    count once they exit; the training step's own sampled peak adds live workers together)."""
    return {"self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "largest_child_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def _tier_lines(by_tier: dict) -> list[str]:
    lines = [f"  {'tier':<6}{'trained':>9}{'degraded':>10}{'skipped':>9}{'failed':>8}"]
    for tier, counts in sorted(by_tier.items(), key=lambda item: int(item[0])):
        lines.append(f"  {tier!s:<6}{counts['trained']:>9,}{counts['degraded']:>10,}{counts['skipped']:>9,}{counts['failed']:>8,}")
    return lines


def from_run(recorded: dict) -> dict:
    """The figures format_summary reads, from what `make run` recorded (asset metadata by stage)."""
    stages = recorded["stages"]
    etl_runs = [m["etl"] for m in stages.get("fact_observations", [])]
    etl = None
    if etl_runs:
        quarantine: dict[str, int] = {}
        for run in etl_runs:
            for label, n in run["quarantine_by_column"].items():
                quarantine[label] = quarantine.get(label, 0) + n
        etl = {"days": sum(r["days"] for r in etl_runs), "rows_in": sum(r["rows_in"] for r in etl_runs),
               "rows_out": sum(r["rows_out"] for r in etl_runs), "files": sum(r["files"] for r in etl_runs),
               "quarantine": dict(sorted(quarantine.items(), key=lambda kv: -kv[1])),
               "seconds": sum(r["seconds"] for r in etl_runs)}
    last = {name: records[-1] for name, records in stages.items() if records}
    return {"partition": recorded["partition"], "etl": etl,
            "entity_index": last.get("entity_index", {}).get("entity_index"),
            "training": last.get("entity_models", {}).get("training"),
            "forecasts": last.get("forecasts", {}).get("forecasts"),
            "forecast_error": last.get("forecasts", {}).get("against_truth"),
            "wti_error": last.get("wti", {}).get("against_truth"),
            "views": [v for name in ("forecasts", "wti") for v in last.get(name, {}).get("catalog_views", [])],
            "wall_seconds": recorded["wall_s"]}


def format_summary(recorded: dict) -> str:
    """`recorded`: partition, and the figures of the steps that ran (etl, entity_index, training,
    forecasts, forecast_error, wti_error), wall_seconds, memory."""
    lines = [f"wait_times {recorded['partition']}: execution summary", ""]
    etl = recorded.get("etl")
    if etl:
        quarantine = ", ".join(f"{reason} {rows:,}" for reason, rows in etl["quarantine"].items()) or "none"
        lines.append(f"ETL: {etl['days']:,} day(s), {etl['files']:,} files, {etl['rows_in']:,} observations in, "
                     f"{etl['rows_out']:,} kept; quarantined (column reason rows): {quarantine} ({etl['seconds']:.1f}s)")
    index = recorded.get("entity_index")
    if index:
        lines.append(f"Entity index: {index['entities']:,} entities, {index['due']:,} due "
                     f"({', '.join(f'{k} {v:,}' for k, v in index['due_reasons'].items())})")
    training = recorded.get("training")
    if training:
        lines += ["", (f"Training: {training['selected']:,} selected, {training['workers']} workers, "
                       f"{training['wall_seconds']:.1f}s wall; median MAE {training['median_mae']}, median trees "
                       f"{training['median_trees']}; peak memory {training['peak_rss_mb_sampled']:,.0f} MB (parent + workers)"),
                  *_tier_lines(training["by_tier"])]
        if training["failed_entities"]:
            lines.append(f"  failed (retried next run): {', '.join(map(str, training['failed_entities'][:20]))}")
        if training.get("too_few_observations"):
            by_tier = ", ".join(f"tier {t}: {n:,}" for t, n in training["too_few_by_tier"].items())
            lines.append(f"  too few observations to train (forecast by the fallback): {training['too_few_observations']:,} "
                         f"({by_tier})")
    forecasts = recorded.get("forecasts")
    if forecasts:
        sources = forecasts["by_source"]
        lines += ["", (f"Forecasts: {forecasts['rows']:,} slots for {forecasts['entities']:,} entities, "
                       f"{forecasts['horizon_days']} days ahead; by model {sources['model']:,}, by the fallback "
                       f"{forecasts['fallback']:,} (entity profile {sources['fallback_entity_profile']:,}, park profile "
                       f"{sources['fallback_park_profile']:,}); without a forecast {forecasts['without_forecast']:,}")]
        if forecasts["fallback_critical"]:
            ids = forecasts["fallback_critical"]
            n = {int(t): c for t, c in forecasts["fallback_by_tier"].items()}.get(1, len(ids))  # JSON keys are text
            lines.append(f"  tier-1 entities on the fallback (too new to train, or failed): {n:,}: "
                         f"{', '.join(map(str, ids[:10]))}{' ...' if n > 10 else ''}")
    error = recorded.get("forecast_error")
    if error and error.get("rows"):
        lines.append(f"  against truth: MAE {error['mae']:.3f} min  RMSE {error['rmse']:.3f}  bias {error['bias']:+.3f} "
                     f"(mean true wait {error['mean_truth']:.1f} min, n={error['rows']:,}); by day "
                     + ", ".join(f"{d} {m:.3f}" for d, m in error["mae_by_day"].items()))
        lines.append("  by source: " + ", ".join(f"{s} MAE {v['mae']:.3f} (n={v['rows']:,})"
                                                 for s, v in error.get("mae_by_source", {}).items()))
    wti = recorded.get("wti_error")
    if wti and wti.get("mae") is not None:
        lines.append(f"  WTI against truth: MAE {wti['mae']:.3f} min over {wti['parks_days']} park-days (max {wti['max_abs_error']:.3f})")
    if recorded.get("views"):
        lines.append(f"  catalog views: {', '.join(recorded['views'])}")
    memory = recorded.get("memory") or peak_memory_mb()
    lines += ["", (f"Wall time {recorded.get('wall_seconds', 0):.1f}s; peak memory: this process {memory['self_mb']:,.0f} MB, "
                   f"largest worker {memory['largest_child_mb']:,.0f} MB")]
    return "\n".join(lines)
