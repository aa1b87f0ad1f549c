"""heavy_queries: the featurizer (base, history, TF-IDF), vocabulary leakage, feature parity, and the
token pass against sqlglot's parse tree it replaces."""

import math
from datetime import date, timedelta

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.featurizer import (
    BASE_FEATURES,
    Featurizer,
    base_features,
    fit_featurizer,
    parity_report,
    vocabulary_gate,
    zero_cost_category,
)
from platform_assets.heavy_queries.logic.history import HISTORY_FEATURES, build_state, fingerprint
from platform_assets.heavy_queries.logic.splits import assign_splits
from platform_assets.heavy_queries.logic.sqlshape import TREE_FEATURES, tree_features
from platform_assets.heavy_queries.logic.tpc import generate_queries
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


def _sqlglot_tree(sql):
    """The reference: the counts as read from sqlglot's parse tree (Trino), the walk the token pass replaced."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        trees = [t for t in sqlglot.parse(sql, read="trino") if t is not None]
    except (SqlglotError, RecursionError, ValueError):
        return None
    if not trees or any(isinstance(t, exp.Command) for t in trees):
        return None
    c = dict.fromkeys(TREE_FEATURES, 0.0)
    c["n_statements"] = float(len(trees))
    tables, cte_names, limits = [], set(), []
    simple = {exp.Subquery: "n_subqueries", exp.CTE: "n_ctes", exp.Exists: "n_exists", exp.Window: "n_window_functions",
              exp.Distinct: "n_distinct", exp.Having: "n_having", exp.Where: "n_where", exp.Union: "n_unions",
              exp.Intersect: "n_intersect_except", exp.Except: "n_intersect_except", exp.Case: "n_case",
              exp.Cast: "n_casts", exp.Column: "n_columns", exp.Literal: "n_literals", exp.Or: "n_or", exp.And: "n_and"}
    for tree in trees:
        cte_names |= {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        for node in tree.walk():
            for cls, name in simple.items():
                c[name] += isinstance(node, cls)
            if isinstance(node, exp.Select):
                c["n_selects"] += 1
                depth, parent = 0, node.parent
                while parent is not None:
                    depth += isinstance(parent, exp.Select)
                    parent = parent.parent
                c["max_select_depth"] = max(c["max_select_depth"], float(depth))
            elif isinstance(node, exp.Table):
                tables.append((node.db.lower(), node.name.lower()))
            elif isinstance(node, exp.Join):
                c["n_joins"] += 1
                side, kind = (node.args.get("side") or "").upper(), (node.args.get("kind") or "").upper()
                on, using = node.args.get("on"), node.args.get("using")
                key = ("n_cross_joins" if kind == "CROSS" or (not on and not using) else "n_left_joins" if side == "LEFT"
                       else "n_outer_joins" if side in ("RIGHT", "FULL") else "n_inner_joins")
                c[key] += 1
                c["n_join_conditions"] += bool(on)
                c["n_using_joins"] += bool(using)
            elif isinstance(node, (exp.Group, exp.Order)):
                c["n_group_by_columns" if isinstance(node, exp.Group) else "n_order_by_columns"] += len(node.expressions)
            elif isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.Like, exp.ILike,
                                   exp.In)):
                c["n_predicates"] += 1
                c["n_equality_predicates"] += isinstance(node, (exp.EQ, exp.NEQ))
                c["n_range_predicates"] += isinstance(node, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between))
                c["n_like"] += isinstance(node, (exp.Like, exp.ILike))
                if isinstance(node, exp.In) and node.args.get("query") is not None:
                    c["n_in_subqueries"] += 1
                elif isinstance(node, exp.In):
                    c["n_in_lists"] += 1
                    c["max_in_list_size"] = max(c["max_in_list_size"], float(len(node.expressions)))
            elif isinstance(node, exp.Limit):
                limits.append(node.expression)
            elif isinstance(node, exp.Star) and isinstance(node.parent, exp.Select):
                c["select_star"] = 1.0
            if isinstance(node, exp.AggFunc):
                c["n_aggregates"] += 1
                c["n_count_distinct"] += isinstance(node, exp.Count) and isinstance(node.this, exp.Distinct)
            c["n_functions"] += isinstance(node, exp.Func)
        top = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
        if top is not None:
            c["n_projections"] = max(c["n_projections"], float(len(top.expressions)))
    c["has_limit"] = float(bool(limits))
    values = [float(v.name) for v in limits if isinstance(v, exp.Literal) and v.is_int]
    c["log_limit"] = math.log1p(max(values)) if values else 0.0
    tables = [(db, name) for db, name in tables if not (db == "" and name in cte_names)]
    c["n_tables"], c["n_distinct_tables"] = float(len(tables)), float(len(set(tables)))
    return c, sorted(tables)


TRICKY = [
    "select a from t1 join t2 using (k) cross join t3 natural join t4 full outer join t5 on true "
    "left join t6 on a = b right join t7 on c = d",
    "with a as (select 1 x) select x from a union all select x from a",
    "insert into r.t with a as (select 1 x) select x from a",
    "select a::int, cast(b as varchar(3)), try_cast(c as double) from s.t where a in (1, 2, 3, 4) "
    "and b not in (select 1) and not exists (select 1 from u)",
    "select interval '1' day, current_timestamp, extract(year from d), if(a, 1, 2), grouping(a), year(d), "
    "count(distinct a) over (partition by b order by c rows between 1 preceding and current row) "
    "from t group by rollup(a, b) order by 1 desc nulls last limit 5",
    "(select a from t) union (select b from u) order by 1 limit 5",
    "select * from (select * from (select 1 from x) y) z where a between 1 and 2 and b like '%x' or c <> 3",
    'select "Quoted"."Col", t.* from "S"."T" "Quoted", u as t -- a comment (with a paren\n',
    "select a from t; select b, c from u;",
    "select distinct a from t where a is distinct from b and d = (select max(b) from u) /* ( */",
    "create temp view v (a, b) as select 1, 2; select a from v; drop view v",
    "select count(*) from ((select a from t) except (select a from u)) x",
    "select case when a = 1 then 'x' when b = 2 then 'y' else 'z' end total, substring(a from 1 for 2) from t",
    "select s, count(*) as rows, c.rows, sum(x) over (order by y range between 1 preceding and current row) from t c "
    "group by all order by rows desc",
]


def test_token_pass_counts_what_sqlglot_parse_tree_counts():
    """Every structural feature equals the one read from sqlglot's tree, on real TPC-DS / TPC-H texts
    (one new parameter seed), the test log's texts and hand-written corner cases."""
    texts = [q.sql for q in generate_queries("tpcds", tuple(range(1, 100)), 1, (11,))]
    texts += [q.sql for q in generate_queries("tpch", tuple(range(1, 23)), 1, (11,))]
    log, _ = generate_log(days=3, per_day=60)
    texts += log.filter(~pl.col("query_type").is_in(["SHOW", "DESCRIBE", "EXPLAIN", "SET_SESSION", "USE"]))[
        "query"].unique().to_list() + TRICKY
    compared = 0
    for sql in texts:
        expected, ours = _sqlglot_tree(sql), tree_features(sql)
        assert (expected is None) == (ours is None), sql
        if expected is not None:
            counts, tables = ours
            assert {k: v for k, v in counts.items() if v != expected[0][k]} == {}, sql
            assert sorted(tables) == expected[1], sql
            compared += 1
    assert compared >= 150


def test_text_that_does_not_tokenize_falls_back_like_a_failed_parse():
    for sql in ("select 'unterminated from lineitem", "select a from (lineitem", "select 1 from t; show tables",
                "select a from t /* open comment"):
        assert tree_features(sql) is None
        assert _features(sql)["parse_failed"] == 1, sql
    assert _features("show tables")["is_command"] == 1 and _features("show tables")["parse_failed"] == 0


def test_batch_rows_equal_single_rows_bit_for_bit_with_repeats_and_nulls():
    w = world()
    rows = w.labelled.filter(pl.col("split") == "test").head(40)
    rows = pl.concat([rows, rows.head(10).with_columns(pl.lit(None, pl.String).alias("source"),
                                                        pl.lit(None, pl.String).alias("query_type")), rows.head(5)])
    fresh = Featurizer.from_json(w.featurizer.to_json())
    batch = fresh.featurize_frame(rows, w.states)
    assert batch.shape == (55, len(fresh.feature_names))
    assert np.array_equal(batch, fresh.featurize_frame(rows, w.states))  # the same again, from the cache
    for i, r in enumerate(rows.iter_rows(named=True)):
        single = Featurizer.from_json(w.featurizer.to_json())
        single.history = w.states[r["day"]]
        row = single.featurize_one(r["query"], r["user"], r["source"], r["schema"], r["query_type"], r["day"])
        assert np.array_equal(row[0], batch[i]), i
    assert np.array_equal(batch[:5], batch[-5:])


def test_vocabulary_counted_per_distinct_text_as_per_row():
    frame = pl.DataFrame({"query": ["select a from t", "select a from t", "select b from t where b = 1", None]})
    featurizer = fit_featurizer(frame, STATS, terms=10, min_df=2)
    assert featurizer.vocabulary == ["a", "from", "select", "t"]  # "b" is in one query only, twice
    n, df = 4, {"a": 2, "from": 3, "select": 3, "t": 3}
    assert featurizer.idf == [math.log((1 + n) / (1 + df[t])) + 1 for t in featurizer.vocabulary]


def test_history_day_changes_the_row_not_the_text_part():
    w = world()
    r = w.test.row(0, named=True)
    day = r["day"]
    frame = pl.DataFrame([r, {**r, "day": day + timedelta(days=1)}], schema=w.test.schema)
    states = {day: w.states[day], day + timedelta(days=1): build_state(w.labelled, day + timedelta(days=1))}
    X = w.featurizer.featurize_frame(frame, states)
    n_base = len(BASE_FEATURES)
    assert np.array_equal(X[0, :n_base], X[1, :n_base]) and np.array_equal(X[0, w.featurizer.n_numeric:],
                                                                          X[1, w.featurizer.n_numeric:])
    assert X[0, n_base:w.featurizer.n_numeric].tolist() == np.float32(
        w.states[day].features(r["user"], fingerprint(r["query"], r["schema"]), r["source"].lower(), day)).tolist()
