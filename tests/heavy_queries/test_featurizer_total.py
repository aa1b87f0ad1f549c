"""heavy_queries: the featurizer is total. Any text (generated, mutated TPC texts, bytes, not UTF-8,
unbalanced, 10,000 nested parentheses, 5 MB) gives a finite row in bounded time, or the documented
"unparsed" reason and a heavy routing; the reader itself never raises (no text is "reader_error")."""

import random
import time
from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platform_assets.heavy_queries.logic.featurizer import (
    BASE_FEATURES,
    MAX_TEXT_CHARS,
    Featurizer,
    base_features,
    fit_featurizer,
    zero_cost_category,
)
from platform_assets.heavy_queries.logic.history import build_state
from platform_assets.heavy_queries.logic.labels import label_log
from platform_assets.heavy_queries.logic.tpc import generate_queries
from tests.heavy_queries.helpers import catalog_stats, generate_log, small_config

MUTATIONS_PER_EXAMPLE = 200
EXAMPLES = 500  # x MUTATIONS_PER_EXAMPLE, plus the generated texts: 100,500 texts
SECONDS_PER_TEXT = 2.0  # a mutated TPC text takes ~1 ms; the bound leaves room for a busy 2-core machine
PIECES = ["(", ")", "select", "in", "from", "'", ",", ";", "over", "case", "end", "join", "with", "as", "--", "/*", "*/",
          '"', "`", "::", "x", "1", "between", "and", "group", "by", "order", "union", "exists", "cast", "on", "using",
          ".", "*", "distinct", "limit", "where", "\n", " ", "interval", "table", "into", "partition", "rows", "=", "<",
          "\x00", "\udcff", "\ufffd", "show", "describe", "explain", "values", "e", "1e", "$", "\\"]
ISSUE_TEXT = "select a from t where k in (x select b from u)"


@pytest.fixture(scope="module")
def corpus_texts():
    """The TPC-DS and TPC-H texts the measured corpus is made of (one parameter seed)."""
    return [q.sql for q in generate_queries("tpcds", tuple(range(1, 100)), 1, (11,))] + [
        q.sql for q in generate_queries("tpch", tuple(range(1, 23)), 1, (11,))]


@pytest.fixture(scope="module")
def featurizer(corpus_texts):
    log, _ = generate_log(days=3, per_day=20)
    fitted = fit_featurizer(pl.DataFrame({"query": corpus_texts}), catalog_stats(), terms=200)
    fitted.history = build_state(log.with_columns(pl.lit(False).alias("heavy"), pl.col("create_time").dt.date().alias("day")),
                                 date(2026, 1, 4))
    return fitted


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 6)):
        i, j = sorted(rng.randrange(len(text) + 1) for _ in range(2))
        op = rng.random()
        if op < 0.3:
            text = text[:i] + text[min(j, i + rng.randint(0, 40)):]  # a deletion
        elif op < 0.7:
            text = text[:i] + " " + rng.choice(PIECES) + " " + text[i:]  # a token
        elif op < 0.85:
            text = text[:i] + rng.choice(PIECES) + text[i:]  # glued to its neighbours
        elif j > i:
            text = text[i:j]  # a slice
    return text


def _read_in_bounded_time(featurizer: Featurizer, text) -> None:
    started = time.perf_counter()
    row = featurizer.featurize_one(text, "user_01", "superset", "tpch_sf1")
    reason = featurizer.unparsed(text)
    zero_cost_category(text if isinstance(text, str) else "")
    elapsed = time.perf_counter() - started
    assert row.shape == (1, len(featurizer.feature_names)) and np.isfinite(row).all(), repr(text)[:200]
    assert reason is None or (reason == "too_long" and len(text) > MAX_TEXT_CHARS), (reason, repr(text)[:200])
    assert elapsed < SECONDS_PER_TEXT, (elapsed, repr(text)[:200])


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(generated=st.one_of(st.text(max_size=400), st.binary(max_size=400),
                           st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=80).map("".join)),
       seed=st.integers(0, 2**32 - 1))
def test_any_text_gives_a_row_in_bounded_time(featurizer, corpus_texts, generated, seed):
    """Per example: one generated text (any unicode, bytes, SQL pieces) and a fast loop of mutations of
    corpus texts: > 100,000 texts in all, none raising, none unread except for length."""
    _read_in_bounded_time(featurizer, generated)
    rng = random.Random(seed)
    for _ in range(MUTATIONS_PER_EXAMPLE):
        _read_in_bounded_time(featurizer, _mutate(rng, rng.choice(corpus_texts)))
    featurizer.clear_cache()


def test_the_texts_of_the_issue_give_features_or_the_unparsed_flag(featurizer):
    deep = "select " + "(" * 10_000 + "1" + ")" * 10_000 + " from lineitem"
    cases = {ISSUE_TEXT: None, "select \xff from t": None, "select \udcff from t": None, b"select \xff\xfe from t": None,
             deep: None, "(" * 10_000: None, "select /* " * 50_000: None,
             "select a from t where a in (" + ", ".join(["1234567"] * 700_000) + ")": "too_long"}
    for text, reason in cases.items():
        started = time.perf_counter()
        row = featurizer.featurize_one(text, "user_01", "superset", "tpch_sf1")
        assert time.perf_counter() - started < 5 * SECONDS_PER_TEXT, repr(text)[:80]
        assert featurizer.unparsed(text) == reason and np.isfinite(row).all()
    features = dict(zip(BASE_FEATURES, base_features(ISSUE_TEXT, None, "superset", "tpch_sf1", catalog_stats())))
    assert features["parse_failed"] == 1 and features["n_tables"] == 2  # the regex fallback: t and u
    assert dict(zip(BASE_FEATURES, base_features(deep, None, None, None, {})))["max_paren_depth"] == 10_000


def test_a_binary_query_column_and_bad_texts_do_not_stop_a_day(tmp_path, featurizer):
    """A day whose query column is binary, with the issue's text and bytes that are not UTF-8: labelled,
    featurized, and the only text not read is the one over MAX_TEXT_CHARS."""
    log, _ = generate_log(days=1, per_day=12)
    texts = [ISSUE_TEXT.encode(), b"select \xff from lineitem", b"select " + b"(" * 10_000,
             b"select 1 from t where a in (" + b"1, " * (MAX_TEXT_CHARS // 3) + b"1)"]
    binary = log.with_columns(pl.Series("query", texts + [q.encode() for q in log["query"][len(texts):]], dtype=pl.Binary),
                              pl.lit(True).alias("curated"))
    binary.write_parquet(tmp_path / "part-00000.parquet")
    kept, _ = label_log([tmp_path / "part-00000.parquet"], small_config())
    assert kept.height == 12 and kept["query"].dtype == pl.String
    X = featurizer.featurize_frame(kept, {d: featurizer.history for d in kept["day"].unique().to_list()})
    assert X.shape == (12, len(featurizer.feature_names)) and np.isfinite(X).all()
    reasons = featurizer.unparsed_reasons(kept["query"])
    assert reasons.to_list().count("too_long") == 1 and reasons.null_count() == 11
