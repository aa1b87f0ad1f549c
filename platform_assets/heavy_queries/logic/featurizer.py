"""THE featurizer of heavy_queries: one object, used by training and by serving, stored as JSON.

A query becomes 78 base features read from its text, 17 historical features (history.py) and a
TF-IDF vector over its SQL tokens. The structural counts are those of sqlglot's parse tree (Trino
dialect), read in one pass over the tokens instead of parsing: the longest TPC-DS query takes ~1.3 ms
instead of ~21 ms, and the counts agree with sqlglot's on every text of the measured corpus, the
99 TPC-DS and 22 TPC-H templates (tests/heavy_queries/test_features.py checks it). Regex counts are
the fallback when the text does not tokenize into balanced statements. The TF-IDF vocabulary and
idf are fitted on training days only (`fit_featurizer` drops every other row itself) and applied by
this module's own transform, not scikit-learn's, so one query and a batch go through the very same
arithmetic (computed once per distinct text, `Featurizer._text_row`); vectors are dense
float32 (sparse TF-IDF fed to XGBoost reads its zeros as missing, ONNX as 0: ML_TOOLING_NOTES §2).

Reading is total: any text gives a row. A text that does not tokenize into balanced statements
gets regex counts (`parse_failed`); bytes and text that is not valid UTF-8 are read with U+FFFD in
place of what cannot be decoded (`as_text`). Two kinds of text are *unparsed* (`UNPARSED`): longer
than MAX_TEXT_CHARS (Trino's default `query.max-length`; never tokenized, so time stays bounded) or
one the reader raised on (a bug: the day goes on). An unparsed query gets only its length
features and is routed heavy without the model (fail-safe for recall), counted in query_features'
and query_replay's metadata; `Featurizer.unparsed` says which.

Zero-cost categories (SHOW, DESCRIBE, EXPLAIN without ANALYZE, SET, USE, SELECT without FROM,
information_schema / system lookups) are recognized here too, so the rule that routes a query
without the model is the same in training, validation and serving.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.history import HISTORY_FEATURES, HistoryState, fingerprint
from platform_assets.heavy_queries.logic.sqlshape import TREE_FEATURES, tree_features
from platform_core.gates import GateResult

TOKEN_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(TOKEN_PATTERN)
SOURCES = ("superset", "airflow", "jupyter", "dbt", "trino-cli")
QUERY_TYPES = ("SELECT", "INSERT", "CREATE_TABLE_AS_SELECT", "EXPLAIN", "SHOW", "DESCRIBE")
LARGE_TABLE_ROWS = 1_000_000
FORMAT_VERSION = 1
BASE_CACHE_SIZE = 50_000
MAX_TEXT_CHARS = 1_000_000
UNPARSED = ("too_long", "reader_error")

TEXT_FEATURES = [
    "text_length", "log_text_length", "n_lines", "n_tokens", "n_string_literals", "n_numeric_literals", "n_comments",
    "n_distinct_tokens", "n_parentheses", "max_paren_depth", "n_star", "n_semicolons", "n_keywords_join", "parse_failed",
    "is_command",
]
CATALOG_FEATURES = ["log_total_rows", "log_max_rows", "log_second_rows", "log_top2_rows_product", "n_large_tables",
                    "n_unknown_tables", "scale_factor_hint"]
CATEGORY_FEATURES = [f"type_{t.lower()}" for t in QUERY_TYPES] + ["type_other"] + \
                    [f"source_{s.replace('-', '_')}" for s in SOURCES] + ["source_other"]
BASE_FEATURES = TEXT_FEATURES + TREE_FEATURES + CATALOG_FEATURES + CATEGORY_FEATURES

_COMMENT = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)", re.S)  # an open comment runs to the end (linear time)
_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![A-Za-z_0-9.])\d+(?:\.\d+)?(?![A-Za-z_])")
_FIRST_WORDS = re.compile(r"^[\s(]*([A-Za-z_]+)(?:\s+([A-Za-z_]+))?")
_PARSED_STATEMENTS = {"select", "with", "insert", "create", "values", "table"}
_FROM_TARGET = re.compile(r"\b(?:from|join)\s+([A-Za-z_][\w.\"]*)", re.I)
_SCALE = re.compile(r"sf(\d+(?:_\d+)?)")
_PARENS = re.compile(r"[()]")
_JOIN_WORD = re.compile(r"\bjoin\b", re.I)
_REGEX_COUNTS = {
    "n_selects": r"\bselect\b", "n_joins": r"\bjoin\b", "n_unions": r"\bunion\b", "n_group_by_columns": r"\bgroup\s+by\b",
    "n_order_by_columns": r"\border\s+by\b", "n_distinct": r"\bdistinct\b", "n_like": r"\blike\b",
    "n_in_lists": r"\bin\s*\((?!\s*select)", "n_in_subqueries": r"\bin\s*\(\s*select", "n_case": r"\bcase\b",
    "n_window_functions": r"\bover\s*\(", "n_ctes": r"\bwith\b", "n_having": r"\bhaving\b", "n_where": r"\bwhere\b",
    "n_aggregates": r"\b(?:count|sum|avg|min|max|stddev\w*|variance)\s*\(", "n_exists": r"\bexists\s*\(",
    "n_or": r"\bor\b", "n_and": r"\band\b",
}
_REGEX_COMPILED = {name: re.compile(pattern, re.I) for name, pattern in _REGEX_COUNTS.items()}
_SURROGATE = re.compile("[\ud800-\udfff]")


def as_text(sql) -> str:
    """Any query value as valid text: None -> "", bytes decoded as UTF-8, and what is not UTF-8 (bad
    bytes, lone surrogates from a command line) as U+FFFD, so every later step can encode it."""
    if sql is None:
        return ""
    if isinstance(sql, (bytes, bytearray, memoryview)):
        return bytes(sql).decode("utf-8", "replace")
    sql = str(sql)
    return sql if sql.isascii() or not _SURROGATE.search(sql) else _SURROGATE.sub("\ufffd", sql)


def _strip(sql: str) -> str:
    return _COMMENT.sub(" ", sql) if "--" in sql or "/*" in sql else sql


def infer_query_type(sql: str) -> str:
    """The Trino query type of a statement from its first words (serving has only the text)."""
    m = _FIRST_WORDS.match(_strip(sql))
    first, second = (m.group(1).upper(), (m.group(2) or "").upper()) if m else ("", "")
    if first in ("SELECT", "WITH", "VALUES", "TABLE"):
        return "SELECT"
    if first == "CREATE" and re.search(r"\bas\s*\(?\s*(select|with)\b", sql, re.I):
        return "CREATE_TABLE_AS_SELECT"
    if first in ("DESCRIBE", "DESC"):
        return "DESCRIBE"
    if first == "SET" and second == "SESSION":
        return "SET_SESSION"
    return first or "UNKNOWN"


def zero_cost_category(sql: str, query_type: str | None = None) -> str | None:
    """The rule-based category of a query that costs nothing to run, or None (the model decides)."""
    text = _STRING.sub("''", _strip(sql)).strip()
    m = _FIRST_WORDS.match(text)
    first = m.group(1).lower() if m else ""
    second = (m.group(2) or "").lower() if m else ""
    if first == "show":
        return "show"
    if first in ("describe", "desc"):
        return "describe"
    if first == "explain":
        return None if second == "analyze" else "explain"  # EXPLAIN ANALYZE runs the query
    if first in ("set", "reset"):
        return "set"
    if first == "use":
        return "use"
    if first != "select" or (query_type and query_type.upper() != "SELECT"):
        return None
    targets = _FROM_TARGET.findall(text)
    if not re.search(r"\bfrom\b", text, re.I):
        return "constant_select"
    parts = [t.replace('"', "").lower().split(".") for t in targets]
    every_source_named = len(targets) == len(re.findall(r"\b(?:from|join)\b", text, re.I))
    if parts and every_source_named and all("information_schema" in p[:-1] or p[0] == "system" for p in parts):
        return "metadata_lookup"
    return None


def _text_features(sql: str) -> dict[str, float]:
    depth = max_depth = 0
    for ch in _PARENS.findall(_STRING.sub("''", sql)):
        if ch == "(":
            depth += 1
            max_depth = max(max_depth, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
    stripped = _strip(sql)
    no_strings = _STRING.sub("''", stripped)
    tokens = _TOKEN.findall(no_strings.lower())
    return {
        "text_length": float(len(sql)), "log_text_length": math.log1p(len(sql)), "n_lines": float(sql.count("\n") + 1),
        "n_tokens": float(len(tokens)), "n_distinct_tokens": float(len(set(tokens))),
        "n_string_literals": float(len(_STRING.findall(stripped))),
        "n_numeric_literals": float(len(_NUMBER.findall(no_strings))), "n_comments": float(len(_COMMENT.findall(sql))),
        "n_parentheses": float(no_strings.count("(")), "max_paren_depth": float(max_depth),
        "n_star": float(no_strings.count("*")), "n_semicolons": float(no_strings.strip().rstrip(";").count(";")),
        "n_keywords_join": float(len(_JOIN_WORD.findall(no_strings))),
    }


def _regextree_features(sql: str) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """The fallback: counts of keywords in place of the parse tree, tables after FROM / JOIN."""
    text = _STRING.sub("''", _strip(sql))
    out = {name: 0.0 for name in TREE_FEATURES}
    out.update({name: float(len(pattern.findall(text))) for name, pattern in _REGEX_COMPILED.items()})
    tables = [tuple((t.replace('"', "").lower().split(".") + [""])[:2][::-1]) if "." in t else ("", t.replace('"', "").lower())
              for t in _FROM_TARGET.findall(text)]
    tables = [(db, name) for db, name in tables if name not in ("select", "lateral", "unnest")]
    out["n_statements"] = float(max(1, text.strip().rstrip(";").count(";") + 1))
    out["n_tables"] = float(len(tables))
    out["n_distinct_tables"] = float(len(set(tables)))
    out["has_limit"] = float(bool(re.search(r"\blimit\s+\d+", text, re.I)))
    return out, tables


def _scale_factor(schema: str) -> float | None:
    m = _SCALE.search(schema or "")
    return float(m.group(1).replace("_", ".")) if m else None


def _catalog_features(tables: list[tuple[str, str]], schema: str, catalog_stats: dict[str, dict[str, int]]) -> dict[str, float]:
    sizes, unknown, scales = [], 0, []
    for db, name in set(tables):
        home = db or (schema or "")
        rows = catalog_stats.get(home, {}).get(name)
        if rows is None:
            unknown += 1
        else:
            sizes.append(float(rows))
        if (sf := _scale_factor(home)) is not None:
            scales.append(sf)
    if (sf := _scale_factor(schema)) is not None:
        scales.append(sf)
    top = sorted(sizes, reverse=True) + [0.0, 0.0]
    return {
        "log_total_rows": math.log1p(sum(sizes)), "log_max_rows": math.log1p(top[0]), "log_second_rows": math.log1p(top[1]),
        "log_top2_rows_product": math.log1p(top[0]) + math.log1p(top[1]),
        "n_large_tables": float(sum(s >= LARGE_TABLE_ROWS for s in sizes)), "n_unknown_tables": float(unknown),
        "scale_factor_hint": max(scales) if scales else -1.0,
    }


Parsed = tuple[dict[str, float], list[tuple[str, str]], str | None]


def _parse(sql: str) -> Parsed:
    """The text and tree features of one text, the tables it reads and why it is unparsed (None when
    read): all that depends on the text alone. Never raises."""
    if len(sql) > MAX_TEXT_CHARS:
        return _unparsed(sql, "too_long")
    try:
        return (*_read(sql), None)
    except Exception:  # noqa: BLE001 - one text the reader cannot take must not stop a day: routed heavy, counted
        return _unparsed(sql, "reader_error")


def _unparsed(sql: str, reason: str) -> Parsed:
    values = dict.fromkeys(TEXT_FEATURES + TREE_FEATURES, 0.0)
    values.update(text_length=float(len(sql)), log_text_length=math.log1p(len(sql)), n_lines=float(sql.count("\n") + 1),
                  parse_failed=1.0)
    return values, [], reason


def _read(sql: str) -> tuple[dict[str, float], list[tuple[str, str]]]:
    text = _text_features(sql)
    m = _FIRST_WORDS.match(_strip(sql))
    is_command = (m.group(1).lower() if m else "") not in _PARSED_STATEMENTS
    parsed = None if is_command else tree_features(sql)
    tree, tables = parsed if parsed is not None else _regextree_features(sql)
    text["parse_failed"] = float(parsed is None and not is_command)
    text["is_command"] = float(is_command)
    return {**text, **tree}, tables


def _assemble(parsed: Parsed, sql: str, query_type: str | None, source: str | None,
              schema: str | None, catalog_stats: dict[str, dict[str, int]]) -> list[float]:
    values, tables, _ = parsed
    query_type = (query_type or infer_query_type(sql)).upper()
    catalog = _catalog_features(tables, (schema or "").lower(), catalog_stats)
    source = (source or "").lower()
    categories = {f"type_{t.lower()}": float(query_type == t) for t in QUERY_TYPES}
    categories["type_other"] = float(query_type not in QUERY_TYPES)
    categories.update({f"source_{s.replace('-', '_')}": float(source == s) for s in SOURCES})
    categories["source_other"] = float(source not in SOURCES)
    values = {**values, **catalog, **categories}
    return [values[name] for name in BASE_FEATURES]


def base_features(sql: str, query_type: str | None, source: str | None, schema: str | None,
                  catalog_stats: dict[str, dict[str, int]]) -> list[float]:
    """The 78 BASE_FEATURES of one query, in order."""
    sql = as_text(sql)
    return _assemble(_parse(sql), sql, query_type, source, schema, catalog_stats)


@dataclass
class _TextRow:
    """What a query's text (with its type, source and schema) gives, computed once per distinct text:
    the base features, the TF-IDF columns and values, the fingerprint (text and schema) history is keyed by."""

    base: np.ndarray  # float32, len(BASE_FEATURES)
    tfidf_columns: np.ndarray  # int64 positions in the vocabulary
    tfidf_values: np.ndarray  # float32
    fingerprint: str


@dataclass
class Featurizer:
    """Everything that turns a query into model input; its state is JSON (`to_json`).

    One query and a batch share one code path per distinct text (`_text_row`, remembered up to
    BASE_CACHE_SIZE texts): a batch only scatters those rows, so both give the same bits."""

    catalog_stats: dict[str, dict[str, int]]
    vocabulary: list[str]
    idf: list[float]
    history: HistoryState | None = None
    zero_cost_categories: list[str] = field(default_factory=list)
    _index: dict[str, int] = field(default=None, init=False, repr=False, compare=False)
    _cache: dict[tuple, _TextRow] = field(default_factory=dict, init=False, repr=False, compare=False)
    _texts: dict[str, tuple] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def feature_names(self) -> list[str]:
        return BASE_FEATURES + HISTORY_FEATURES + [f"tfidf_{term}" for term in self.vocabulary]

    @property
    def n_numeric(self) -> int:
        return len(BASE_FEATURES) + len(HISTORY_FEATURES)

    def tfidf(self, sql: str) -> tuple[list[int], np.ndarray]:
        """Column positions and l2-normalized tf * idf values of one query's tokens."""
        if self._index is None:
            self._index = {term: i for i, term in enumerate(self.vocabulary)}
        counts = Counter(i for token in _TOKEN.findall(as_text(sql).lower()) if (i := self._index.get(token)) is not None)
        columns = sorted(counts)
        values = np.array([counts[i] * self.idf[i] for i in columns], dtype=np.float64)
        norm = math.sqrt(float(np.dot(values, values))) if len(values) else 0.0
        return columns, values / norm if norm > 0 else values

    def _text_row(self, sql: str | None, query_type: str | None, source: str | None, schema: str | None) -> _TextRow:
        """Reading the text is most of a query's featurization, and dashboards and schedulers send the same
        text again and again: remembered per text, and per (text, type, source, schema) for the base row."""
        key = (sql, query_type, source, schema)
        row = self._cache.get(key)
        if row is None:
            if len(self._cache) >= BASE_CACHE_SIZE:
                self.clear_cache()
            sql = as_text(sql)
            parsed, columns, values = self._text(sql)
            base = np.asarray(_assemble(parsed, sql, query_type, source, schema, self.catalog_stats), dtype=np.float32)
            row = self._cache[key] = _TextRow(base, columns, values, fingerprint(sql, schema))
        return row

    def _text(self, sql: str) -> tuple:
        """(parsed, TF-IDF columns, TF-IDF values) of one text (as_text already applied), remembered."""
        text = self._texts.get(sql)
        if text is None:
            if len(self._texts) >= BASE_CACHE_SIZE:
                self.clear_cache()
            columns, values = self.tfidf(sql)
            text = self._texts[sql] = (_parse(sql), np.asarray(columns, dtype=np.int64), values.astype(np.float32))
        return text

    def tables_read(self, sql) -> str:
        """The distinct table names a query reads, sorted and joined by "|": its shape without the words,
        which groups a template's instances (the cold-start threshold's folds)."""
        return "|".join(sorted({name for _, name in self._text(as_text(sql))[0][1]}))

    def unparsed(self, sql) -> str | None:
        """Why a query's text is not read (one of UNPARSED), or None: such a query is routed heavy without the model."""
        return self._text(as_text(sql))[0][2]

    def unparsed_reasons(self, queries: pl.Series) -> pl.Series:
        """`unparsed` of every row (each distinct text read once)."""
        reasons = {sql: self.unparsed(sql) for sql in queries.unique().to_list()}
        return pl.Series("unparsed", [reasons[sql] for sql in queries.to_list()], dtype=pl.String)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._texts.clear()

    def route(self, sql: str, query_type: str | None = None) -> str | None:
        """The enabled zero-cost category of a query (routed light without the model), or None."""
        if not self.zero_cost_categories:
            return None
        category = zero_cost_category(sql, query_type)
        return category if category in self.zero_cost_categories else None

    def featurize_one(self, sql: str, user: str | None = None, source: str | None = None, schema: str | None = None,
                      query_type: str | None = None, day: date | None = None) -> np.ndarray:
        """One query as a (1, n_features) float32 row: the inference path, using the stored history state."""
        if self.history is None:
            raise ValueError("this featurizer has no history state: build one with history.build_state first")
        day = day or date.fromisoformat(self.history.as_of)
        text = self._text_row(sql, query_type, source, schema)
        out = np.zeros((1, len(BASE_FEATURES) + len(HISTORY_FEATURES) + len(self.vocabulary)), dtype=np.float32)
        n_base, n_numeric = len(BASE_FEATURES), self.n_numeric
        out[0, :n_base] = text.base
        out[0, n_base:n_numeric] = self.history.features(str(user), text.fingerprint, (source or "").lower(), day)
        out[0, n_numeric + text.tfidf_columns] = text.tfidf_values
        return out

    def featurize_frame(self, frame: pl.DataFrame, states: dict[date, HistoryState],
                        unseen_fingerprints: bool = False) -> np.ndarray:
        """Rows of a labelled frame (query, user, source, schema, query_type, day) as a float32 matrix,
        each with the history state of its own day (`states`, from history.states_by_day): the training path.
        Text rows are computed once per distinct (text, type, source, schema) and history once per distinct
        (day, user, fingerprint, source), then scattered to the rows. `unseen_fingerprints`: every row as if
        its fingerprint had no history (cold start), what the cold-start threshold is chosen on."""
        n_base, n_numeric = len(BASE_FEATURES), self.n_numeric
        out = np.zeros((len(frame), n_numeric + len(self.vocabulary)), dtype=np.float32)
        if frame.is_empty():
            return out
        rows = frame.select("query", "query_type", "source", "schema", pl.col("user").cast(pl.String), "day")
        text_id, distinct = _distinct_ids(rows, ["query", "query_type", "source", "schema"])
        texts = [self._text_row(*key) for key in distinct.iter_rows()]
        out[:, :n_base] = np.stack([t.base for t in texts])[text_id]
        tfidf = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float32)
        for i, t in enumerate(texts):
            tfidf[i, t.tfidf_columns] = t.tfidf_values
        out[:, n_numeric:] = tfidf[text_id]
        keyed = rows.select("day", "user", "source").with_columns(
            pl.Series("fingerprint", ["" if unseen_fingerprints else t.fingerprint for t in texts], dtype=pl.String)
            .gather(text_id))
        history_id, keys = _distinct_ids(keyed, ["day", "user", "source", "fingerprint"])
        history = np.array([states[day].features(str(user), fp, (source or "").lower(), day)
                            for day, user, source, fp in keys.iter_rows()], dtype=np.float32)
        out[:, n_base:n_numeric] = history[history_id]
        return out

    def to_json(self) -> str:
        return json.dumps({
            "format_version": FORMAT_VERSION, "base_features": BASE_FEATURES, "history_features": HISTORY_FEATURES,
            "token_pattern": TOKEN_PATTERN, "catalog_stats": self.catalog_stats, "vocabulary": self.vocabulary,
            "idf": self.idf, "history": self.history.to_dict() if self.history else None,
            "zero_cost_categories": self.zero_cost_categories,
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Featurizer":
        data = json.loads(text)
        if data["base_features"] != BASE_FEATURES or data["history_features"] != HISTORY_FEATURES \
                or data["token_pattern"] != TOKEN_PATTERN:
            raise ValueError("featurizer.json was written by a different featurizer (feature lists differ); retrain")
        history = HistoryState.from_dict(data["history"]) if data["history"] else None
        return cls(data["catalog_stats"], data["vocabulary"], data["idf"], history, data["zero_cost_categories"])


def _distinct_ids(frame: pl.DataFrame, keys: list[str]) -> tuple[np.ndarray, pl.DataFrame]:
    """(row -> position of its distinct key combination, the distinct combinations in first-seen order)."""
    distinct = frame.select(keys).unique(maintain_order=True)
    ids = frame.select(keys).join(distinct.with_row_index("_id"), on=keys, how="left", nulls_equal=True,
                                  maintain_order="left")["_id"].to_numpy()
    return ids, distinct


@dataclass
class DocumentCounts:
    """Queries containing each token, occurrences of each token and queries, added up a batch at a time
    (`add`, each distinct text of a batch read once): what the TF-IDF fit needs, in the vocabulary's size."""

    documents: Counter = field(default_factory=Counter)
    occurrences: Counter = field(default_factory=Counter)
    queries: int = 0

    def add(self, queries: pl.Series) -> "DocumentCounts":
        for sql, n in queries.fill_null("").value_counts().iter_rows():
            tokens = Counter(_TOKEN.findall(sql.lower()))
            self.occurrences.update({term: k * n for term, k in tokens.items()})
            self.documents.update(dict.fromkeys(tokens, n))
        self.queries += len(queries)
        return self


def fit_featurizer(frame: pl.DataFrame, catalog_stats: dict[str, dict[str, int]], terms: int = 750, min_df: int = 2,
                   zero_cost_categories: list[str] | None = None) -> Featurizer:
    """Fit the TF-IDF vocabulary and idf on the rows of `frame` whose split is "train" (every row if it
    has no `split` column): no validation or test text can enter the vocabulary."""
    train = frame.filter(pl.col("split") == "train") if "split" in frame.columns else frame
    return featurizer_from_counts(DocumentCounts().add(train["query"]), catalog_stats, terms, min_df, zero_cost_categories)


def featurizer_from_counts(counts: DocumentCounts, catalog_stats: dict[str, dict[str, int]], terms: int = 750,
                           min_df: int = 2, zero_cost_categories: list[str] | None = None) -> Featurizer:
    """As scikit-learn's TfidfVectorizer does, from the training queries' counts: the `terms` most frequent
    tokens found in at least `min_df` queries, idf = ln((1 + n) / (1 + df)) + 1."""
    documents, occurrences, n = counts.documents, counts.occurrences, counts.queries
    if n == 0:
        raise ValueError("no training rows to fit the TF-IDF vocabulary on")
    eligible = [term for term, df in documents.items() if df >= min(min_df, n)]
    vocabulary = sorted(sorted(eligible, key=lambda term: (-occurrences[term], term))[:terms])
    idf = [math.log((1 + n) / (1 + documents[term])) + 1.0 for term in vocabulary]
    return Featurizer(catalog_stats=catalog_stats, vocabulary=vocabulary, idf=idf,
                      zero_cost_categories=list(zero_cost_categories or []))


def parity_report(featurizer: Featurizer, frame: pl.DataFrame, states: dict[date, HistoryState], sample: int = 200,
                  seed: int = 7) -> dict:
    """Training featurization (batch, per-day states) against the inference path (one query at a time,
    featurizer and state round-tripped through JSON) on a sample: max abs difference per feature group."""
    rows = frame.sample(min(sample, len(frame)), seed=seed) if len(frame) > sample else frame
    batch = featurizer.featurize_frame(rows, states)
    single = np.zeros_like(batch)
    served = Featurizer.from_json(featurizer.to_json())
    for i, row in enumerate(rows.iter_rows(named=True)):
        served.history = HistoryState.from_dict(json.loads(json.dumps(states[row["day"]].to_dict())))
        single[i] = served.featurize_one(row["query"], row["user"], row["source"], row["schema"], row["query_type"], row["day"])
    diff = np.abs(batch.astype(np.float64) - single.astype(np.float64))
    n_base, n_numeric = len(BASE_FEATURES), featurizer.n_numeric
    groups = {"base": diff[:, :n_base], "history": diff[:, n_base:n_numeric], "tfidf": diff[:, n_numeric:]}
    worst = np.argwhere(diff > 0)
    return {
        "rows": len(rows), "features": batch.shape[1],
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "max_abs_diff_by_group": {name: float(d.max()) if d.size else 0.0 for name, d in groups.items()},
        "mismatched_cells": int(len(worst)),
        "first_mismatches": [{"row": int(r), "feature": featurizer.feature_names[c]} for r, c in worst[:10]],
        "exact": bool(len(worst) == 0),
    }


def vocabulary_gate(featurizer: Featurizer, training: pl.DataFrame | DocumentCounts, min_df: int = 1) -> GateResult:
    """Every vocabulary term occurs in at least `min_df` training-day queries (the train rows of a frame
    with a split column, or their counts): a term that does not was learned from days the model must not see."""
    if isinstance(training, pl.DataFrame):
        training = DocumentCounts().add(training.filter(pl.col("split") == "train")["query"])
    leaked = [term for term in featurizer.vocabulary if training.documents[term] < min_df]
    return GateResult("tfidf_training_days_only", not leaked, {
        "terms": len(featurizer.vocabulary), "training_queries": training.queries, "terms_not_in_training": leaked[:20],
        "terms_not_in_training_count": len(leaked)})


def parity_gate(report: dict) -> GateResult:
    """Feature parity as a gate: the training and inference paths agree exactly on the sample."""
    return GateResult("feature_parity", bool(report["exact"]), report)
