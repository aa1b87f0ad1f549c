"""heavy_queries: classify() through ONNX, batch scoring, tamper refusal, replay report."""

import shutil

import numpy as np
import polars as pl
import pytest

from platform_assets.heavy_queries.logic import featurizer as featurizer_module
from platform_assets.heavy_queries.logic.featurizer import Featurizer
from platform_assets.heavy_queries.logic.replay import replay, write_replay
from platform_assets.heavy_queries.logic.serving import LoadedModel, classify, load_model, score_batch
from platform_core.registry import ModelIntegrityError
from platform_core.storage import current
from tests.heavy_queries.helpers import world

HEAVY_SQL = ("with ss as (select i_item_id, sum(ss_ext_sales_price) total_sales from store_sales, date_dim, item where "
             "ss_item_sk = i_item_sk and ss_sold_date_sk = d_date_sk and d_year = 2001 group by i_item_id) "
             "select i_item_id, sum(total_sales) from ss group by i_item_id order by 2 limit 100")


def test_classify_one_query_through_onnx():
    w = world()
    out = classify(HEAVY_SQL, user="user_03", source="superset", schema="tpcds_sf10", registry=w.registry, ref=str(w.ref))
    assert set(out) == {"heavy", "probability", "threshold", "cold_start", "model_version", "zero_cost_category", "unparsed"}
    assert out["unparsed"] is None
    assert out["model_version"] == str(w.ref)
    assert out["threshold"] == (w.cold_threshold["threshold"] if out["cold_start"] else w.threshold["threshold"])
    assert 0.0 <= out["probability"] <= 1.0 and out["heavy"] == (out["probability"] >= out["threshold"])
    row = w.featurizer.featurize_one(HEAVY_SQL, "user_03", "superset", "tpcds_sf10")
    assert out["probability"] == pytest.approx(float(w.model.predict(row)[0]), abs=1e-5)
    small = classify("select * from orders where o_orderkey = 7", user="user_03", source="superset", schema="tpch_sf0_1",
                     registry=w.registry, ref=w.ref)
    assert small["probability"] < out["probability"]


def test_classify_from_a_model_directory_and_refuse_a_tampered_one(tmp_path):
    w = world()
    entry = w.registry.root / w.ref.job / w.ref.model / w.ref.version
    copy = tmp_path / "model"
    shutil.copytree(entry, copy)
    assert classify("select 1 from lineitem", model_dir=copy)["model_version"] == str(w.ref)
    tampered = tmp_path / "tampered"
    shutil.copytree(entry, tampered)
    (tampered / "model.onnx").write_bytes((tampered / "model.onnx").read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelIntegrityError):
        load_model(model_dir=tampered)


def test_zero_cost_queries_are_answered_by_the_rule():
    w = world()
    model = load_model(registry=w.registry, ref=w.ref)
    featurizer = Featurizer.from_json(model.featurizer.to_json())
    featurizer.zero_cost_categories = ["show"]
    routed = LoadedModel(featurizer, model.session, model.threshold, model.model_version, model.description)
    out = classify("SHOW TABLES", model=routed)
    assert out == {"heavy": False, "probability": 0.0, "threshold": model.threshold, "cold_start": False,
                   "model_version": model.model_version, "zero_cost_category": "show", "unparsed": None}
    assert classify("DESCRIBE lineitem", model=routed)["zero_cost_category"] is None  # not validated: the model scores it


def test_batch_scoring_matches_one_at_a_time():
    w = world()
    model = load_model(registry=w.registry, ref=w.ref)
    frame = w.test.head(25)
    scored = score_batch(frame, model, w.states)
    assert scored.height == 25 and scored["model_version"].unique().to_list() == [str(w.ref)]
    batch = score_batch(frame, model)["probability"].to_numpy()  # the stored state, as classify() uses
    singles = [classify(r["query"], r["user"], r["source"], r["schema"], r["query_type"], model=model,
                        day=r["day"])["probability"] for r in frame.iter_rows(named=True)]
    assert batch.tolist() == singles  # the same float32 row, the same trees: identical probabilities


def test_replay_reports_daily_metrics_drift_and_plots(tmp_path):
    w = world()
    model = load_model(registry=w.registry, ref=w.ref)
    daily, drift_rows, figures, scored = replay(w.labelled, model, days=14)
    assert scored.height == figures["rows"] and scored["probability"].is_between(0, 1).all()
    thresholds = np.where(scored["cold_start"].to_numpy(), model.cold_threshold, model.threshold)
    assert model.cold_threshold <= model.threshold
    assert (scored["heavy_predicted"] == (scored["probability"] >= thresholds)).all()
    assert daily.height == 14 and daily["day"].is_sorted()
    assert daily["rows"].sum() == figures["rows"] == w.labelled.filter(pl.col("day") >= daily["day"].min()).height
    assert daily["tp"].sum() + daily["fn"].sum() == figures["heavy"]
    for row in daily.iter_rows(named=True):
        if row["heavy"]:
            assert row["recall"] == pytest.approx(row["tp"] / row["heavy"], abs=1e-5)
            assert row["fnr"] == pytest.approx(1 - row["recall"], abs=1e-5)
    names = {r["name"] for r in drift_rows}
    assert "score" in names and "user_heavy_rate" in names and "tfidf_select" not in names
    # Same world before and after training. PSI on a few hundred rows of a booster's lumpy scores is
    # noisy (0.02-0.25 here); the bug this guards against (edges rounded after binning) gave 8.7.
    assert figures["score_psi"] < 1.0
    write_replay(tmp_path / "replay", daily, drift_rows, figures, scored)
    written = current(tmp_path / "replay")
    assert {p.name for p in written.iterdir()} == {"scored.parquet", "replay_daily.parquet", "drift.parquet", "report.md", "recall_routed.png",
                                                   "psi.png"}
    assert (written / "recall_routed.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Per day" in (written / "report.md").read_text()


def test_batch_routes_each_distinct_text_once_and_scores_the_rest(monkeypatch):
    w = world()
    model = load_model(registry=w.registry, ref=w.ref)
    featurizer = Featurizer.from_json(model.featurizer.to_json())
    featurizer.zero_cost_categories = ["show", "constant_select"]
    routed = LoadedModel(featurizer, model.session, model.threshold, model.model_version, model.description)
    frame = w.test.filter(pl.col("zero_cost_category").is_null()).head(6)
    extra = pl.DataFrame([{**frame.row(0, named=True), "query": q, "query_type": t}
                          for q, t in [("SHOW TABLES", "SHOW"), ("select 1", "SELECT")] * 3], schema=frame.schema)
    frame = pl.concat([frame, frame, extra])
    calls = []
    original = featurizer_module.zero_cost_category
    monkeypatch.setattr(featurizer_module, "zero_cost_category", lambda sql, qt=None: calls.append(sql) or original(sql, qt))
    scored = score_batch(frame, routed)
    assert len(calls) == frame.select("query", "query_type").n_unique() < frame.height
    by_rule = scored.filter(pl.col("zero_cost_routed").is_not_null())
    assert by_rule["zero_cost_routed"].to_list() == ["show", "constant_select"] * 3 and (by_rule["probability"] == 0).all()
    model_rows = scored.filter(pl.col("zero_cost_routed").is_null())
    assert model_rows.height == 12 and model_rows["probability"].head(6).to_list() == model_rows["probability"].tail(6).to_list()
    assert (model_rows["probability"] > 0).all()


OBVIOUSLY_HEAVY = {
    "many-to-many join of two fact tables on customer":
        "select ss.ss_customer_sk, sum(ss.ss_net_paid), sum(cs.cs_net_paid) from store_sales ss join catalog_sales cs "
        "on ss.ss_customer_sk = cs.cs_bill_customer_sk group by ss.ss_customer_sk",
    "full scan of the largest table with a sort": "select * from store_sales order by ss_net_paid desc",
    "cross join": "select count(*) from store_sales cross join catalog_sales",
}
ZERO_COST = {"SHOW TABLES": "show", "DESCRIBE store_sales": "describe", "EXPLAIN select * from store_sales": "explain",
             "SELECT 1": "constant_select"}


@pytest.mark.parametrize("name", OBVIOUSLY_HEAVY)
def test_an_obviously_heavy_query_never_seen_is_heavy(name):
    w = world()
    out = classify(OBVIOUSLY_HEAVY[name], user="analyst_new", source="superset", schema="tpcds_sf1", registry=w.registry,
                   ref=w.ref)
    assert out["cold_start"] and out["threshold"] == w.cold_threshold["threshold"]  # no history: the cold-start threshold
    assert out["heavy"], f"{name}: p={out['probability']:.4f} < {out['threshold']:.4f}"


@pytest.mark.parametrize("sql", ZERO_COST)
def test_metadata_statements_are_routed_as_zero_cost(sql):
    w = world()
    out = classify(sql, user="analyst_new", source="superset", schema="tpcds_sf1", registry=w.registry, ref=w.ref)
    assert out["zero_cost_category"] == ZERO_COST[sql] and out["probability"] == 0.0 and not out["heavy"]


def test_a_shape_with_history_is_decided_at_the_warm_threshold():
    w = world()
    r = w.labelled.filter(pl.col("zero_cost_category").is_null()).sort("day").row(-1, named=True)
    out = classify(r["query"], user=r["user"], source=r["source"], schema=r["schema"], registry=w.registry, ref=w.ref)
    assert not out["cold_start"] and out["threshold"] == w.threshold["threshold"]
    elsewhere = classify(r["query"], user=r["user"], source=r["source"], schema="tpcds_sf_new", registry=w.registry,
                         ref=w.ref)
    assert elsewhere["cold_start"]  # the same text on a schema it never ran on has no history there
