"""Who is due: the >= 100 new observations rule (99 is not enough), tier age (critical daily,
others weekly), no model yet; selections and the training order."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from platform_assets.wait_times.logic.entity_index import (
    DueRules,
    Selection,
    build_entity_index,
    compute_entity_index,
    read_entity_index,
    select_entities,
)
from platform_assets.wait_times.logic.versions import MODEL_FILE, model_name, promote
from platform_core.registry import ModelRegistry
from tests.wait_times.conftest import small_days

DAY = small_days()[-1]


def _fake_model(registry: ModelRegistry, entity_id: int, trained_on, observation_count: int) -> None:
    ref = registry.register("wait_times", model_name(entity_id), trained_on.isoformat(), {MODEL_FILE: b"x"},
                            {"trained_on": trained_on.isoformat(), "observation_count": observation_count})
    promote(registry, entity_id, ref, "test")


def test_due_by_new_observations_99_is_not_enough_100_is(layout):
    registry = ModelRegistry(layout.models)
    index = compute_entity_index(layout, DAY, registry)
    assert set(index["due_reason"]) == {"no_model"} and index["due"].all()
    tier2 = index.filter(pl.col("tier") > 1, pl.col("observation_count") > 200).head(2)
    (a, count_a), (b, count_b) = tier2.select("entity_id", "observation_count").rows()
    _fake_model(registry, a, DAY, count_a - 99)
    _fake_model(registry, b, DAY, count_b - 100)
    index = compute_entity_index(layout, DAY, registry).filter(pl.col("entity_id").is_in([a, b])).sort("entity_id")
    rows = {r["entity_id"]: r for r in index.iter_rows(named=True)}
    assert (rows[a]["new_observations"], rows[a]["due"], rows[a]["due_reason"]) == (99, False, "not_due")
    assert (rows[b]["new_observations"], rows[b]["due"], rows[b]["due_reason"]) == (100, True, "new_observations")
    assert rows[a]["current_version"].startswith(DAY.isoformat()) and rows[a]["last_trained"] == DAY


def test_due_by_tier_age_critical_daily_others_weekly(layout):
    registry = ModelRegistry(layout.models)
    index = compute_entity_index(layout, DAY, registry)
    critical = index.filter(pl.col("tier") == 1).head(2).select("entity_id", "observation_count").rows()
    other = index.filter(pl.col("tier") > 1).head(2).select("entity_id", "observation_count").rows()
    _fake_model(registry, critical[0][0], DAY - timedelta(days=1), critical[0][1])  # yesterday: due
    _fake_model(registry, critical[1][0], DAY, critical[1][1])  # today: not due
    _fake_model(registry, other[0][0], DAY - timedelta(days=6), other[0][1])  # 6 days: not due
    _fake_model(registry, other[1][0], DAY - timedelta(days=7), other[1][1])  # a week: due
    reasons = dict(compute_entity_index(layout, DAY, registry).select("entity_id", "due_reason").rows())
    assert [reasons[e] for e, _ in critical] == ["tier_age", "not_due"]
    assert [reasons[e] for e, _ in other] == ["not_due", "tier_age"]
    weekly_for_all = compute_entity_index(layout, DAY, registry, DueRules(critical_age_days=7))
    assert dict(weekly_for_all.select("entity_id", "due_reason").rows())[critical[0][0]] == "not_due"


def test_selection_overrides_and_training_order(layout):
    registry = ModelRegistry(layout.models)
    figures = build_entity_index(layout, DAY, registry)
    index = read_entity_index(layout, DAY)
    assert figures["due"] == figures["entities"] == len(index) > 0
    order = select_entities(index)
    tiers = order["tier"].to_list()
    assert tiers == sorted(tiers)  # tier 1 first
    for tier in set(tiers):
        counts = order.filter(pl.col("tier") == tier)["observation_count"].to_list()
        assert counts == sorted(counts, reverse=True)  # largest first within a tier
    one = int(index["entity_id"][5])
    assert select_entities(index, Selection("entity", entity_id=one))["entity_id"].to_list() == [one]
    assert set(select_entities(index, Selection("tier", tier=2))["tier"]) == {2}
    assert len(select_entities(index.with_columns(pl.lit(False).alias("due")), Selection("all"))) == len(index)
    assert select_entities(index.with_columns(pl.lit(False).alias("due"))).is_empty()
    with pytest.raises(ValueError, match="not in the entity index"):
        select_entities(index, Selection("entity", entity_id=987_654))
    with pytest.raises(ValueError):
        Selection("tier")
