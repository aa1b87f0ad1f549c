"""A small synthetic Trino-like query log for heavy_queries' tests, with its ground truth.

TPC-like SQL templates (TPC-H / TPC-DS shaped joins, aggregations, CTEs, windows; SHOW /
DESCRIBE / EXPLAIN / SET / USE and constant SELECTs) run against schemas of several scale
factors. A run's CPU time and peak memory follow the template's cost at scale factor 1 times the
scale factor, with log-normal noise, so heaviness is driven by what the featurizer can see (the
tables and their sizes, the joins, the schema's scale factor). The log has the delivery schema of
the real corpus; `template`, `scale_factor` and `measured_run_id` go to the truth file only.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.config import HeavyThresholds, ModelConfig
from platform_assets.heavy_queries.logic.featurizer import Featurizer, fit_featurizer
from platform_assets.heavy_queries.logic.history import FINGERPRINT_FEATURES, build_state, states_by_day
from platform_assets.heavy_queries.logic.labels import label_figures, label_log, zero_cost_gate
from platform_assets.heavy_queries.logic.onnx_model import MODEL_NAME, export_onnx, model_files
from platform_assets.heavy_queries.logic.replay import training_drift_reference
from platform_assets.heavy_queries.logic.sampling import boundary_sample
from platform_assets.heavy_queries.logic.splits import assign_splits
from platform_assets.heavy_queries.logic.threshold import choose_threshold
from platform_assets.heavy_queries.logic.training import TrainedModel, cold_start_threshold, train_model
from platform_core.registry import ModelRef, ModelRegistry
from platform_core.storage import SUCCESS_MARKER, DataLayout, write_once_dir

JOB = "heavy_queries"
START = date(2026, 1, 1)
THRESHOLDS = HeavyThresholds(cpu_ms=1_000, peak_memory_bytes=512 * 2**20)
TPCH_ROWS = {"lineitem": 6_001_215, "orders": 1_500_000, "customer": 150_000, "part": 200_000, "partsupp": 800_000,
             "supplier": 10_000, "nation": 25, "region": 5}
TPCDS_ROWS = {"store_sales": 2_880_404, "catalog_sales": 1_441_548, "web_sales": 719_384, "date_dim": 73_049,
              "item": 18_000, "customer": 100_000, "store": 12, "promotion": 300}
SCHEMAS = {"tpch_sf0_1": 0.1, "tpch_sf1": 1.0, "tpch_sf10": 10.0, "tpcds_sf1": 1.0, "tpcds_sf10": 10.0}
SCHEMA_WEIGHTS = {"tpch_sf0_1": 0.37, "tpch_sf1": 0.3, "tpch_sf10": 0.04, "tpcds_sf1": 0.25, "tpcds_sf10": 0.04}
SOURCES = ["superset", "airflow", "jupyter", "dbt", "trino-cli"]
USERS = [f"user_{i:02d}" for i in range(12)]


def catalog_stats() -> dict[str, dict[str, int]]:
    """schema -> table -> rows, as the corpus builder records it."""
    out = {}
    for schema, sf in SCHEMAS.items():
        tables = TPCH_ROWS if schema.startswith("tpch") else TPCDS_ROWS
        out[schema] = {name: max(1, int(rows * sf)) if rows > 1000 else rows for name, rows in tables.items()}
    return out


def _tpch(rng, template: str) -> tuple[str, float, float]:
    """(sql, CPU ms at SF 1, peak MB at SF 1)."""
    day = int(rng.integers(60, 120))
    if template == "tpch_q1":
        return (f"select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty, sum(l_extendedprice * (1 - l_discount)) "
                f"as sum_disc_price, avg(l_discount) as avg_disc, count(*) as count_order from lineitem "
                f"where l_shipdate <= date '1998-12-01' - interval '{day}' day group by l_returnflag, l_linestatus "
                f"order by l_returnflag, l_linestatus", 280.0, 60.0)
    if template == "tpch_q3":
        segment = rng.choice(["BUILDING", "AUTOMOBILE", "MACHINERY", "HOUSEHOLD"])
        return (f"select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue, o_orderdate, o_shippriority "
                f"from customer, orders, lineitem where c_mktsegment = '{segment}' and c_custkey = o_custkey "
                f"and l_orderkey = o_orderkey and o_orderdate < date '1995-03-{int(rng.integers(10, 30))}' "
                f"group by l_orderkey, o_orderdate, o_shippriority order by revenue desc, o_orderdate limit 10", 240.0, 140.0)
    if template == "tpch_q9":
        color = rng.choice(["green", "blue", "red", "ivory", "plum"])
        return (f"select nation, o_year, sum(amount) as sum_profit from (select n_name as nation, extract(year from o_orderdate) "
                f"as o_year, l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity as amount from part, supplier, "
                f"lineitem, partsupp, orders, nation where s_suppkey = l_suppkey and ps_suppkey = l_suppkey and ps_partkey = "
                f"l_partkey and p_partkey = l_partkey and o_orderkey = l_orderkey and s_nationkey = n_nationkey and p_name like "
                f"'%{color}%') as profit group by nation, o_year order by nation, o_year desc", 650.0, 330.0)
    if template == "tpch_q18":
        quantity = int(rng.integers(300, 316))
        return (f"select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity) from customer, orders, "
                f"lineitem where o_orderkey in (select l_orderkey from lineitem group by l_orderkey having sum(l_quantity) > "
                f"{quantity}) and c_custkey = o_custkey and o_orderkey = l_orderkey group by c_name, c_custkey, o_orderkey, "
                f"o_orderdate, o_totalprice order by o_totalprice desc, o_orderdate limit 100", 720.0, 420.0)
    if template == "tpch_point":
        return f"select * from orders where o_orderkey = {int(rng.integers(1, 6_000_000))}", 3.0, 2.0
    if template == "tpch_ctas":
        return (f"create table scratch.daily_{int(rng.integers(0, 999))} as select l_shipdate, count(*) as n, "
                f"sum(l_quantity) as qty from lineitem group by l_shipdate", 420.0, 90.0)
    return (f"insert into reports.region_revenue select r_name, sum(o_totalprice) from orders join customer on "
            f"o_custkey = c_custkey join nation on c_nationkey = n_nationkey join region on n_regionkey = r_regionkey "
            f"where o_orderdate >= date '1996-0{int(rng.integers(1, 9))}-01' group by r_name", 310.0, 70.0)


def _tpcds(rng, template: str) -> tuple[str, float, float]:
    year = int(rng.integers(1998, 2003))
    if template == "tpcds_brand":
        return (f"select dt.d_year, item.i_brand_id as brand_id, item.i_brand as brand, sum(ss_ext_sales_price) as sum_agg "
                f"from date_dim dt, store_sales, item where dt.d_date_sk = store_sales.ss_sold_date_sk and "
                f"store_sales.ss_item_sk = item.i_item_sk and item.i_manufact_id = {int(rng.integers(1, 1000))} and "
                f"dt.d_moy = {int(rng.integers(1, 13))} group by dt.d_year, item.i_brand, item.i_brand_id "
                f"order by dt.d_year, sum_agg desc, brand_id limit 100", 160.0, 80.0)
    if template == "tpcds_window":
        return (f"with v1 as (select i_category, i_brand, d_year, d_moy, sum(ss_sales_price) as sum_sales, "
                f"avg(sum(ss_sales_price)) over (partition by i_category, i_brand, d_year) as avg_monthly_sales, "
                f"rank() over (partition by i_category, i_brand order by d_year, d_moy) as rn from item, store_sales, "
                f"date_dim where ss_item_sk = i_item_sk and ss_sold_date_sk = d_date_sk and (d_year = {year} or "
                f"(d_year = {year - 1} and d_moy = 12)) group by i_category, i_brand, d_year, d_moy) select * from v1 "
                f"where d_year = {year} and avg_monthly_sales > 0 order by sum_sales - avg_monthly_sales limit 100", 520.0, 260.0)
    return (f"with ss as (select i_item_id, sum(ss_ext_sales_price) total_sales from store_sales, date_dim, item where "
            f"i_item_id in (select i_item_id from item where i_color in ('slate', 'blanched', 'burnished')) and "
            f"ss_item_sk = i_item_sk and ss_sold_date_sk = d_date_sk and d_year = {year} group by i_item_id), cs as "
            f"(select i_item_id, sum(cs_ext_sales_price) total_sales from catalog_sales, date_dim, item where "
            f"cs_item_sk = i_item_sk and cs_sold_date_sk = d_date_sk and d_year = {year} group by i_item_id), ws as "
            f"(select i_item_id, sum(ws_ext_sales_price) total_sales from web_sales, date_dim, item where "
            f"ws_item_sk = i_item_sk and ws_sold_date_sk = d_date_sk and d_year = {year} group by i_item_id) "
            f"select i_item_id, sum(total_sales) total_sales from (select * from ss union all select * from cs "
            f"union all select * from ws) tmp1 group by i_item_id order by total_sales limit 100", 900.0, 420.0)


ZERO_COST = [
    ("SHOW", "show tables"), ("SHOW", "show schemas from tpch"), ("DESCRIBE", "describe lineitem"),
    ("EXPLAIN", "explain select count(*) from lineitem"), ("SET_SESSION", "set session query_max_run_time = '1h'"),
    ("USE", "use tpch.sf1"), ("SELECT", "select 1"), ("SELECT", "select current_timestamp"),
    ("SELECT", "select table_name from information_schema.tables where table_schema = 'sf1'"),
]
TPCH_TEMPLATES = ["tpch_q1", "tpch_q3", "tpch_q9", "tpch_q18", "tpch_point", "tpch_ctas", "tpch_insert"]
TPCDS_TEMPLATES = ["tpcds_brand", "tpcds_window", "tpcds_sales"]


def generate_log(days: int = 44, per_day: int = 40, seed: int = 7, zero_cost_share: float = 0.12,
                 validation_token: str | None = None, train_days: int = 30, start: date = START) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(log, truth): `days` x `per_day` runs. With `validation_token`, queries on the days after the
    first `train_days` carry it as a column alias (for the vocabulary-leakage test)."""
    rng = np.random.default_rng(seed)
    user_sources = {u: rng.choice(SOURCES, size=2, replace=False).tolist() for u in USERS}
    log, truth = [], []
    schemas, weights = list(SCHEMA_WEIGHTS), np.array(list(SCHEMA_WEIGHTS.values()))
    for d in range(days):
        day = start + timedelta(days=d)
        for i in range(per_day):
            user = USERS[int(rng.integers(len(USERS)))]
            source = user_sources[user][int(rng.random() < 0.3)]
            schema = str(rng.choice(schemas, p=weights / weights.sum()))
            sf = SCHEMAS[schema]
            if rng.random() < zero_cost_share:
                query_type, sql = ZERO_COST[int(rng.integers(len(ZERO_COST)))]
                template, cpu_sf1, mem_sf1 = "zero_cost_" + query_type.lower(), 4.0 / max(sf, 0.1), 1.0 / max(sf, 0.1)
            else:
                template = str(rng.choice(TPCH_TEMPLATES if schema.startswith("tpch") else TPCDS_TEMPLATES))
                sql, cpu_sf1, mem_sf1 = (_tpch if template.startswith("tpch") else _tpcds)(rng, template)
                query_type = ("CREATE_TABLE_AS_SELECT" if template == "tpch_ctas" else "INSERT" if template == "tpch_insert"
                              else "SELECT")
                if validation_token and d >= train_days:
                    sql = sql.replace("select ", f"select 1 as {validation_token}, ", 1)
            cpu = cpu_sf1 * sf * rng.lognormal(0.0, 0.35)
            memory = mem_sf1 * sf * 2**20 * rng.lognormal(0.0, 0.3)
            error = None
            if memory > 2 * THRESHOLDS.peak_memory_bytes and rng.random() < 0.5:
                error, cpu = "EXCEEDED_MEMORY_LIMIT", cpu * 0.3
            elif rng.random() < 0.02:
                error, cpu = "USER_ERROR", cpu * 0.1
            query_id = f"{day:%Y%m%d}_{i:05d}_{int(rng.integers(1 << 30)):08x}"
            created = datetime.combine(day, datetime.min.time()) + timedelta(seconds=int(rng.integers(0, 86_400)))
            log.append({
                "query_id": query_id, "user": user, "source": source, "catalog": "hive", "schema": schema,
                "query_type": query_type, "query": sql, "create_time": created, "cpu_time_ms": int(cpu),
                "wall_time_ms": int(cpu / 1.5), "peak_memory_bytes": int(memory), "error_type": error,
                "curated": bool(rng.random() < 0.9),
            })
            truth.append({"query_id": query_id, "template": template, "scale_factor": sf, "measured_run_id": f"run_{d}_{i}"})
    schema = {"query_id": pl.String, "user": pl.String, "source": pl.String, "catalog": pl.String, "schema": pl.String,
              "query_type": pl.String, "query": pl.String, "create_time": pl.Datetime("us"), "cpu_time_ms": pl.Int64,
              "wall_time_ms": pl.Int64, "peak_memory_bytes": pl.Int64, "error_type": pl.String, "curated": pl.Boolean}
    return pl.DataFrame(log, schema=schema), pl.DataFrame(truth)


def deliver(layout: DataLayout, log: pl.DataFrame, truth: pl.DataFrame) -> list[str]:
    """One delivery per day (Parquet, `_SUCCESS` last) and its truth file; returns the day labels."""
    days = []
    for (day,), part in log.with_columns(pl.col("create_time").dt.date().alias("_day")).group_by("_day", maintain_order=True):
        label = day.isoformat()
        with write_once_dir(layout.landing(JOB, label), last=SUCCESS_MARKER) as tmp:
            part.drop("_day").write_parquet(tmp / "part-00000.parquet")
            (tmp / SUCCESS_MARKER).write_text(f"rows={len(part)}\n")
        with write_once_dir(layout.truth(JOB, label), last="truth.parquet") as tmp:
            truth.filter(pl.col("query_id").is_in(part["query_id"].implode())).write_parquet(tmp / "truth.parquet")
        days.append(label)
    return days


@dataclass
class World:
    """Everything the pipeline builds from one small log, in the order the assets will."""

    config: ModelConfig
    labelled: pl.DataFrame  # filtered, labelled, with split
    figures: dict
    featurizer: Featurizer
    states: dict
    sample: pl.DataFrame
    model: TrainedModel
    threshold: dict
    cold_threshold: dict
    X_test: np.ndarray
    test: pl.DataFrame
    onnx: bytes
    registry: ModelRegistry
    ref: ModelRef
    root: Path


def small_config(**overrides) -> ModelConfig:
    """The seed's settings with a short boosting budget and the local thresholds of this world."""
    return ModelConfig(**{"thresholds": THRESHOLDS, "max_rounds": 120, "early_stopping_rounds": 15, "nthread": 1, **overrides})


@lru_cache(maxsize=1)
def world() -> World:
    """Label -> split -> sample -> featurize -> train -> threshold -> ONNX -> register, once per test session."""
    root = Path(tempfile.mkdtemp(prefix="heavy_queries_world_"))
    config = small_config()
    log, _ = generate_log(per_day=30)
    log.write_parquet(root / "log.parquet")
    kept, set_aside = label_log([root / "log.parquet"], config)
    labelled, split_figures = assign_splits(kept)
    zero_cost = zero_cost_gate(labelled, config)
    routed = zero_cost.metadata["routed"]  # only these skip the model; every other row is the model's to score
    model_rows = labelled.filter(~pl.col("zero_cost_category").is_in(routed).fill_null(False))
    sample, sample_figures = boundary_sample(model_rows.filter(pl.col("split") == "train"), config.thresholds,
                                             config.sample_ratio, config.max_boost, config.min_multiplier, config.seed)
    states = states_by_day(labelled, labelled["day"].unique().to_list())
    featurizer = fit_featurizer(labelled, catalog_stats(), config.tfidf_terms, config.tfidf_min_df,
                                zero_cost.metadata["routed"])
    X_sample = featurizer.featurize_frame(sample, states)
    model = train_model(X_sample, sample["heavy"].to_numpy(), config, featurizer.feature_names)
    validation = model_rows.filter(pl.col("split") == "validation")
    threshold = choose_threshold(validation["heavy"].to_numpy(), model.predict(featurizer.featurize_frame(validation, states)),
                                 config.cost_fn, config.cost_fp)
    columns = [featurizer.feature_names.index(name) for name in FINGERPRINT_FEATURES]
    cold_threshold = cold_start_threshold(
        X_sample, sample["heavy"].to_numpy(), np.array([featurizer.tables_read(q) for q in sample["query"]]),
        featurizer.featurize_frame(sample, states, unseen_fingerprints=True)[:, columns], columns,
        1.0 / sample["keep_probability"].to_numpy(), model, threshold["threshold"], config)
    test = model_rows.filter(pl.col("split") == "test")
    X_test = featurizer.featurize_frame(test, states)
    onnx = export_onnx(model, X_test.shape[1])
    train_rows = model_rows.filter(pl.col("split") == "train")
    X_train = featurizer.featurize_frame(train_rows, states)
    reference = training_drift_reference(featurizer, X_train, model.predict(X_train))
    featurizer.history = build_state(labelled, labelled["day"].max() + timedelta(days=1))
    registry = ModelRegistry(root / "models")
    ref = registry.register(JOB, MODEL_NAME, labelled["day"].max().isoformat(),
                            model_files(model, featurizer, onnx, threshold, reference, {"cold_threshold": cold_threshold}),
                            {"threshold": threshold["threshold"], "cold_threshold": cold_threshold["threshold"]})
    figures = {"labels": label_figures(kept, set_aside), "splits": split_figures, "sampling": sample_figures,
               "zero_cost": zero_cost.metadata}
    return World(config, labelled, figures, featurizer, states, sample, model, threshold, cold_threshold, X_test, test, onnx,
                 registry, ref, root)
