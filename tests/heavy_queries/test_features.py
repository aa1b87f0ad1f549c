"""heavy_queries: the featurizer (base, history, TF-IDF), vocabulary leakage, feature parity."""

from datetime import date

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.featurizer import (BASE_FEATURES, Featurizer, base_features, fit_featurizer,
                                                            parity_report, vocabulary_gate, zero_cost_category)
from platform_assets.heavy_queries.logic.history import HISTORY_FEATURES, build_state, fingerprint
from platform_assets.heavy_queries.logic.splits import assign_splits
from tests.heavy_queries.helpers import catalog_stats, generate_log, world

STATS = catalog_stats()


def _features(sql, schema="tpch_sf1", query_type=None):
    return dict(zip(BASE_FEATURES, base_features(sql, query_type, "superset", schema, STATS)))


def test_feature_counts():
    assert len(BASE_FEATURES) == 78 == len(set(BASE_FEATURES))
    assert len(HISTORY_FEATURES) == 17
    assert 500 <= world().config.tfidf_terms <= 1000


def test_base_features_read_the_parse_tree():
    f = _features("with c as (select o_custkey, count(distinct o_orderkey) n from orders group by o_custkey) "
                  "select c_name, rank() over (order by n) from customer join c on c_custkey = o_custkey "
                  "left join nation on c_nationkey = n_nationkey where c_mktsegment in ('A', 'B', 'C') "
                  "and c_name like '%x%' order by 2 limit 20")
    assert f["parse_failed"] == 0 and f["n_ctes"] == 1 and f["n_joins"] == 2 and f["n_left_joins"] == 1
    assert f["n_tables"] == 3  # orders, customer, nation: the CTE is not a table
    assert f["n_count_distinct"] == 1 and f["n_window_functions"] == 1 and f["max_in_list_size"] == 3
    assert f["n_like"] == 1 and f["has_limit"] == 1 and f["log_limit"] == np.log1p(20)
    assert f["log_max_rows"] == np.log1p(1_500_000) and f["n_large_tables"] == 1 and f["scale_factor_hint"] == 1.0
    assert f["type_select"] == 1 and f["source_superset"] == 1
    assert _features("select * from lineitem", schema="tpch_sf10")["log_max_rows"] == np.log1p(60_012_150)


def test_unparseable_sql_falls_back_to_regex_counts():
    f = _features("select a, sum(b) from lineitem join orders on x = y group by a having ((")
    assert f["parse_failed"] == 1
    assert f["n_joins"] == 1 and f["n_aggregates"] == 1 and f["n_tables"] == 2
    assert f["log_max_rows"] == np.log1p(6_001_215)


def test_zero_cost_rules():
    assert zero_cost_category("SHOW TABLES FROM tpch") == "show"
    assert zero_cost_category("  explain select * from lineitem") == "explain"
    assert zero_cost_category("EXPLAIN ANALYZE select * from lineitem") is None  # it runs the query
    assert zero_cost_category("select 1") == "constant_select"
    assert zero_cost_category("select * from information_schema.columns") == "metadata_lookup"
    assert zero_cost_category("select * from lineitem join information_schema.tables t on true") is None
    assert zero_cost_category("select count(*) from lineitem") is None


def test_history_uses_prior_days_only_with_cold_start():
    labelled = pl.DataFrame({
        "user": ["ann", "ann", "bob"], "source": ["dbt"] * 3, "query": ["select 1 from t"] * 2 + ["select 2 from u"],
        "day": [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 2)], "cpu_time_ms": [100, 10_000, 5],
        "peak_memory_bytes": [1, 1, 1], "heavy": [False, True, False]})
    state = build_state(labelled, date(2026, 1, 2))
    ann = dict(zip(HISTORY_FEATURES, state.features("ann", fingerprint("select 9 from t"), "dbt", date(2026, 1, 2))))
    assert ann["user_mean_log_cpu"] == np.log1p(100)  # the heavy run on the 2nd is not history yet
    assert ann["cold_user"] == 0 and ann["cold_fingerprint"] == 0 and ann["user_days_since_last"] == 1
    bob = dict(zip(HISTORY_FEATURES, state.features("bob", fingerprint("select 2 from u"), "dbt", date(2026, 1, 2))))
    assert bob["cold_user"] == 1 and bob["cold_fingerprint"] == 1
    assert bob["user_mean_log_cpu"] == state.global_stats["mean_log_cpu"]


def test_validation_only_token_never_enters_the_vocabulary():
    log, _ = generate_log(days=44, per_day=8, validation_token="zzvalidationonly")
    frame = log.with_columns(pl.col("create_time").dt.date().alias("day"), pl.lit(False).alias("heavy"))
    frame, _ = assign_splits(frame)
    assert frame.filter(pl.col("split") != "train")["query"].str.contains("zzvalidationonly").any()
    featurizer = fit_featurizer(frame, STATS, terms=1000, min_df=1)
    assert "zzvalidationonly" not in featurizer.vocabulary
    assert vocabulary_gate(featurizer, frame).passed
    leaky = fit_featurizer(frame.drop("split"), STATS, terms=1000, min_df=1)  # fitted on every day
    assert "zzvalidationonly" in leaky.vocabulary
    assert not vocabulary_gate(leaky, frame).passed


def test_featurizer_json_round_trip_and_parity_exact():
    w = world()
    restored = Featurizer.from_json(w.featurizer.to_json())
    assert restored.feature_names == w.featurizer.feature_names and restored.idf == w.featurizer.idf
    report = parity_report(w.featurizer, w.labelled.filter(pl.col("split") != "history"), w.states, sample=60)
    assert report["exact"] and report["max_abs_diff"] == 0.0 and report["rows"] == 60
    assert report["features"] == 78 + 17 + len(w.featurizer.vocabulary)


def test_parity_report_catches_a_diverging_inference_path(monkeypatch):
    w = world()
    original = Featurizer.featurize_one

    def drifting(self, *args, **kwargs):  # an inference path that rounds one feature differently
        row = original(self, *args, **kwargs)
        row[0, BASE_FEATURES.index("log_text_length")] += np.float32(1e-3)
        return row

    monkeypatch.setattr(Featurizer, "featurize_one", drifting)
    report = parity_report(w.featurizer, w.labelled.filter(pl.col("split") == "test"), w.states, sample=10)
    assert not report["exact"] and report["mismatched_cells"] == 10
    assert report["max_abs_diff_by_group"]["history"] == 0 and report["max_abs_diff_by_group"]["base"] > 0
    assert report["first_mismatches"][0]["feature"] == "log_text_length"
