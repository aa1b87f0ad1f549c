"""The shape of a SQL text in one pass over its tokens: the counts a sqlglot parse tree gives
(statements, selects, tables, joins by kind, subqueries, CTEs, aggregates, windows, predicates,
IN-lists, set operations, ...) and the tables read, ~10x faster than parsing (BENCHMARKS.md,
heavy_queries). `tree_features` returns None when the text does not split into balanced
statements; the featurizer then falls back to regex counts."""

from __future__ import annotations

import math
import re

TREE_FEATURES = [
    "n_statements", "n_selects", "n_tables", "n_distinct_tables", "n_joins", "n_inner_joins", "n_left_joins",
    "n_outer_joins", "n_cross_joins", "n_join_conditions", "n_using_joins", "n_subqueries", "n_ctes", "n_exists",
    "n_aggregates", "n_count_distinct", "n_window_functions", "n_distinct", "n_group_by_columns", "n_order_by_columns",
    "n_having", "n_predicates", "n_equality_predicates", "n_range_predicates", "n_like", "n_in_lists",
    "max_in_list_size", "n_in_subqueries", "n_unions", "n_intersect_except", "n_case", "n_functions", "n_casts",
    "n_columns", "n_literals", "max_select_depth", "n_or", "n_and", "has_limit", "log_limit", "n_projections",
    "select_star", "n_where",
]

# The token pass (`tree_features`): one regex splits the text into SQL tokens, lower-cased.
_SQL_TOKEN = re.compile(r"""'(?:[^']|'')*'?|--[^\n]*|/\*(?:.|\n)*?(?:\*/|\Z)|"(?:[^"]|"")*"?|`[^`]*`?"""
                        r"""|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[A-Za-z_][A-Za-z0-9_$]*|<>|!=|<=|>=|\|\||::|=>|->|\S""")
_AGGREGATES = frozenset(
    "any_value approx_count_distinct approx_distinct approx_percentile approx_quantile arbitrary arg_max arg_min "
    "array_agg avg bitwise_and_agg bitwise_or_agg bitwise_xor_agg bool_and bool_or corr count count_if covar_pop "
    "covar_samp cume_dist dense_rank every first first_value group_concat grouping grouping_id kurtosis lag last "
    "last_value lead listagg logical_and logical_or max max_by median min min_by mode nth_value ntile percent_rank "
    "percentile_cont percentile_disc rank regr_intercept regr_slope skewness stddev stddev_pop stddev_samp "
    "string_agg sum var_pop var_samp variance".split())
_NO_PAREN_FUNCTIONS = frozenset("current_date current_time current_timestamp current_user current_role current_catalog "
                                "localtime localtimestamp".split())
_TYPED_LITERALS = frozenset("date time timestamp decimal".split())
# words that never start a column reference (sqlglot reads them as keywords, operators or units)
_KEYWORDS = frozenset(
    "select from where and or not in is null true false as on join left right full outer inner cross natural using "
    "case when then else end group by order having limit offset union intersect except all distinct between like "
    "ilike exists asc desc nulls first last over partition rows range unbounded preceding following current row "
    "interval with recursive insert into create table view temp temporary drop if values cast try_cast lateral "
    "escape rollup cube grouping sets fetch next only filter within set use describe desc show explain analyze "
    "replace".split()) | _NO_PAREN_FUNCTIONS
_CALLABLE_KEYWORDS = frozenset("grouping if year month day hour minute second quarter week replace left right first last".split())
_UNITS = frozenset("year month day hour minute second quarter week".split())
_STAR_BEFORE = frozenset(("(", ",", "select", "distinct", "all", "."))
_CLAUSE_ENDS = frozenset("where group having order limit offset fetch union intersect except window qualify".split())
_STATEMENTS = frozenset("select with insert create values table drop describe desc set use".split())
_EQUALITY = frozenset(("=", "<>", "!="))
_SET_OPS = frozenset(("union", "intersect", "except"))
_FRAME_UNITS = frozenset(("rows", "range", "groups"))
_FRAME_STARTS = frozenset(("between", "unbounded", "current"))


class _Frame:
    """One parenthesis level (or a statement): what opened it and where a query in it stands."""

    __slots__ = ("kind", "base", "select", "clause", "items", "join", "cte_depth", "set_op", "expect_table", "deep", "between")

    def __init__(self, kind, base):
        self.kind = kind            # "statement", "query" (a subquery), "cte", "exists", "in", "call", "cast",
        #                             "over", "names" (column names), "type" (a type's parameters), "other"
        self.base = base            # selects enclosing this level
        self.select = False         # a select of this level is open (its parentheses enclose children)
        self.clause = None          # "select", "from", "group", "order", "with", None
        self.items = None           # [count] of the clause's comma-separated items, when counted
        self.join = None            # [side_kind, has_on, has_using] of the join being read
        self.cte_depth = -1         # deepest select inside this level's CTEs, relative to it
        self.set_op = False         # a UNION / INTERSECT / EXCEPT joins the queries of this level
        self.expect_table = False   # the next word names a table
        self.deep = 0               # deepest select below, relative depth as sqlglot counts it
        self.between = 0            # BETWEENs whose AND is still to come


def _finish_join(f, c):
    """Count the join being read by its kind, now that whether it has ON / USING is known."""
    if f.join is not None:
        kind, on, using = f.join
        if kind in ("cross", "natural") or (not on and not using):
            c["n_cross_joins"] += 1
        elif kind == "left":
            c["n_left_joins"] += 1
        elif kind == "outer":
            c["n_outer_joins"] += 1
        else:
            c["n_inner_joins"] += 1
        c["n_join_conditions"] += on
        c["n_using_joins"] += using
        f.join = None


def _deepest(f):
    """The deepest select under `f`, its CTEs' selects one level below the query that owns them
    (a select owns them, a set operation does not: sqlglot's tree)."""
    if f.cte_depth < 0:
        return f.deep
    return max(f.deep, f.cte_depth + (0 if f.set_op else 1))


def tree_features(sql: str) -> tuple[dict[str, float], list[tuple[str, str]]] | None:
    """Counts of TREE_FEATURES and the tables referenced (db, name), read in one pass over the tokens
    the way sqlglot's parse tree has them; None when the text does not tokenize into balanced statements."""
    tokens = _SQL_TOKEN.findall(sql.lower())
    if "--" in sql or "/*" in sql:
        for t in tokens:
            if t[:2] == "/*" and (len(t) < 4 or t[-2:] != "*/"):
                return None
        tokens = [t for t in tokens if t[:2] not in ("--", "/*")]
    c = dict.fromkeys(TREE_FEATURES, 0.0)
    tables, cte_names, limits, group_counts, order_counts = [], set(), [], [], []
    n = len(tokens)
    tokens.append("")
    stack = [_Frame("statement", 0)]
    f = stack[0]
    prev = prev2 = ""
    ended = False           # the previous token ended an operand: a bare word after it is an alias
    skip_word = False       # the next word is an alias, a type or a unit, not a column
    paren_kind, paren_at = None, -1  # what the "(" at token paren_at opens
    statement_tokens = 0
    top = None              # (level, [projections]) of the statement's shallowest first select
    i = 0
    while i < n:
        t = tokens[i]
        nxt = tokens[i + 1]
        ch = t[0]
        statement_tokens += 1
        if statement_tokens == 1 and t not in _STATEMENTS and t not in ("(", ";"):
            return None  # a statement sqlglot reads as an opaque command
        if ch == "'":
            if len(t) < 2 or t[-1] != "'":
                return None
            c["n_literals"] += 1
            ended, skip_word = True, skip_word and prev == "interval"
        elif ch.isdigit() or (ch == "." and len(t) > 1):
            c["n_literals"] += 1
            if prev == "limit" and t.isdigit():
                limits.append(int(t))
            ended = True
        elif ch.isalpha() or ch == "_" or ch == '"' or ch == "`":
            quoted = not (ch.isalpha() or ch == "_")
            if quoted:
                if len(t) < 2 or t[-1] != ch:
                    return None
                w, keyword = t[1:-1], False
            else:
                w = t
                keyword = (w in _KEYWORDS or (w in _TYPED_LITERALS and nxt[:1] == "'")) and not (
                    prev == "." or (prev == "as" and skip_word and w not in _STATEMENTS)  # "t.rows", "count(*) as rows"
                    or (w in _FRAME_UNITS and nxt not in _FRAME_STARTS and not nxt[:1].isdigit()))  # "order by rows"
            if f.expect_table and not keyword and (nxt != "(" or prev in ("into", "table", "view")):
                parts = [w]
                while tokens[i + 1] == "." and i + 2 < n:
                    i += 2
                    parts.append(tokens[i].strip('"`'))
                tables.append((parts[-2] if len(parts) > 1 else "", parts[-1]))
                f.expect_table, ended, skip_word = False, True, False
                paren_kind, paren_at = "names", i + 1
                prev2, prev = prev, tokens[i]
                i += 1
                continue
            if not keyword and w in _UNITS and (prev2 == "extract" or prev[:1] == "'" or prev[:1].isdigit()):
                ended = True
            elif not keyword:
                if nxt == "(" and not quoted and not skip_word:
                    if f.clause == "with":
                        paren_kind, paren_at = "names", i + 1
                        cte_names.add(w)
                        c["n_ctes"] += 1
                    else:
                        c["n_functions"] += 1
                        c["n_aggregates"] += w in _AGGREGATES
                        paren_kind, paren_at = "call", i + 1
                    ended = False
                elif prev == ".":
                    ended = True
                elif skip_word or f.kind == "names" or (ended and prev != "."):
                    if nxt == "(":
                        paren_kind, paren_at = ("type" if f.kind == "cast" else "names"), i + 1
                    ended, skip_word = True, False
                elif f.clause == "with":
                    cte_names.add(w)
                    c["n_ctes"] += 1
                    ended = False
                else:
                    c["n_columns"] += 1
                    ended = True
            else:
                ended = False
                skip_word = False
                if w == "select":
                    if f.kind == "in" and prev not in ("(", ","):
                        return None  # "in (x select ...": sqlglot expects ")"
                    c["n_selects"] += 1
                    f.deep = max(f.deep, f.base)
                    f.select, f.clause, f.expect_table = True, "select", False
                    f.items = [1]
                    level = len(stack)
                    if top is None or level < top[0]:
                        top = (level, f.items)
                elif w == "from":
                    if f.select and f.kind not in ("call", "cast") and not (prev == "distinct" and prev2 in ("is", "not")):
                        _finish_join(f, c)
                        f.clause, f.expect_table, f.items = "from", True, None
                elif w == "join":
                    _finish_join(f, c)
                    side = prev if prev in ("left", "right", "full", "cross", "natural", "inner") else \
                        prev2 if prev == "outer" else ""
                    f.join = ["left" if side == "left" else "outer" if side in ("right", "full") else side, False, False]
                    c["n_joins"] += 1
                    f.expect_table = True
                elif w == "on":
                    if f.join is not None:
                        f.join[1] = True
                    f.expect_table = False
                elif w == "using":
                    if f.join is not None:
                        f.join[2] = True
                    paren_kind, paren_at = "names", i + 1
                elif w == "as":
                    if f.clause == "with":
                        paren_kind, paren_at = "cte", i + 1
                    else:
                        skip_word = True  # an alias, or the type in CAST(x AS type)
                elif w == "with":
                    _finish_join(f, c)
                    f.clause, f.items = "with", None
                elif w in _CLAUSE_ENDS:
                    _finish_join(f, c)
                    f.expect_table, f.items = False, None
                    if w == "where":
                        c["n_where"] += 1
                        f.clause = "where"
                    elif w == "group" and nxt == "by":
                        counter = [0 if tokens[i + 2] == "all" else 1]  # GROUP BY ALL: no expressions
                        group_counts.append(counter)
                        f.clause, f.items = "group", counter
                        i += 1
                    elif w == "order" and nxt == "by":
                        counter = [1]
                        order_counts.append(counter)
                        f.clause, f.items = "order", counter
                        i += 1
                    elif w == "having":
                        c["n_having"] += 1
                        f.clause = "having"
                    elif w == "limit":
                        c["has_limit"] = 1.0
                        f.clause = "limit"
                    elif w in _SET_OPS:
                        c["n_unions" if w == "union" else "n_intersect_except"] += 1
                        f.set_op, f.select, f.clause = True, False, None
                    else:
                        f.clause = w
                elif w == "partition" or w in _FRAME_UNITS:
                    f.items = None
                elif w == "and":
                    if f.between:
                        f.between -= 1
                    else:
                        c["n_and"] += 1
                        c["n_functions"] += 1
                elif w == "or":
                    c["n_or"] += 1
                    c["n_functions"] += 1
                elif w == "between":
                    f.between += 1
                    if prev not in _FRAME_UNITS:  # a window frame, not a predicate
                        c["n_predicates"] += 1
                        c["n_range_predicates"] += 1
                elif w in ("like", "ilike"):
                    c["n_predicates"] += 1
                    c["n_like"] += 1
                elif w == "in":
                    if nxt == "(":
                        c["n_predicates"] += 1
                        if tokens[i + 2] in ("select", "with"):
                            c["n_in_subqueries"] += 1
                            paren_kind, paren_at = "query", i + 1
                        else:
                            c["n_in_lists"] += 1
                            paren_kind, paren_at = "in", i + 1
                elif w == "exists":
                    if nxt == "(":
                        c["n_exists"] += 1
                        c["n_functions"] += 1
                        paren_kind, paren_at = "exists", i + 1
                elif w == "case":
                    c["n_case"] += 1
                    c["n_functions"] += 1
                elif w == "when":
                    c["n_functions"] += 1
                elif w == "end":
                    ended = True
                elif w in ("cast", "try_cast"):
                    c["n_casts"] += 1
                    c["n_functions"] += 1
                    paren_kind, paren_at = "cast", i + 1
                elif w == "distinct":
                    if prev not in ("is", "not") and prev not in _SET_OPS:
                        c["n_distinct"] += 1
                        c["n_count_distinct"] += prev == "(" and prev2 == "count"
                elif w == "over":
                    c["n_window_functions"] += 1
                    paren_kind, paren_at = "over", i + 1
                elif w in _NO_PAREN_FUNCTIONS:
                    c["n_functions"] += 1
                    ended = True
                elif w in _TYPED_LITERALS and nxt[:1] == "'":
                    c["n_casts"] += 1
                    c["n_functions"] += 1
                elif w in ("into", "table", "view") and prev2 != "within":
                    f.expect_table = True
                elif w == "interval":
                    skip_word = True
                elif w in _CALLABLE_KEYWORDS and nxt == "(":
                    c["n_functions"] += 1
                    c["n_aggregates"] += w in _AGGREGATES
                    paren_kind, paren_at = "call", i + 1
        elif t == "(":
            kind = paren_kind if paren_at == i else None
            if kind is None:
                kind = "query" if nxt in ("select", "with") else "other"
            if kind == "query":
                c["n_subqueries"] += 1
            f.expect_table = False
            child = _Frame(kind, f.base + (1 if f.select else 0))
            if kind == "in":
                child.items = [0 if nxt == ")" else 1]
            elif kind == "over":
                child.select = False
            stack.append(child)
            f = child
            ended, skip_word = False, False
        elif t == ")":
            if len(stack) == 1:
                return None
            _finish_join(f, c)
            done = stack.pop()
            if done.kind == "other" and done.set_op:
                c["n_subqueries"] += 1
            if done.kind == "in" and done.items is not None and done.items[0] > c["max_in_list_size"]:
                c["max_in_list_size"] = float(done.items[0])
            f = stack[-1]
            deepest = _deepest(done)
            if done.kind == "cte":
                f.cte_depth = max(f.cte_depth, deepest)
            elif deepest > f.deep:
                f.deep = deepest
            ended, skip_word = True, False
        elif t == ",":
            if f.items is not None:
                f.items[0] += 1
            if f.clause == "from" and f.select and f.kind not in ("call", "cast"):
                _finish_join(f, c)
                f.join = ["", False, False]
                c["n_joins"] += 1
                f.expect_table = True
            ended = skip_word = False
        elif t == ";":
            if len(stack) > 1:
                return None
            if statement_tokens > 1:
                c["n_statements"] += 1
                _end_statement(f, c, top)
            f = stack[0] = _Frame("statement", 0)
            top, statement_tokens = None, 0
            ended = skip_word = False
        else:
            if t in _EQUALITY:
                c["n_predicates"] += 1
                c["n_equality_predicates"] += 1
            elif t in (">", ">=", "<", "<="):
                c["n_predicates"] += 1
                c["n_range_predicates"] += 1
            elif t == "*":
                if f.clause == "select" and prev in ("select", ",", "distinct", "all") and f.select:
                    c["select_star"] = 1.0
                ended = prev in _STAR_BEFORE
                prev2, prev = prev, t
                i += 1
                continue
            elif t == "::":
                c["n_casts"] += 1
                c["n_functions"] += 1
                skip_word = True
                prev2, prev = prev, t
                i += 1
                continue
            ended = skip_word = False
        prev2, prev = prev, t
        i += 1
    if len(stack) > 1:
        return None
    if statement_tokens:
        c["n_statements"] += 1
        _end_statement(f, c, top)
    if not c["n_statements"]:
        return None
    c["n_group_by_columns"] = float(sum(x[0] for x in group_counts))
    c["n_order_by_columns"] = float(sum(x[0] for x in order_counts))
    c["log_limit"] = math.log1p(max(limits)) if limits else 0.0
    tables = [(db, name) for db, name in tables if not (db == "" and name in cte_names)]
    c["n_tables"] = float(len(tables))
    c["n_distinct_tables"] = float(len(set(tables)))
    return c, tables


def _end_statement(f, c, top):
    """Close a statement: its last join, its deepest select, the projections of its top select."""
    _finish_join(f, c)
    deepest = _deepest(f)
    if deepest > c["max_select_depth"]:
        c["max_select_depth"] = float(deepest)
    if top is not None and top[1][0] > c["n_projections"]:
        c["n_projections"] = float(top[1][0])
