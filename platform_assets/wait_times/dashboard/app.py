"""The wait_times dashboard (Dash): pipeline status, model quality, wait-time curves, data freshness.

The status panel re-reads status.json and, given the Dagster instance, its latest wait_times run
every few seconds (a run that failed or was blocked by a check shows as failed, with why); every
other view re-reads its table only when the data's signature changes (a new partition or
version), or when the person changes a control. Views say "no run yet" when their table does not
exist yet.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import numpy as np
from dash import Dash, Input, Output, State, dash_table, dcc, html, no_update

from platform_assets.wait_times.dashboard import figures
from platform_assets.wait_times.dashboard.data import NO_RUN, DashboardData, park_freshness, pipeline_text, tier_title
from platform_assets.wait_times.dashboard.runs import RunLog
from platform_core.metrics import regression_metrics
from platform_core.storage import DataLayout

Truth = Callable[[np.ndarray, np.ndarray], np.ndarray]

QUALITY_COLUMNS = ["entity_id", "entity_name", "park", "tier", "status", "mae", "rmse", "previous_mae", "mae_change_pct",
                   "trees", "seconds", "train_rows", "valid_rows", "promoted", "version", "reason", "error"]
FRESHNESS_COLUMNS = ["entity_id", "entity_name", "park", "tier", "observation_count", "latest_observation", "reference_time",
                     "hours_since", "stale"]
PARK_COLUMNS = ["park", "tier", "entities", "stale", "latest_observation"]
TIER_COLUMNS = ["tier", "trained", "skipped", "failed", "degraded", "entities"]
TABLE_STYLE = {"style_table": {"overflowX": "auto"}, "style_header": {"fontWeight": "bold"},
               "style_cell": {"fontFamily": "inherit", "fontSize": 13, "padding": "4px", "textAlign": "left"}}


def create_app(layout: DataLayout, truth: Truth | None = None, refresh_seconds: float = 3.0,
               stale_hours: float = 4.0, dagster_home: Path | None = None) -> Dash:
    """The dashboard over one data directory. `truth(entity_ids, timestamps)`, when given (the synthetic
    world's `true_expected_wait`), adds the true expected wait to the day curve and the forecast's error against it.
    `dagster_home`, the instance the runs are recorded on, tells a failed run from one in progress."""
    data = DashboardData(layout)
    runs = RunLog(dagster_home) if dagster_home is not None else None
    app = Dash(__name__, title="wait_times dashboard", update_title=None)
    app.layout = lambda: _page(data, refresh_seconds, stale_hours)
    _status_callbacks(app, data, runs)
    _quality_callbacks(app, data)
    _curve_callbacks(app, data, truth)
    _freshness_callbacks(app, data)
    return app


def _table(table_id: str, columns: list[str], page_size: int = 15, **extra) -> dash_table.DataTable:
    """A sortable, filterable table (`sort_action`/`filter_action` "none" to turn either off)."""
    options = {"sort_action": "native", "filter_action": "native", **TABLE_STYLE, **extra}
    return dash_table.DataTable(id=table_id, columns=[{"name": c.replace("_", " "), "id": c} for c in columns], data=[],
                                page_size=page_size, **options)


def _section(title: str, *children) -> html.Section:
    return html.Section([html.H2(title), *children], className="panel")


def _page(data: DashboardData, refresh_seconds: float, stale_hours: float) -> html.Div:
    """The page as it loads: the controls' choices are filled in here, so the first load needs one
    round of callbacks, not a chain of three."""
    runs, run, _ = _run_choice(data, None, None)
    entities, entity, default_entity, first, last, day, _ = _entity_choice(data, None, None, None, None)
    return html.Div([
        html.H1("wait_times"),
        html.P(f"data: {data.layout.root}", className="muted"),
        dcc.Interval(id="status-tick", interval=int(refresh_seconds * 1000)),
        dcc.Store(id="data-version", data=data.signature()),
        dcc.Store(id="run-default", data=run), dcc.Store(id="day-default", data=day),
        dcc.Store(id="entity-default", data=default_entity),
        _section(
            "Pipeline status",
            html.Div(id="pipeline-step", className="big"), html.Div(id="pipeline-reason", className="reason"),
            html.Div([html.Progress(id="pipeline-bar", max="100", value="0"), html.Span(id="pipeline-progress", className="big"),
                      html.Span(id="pipeline-percent", className="muted")], className="row"),
            html.Div(id="pipeline-eta"), html.Div(id="pipeline-counts"), html.Div(id="pipeline-updated", className="muted"),
            html.H3(id="tier-title"), _table("tier-table", TIER_COLUMNS, sort_action="none", filter_action="none"),
        ),
        _section(
            "Model quality",
            html.Div([html.Label("run", htmlFor="quality-run"),
                      dcc.Dropdown(id="quality-run", options=runs, value=run, clearable=False, style={"width": "14em"})],
                     className="row"),
            html.Div(id="quality-message", className="muted"),
            _table("quality-table", QUALITY_COLUMNS, page_size=20, style_data_conditional=[
                {"if": {"filter_query": '{status} = "degraded"'}, "backgroundColor": "#fff3cd"},
                {"if": {"filter_query": '{status} = "failed"'}, "backgroundColor": "#f8d7da"},
            ]),
            dcc.Graph(id="quality-trend"),
            html.H3("Entities whose accuracy degrades"), html.Div(id="degraded-count", className="muted"),
            html.Ul(id="degraded-list"),
        ),
        _section(
            "Wait-time curves",
            html.Div([dcc.Dropdown(id="entity-select", options=entities, value=entity, searchable=True, clearable=False,
                                   placeholder="search an entity", style={"minWidth": "28em"}),
                      dcc.DatePickerSingle(id="curve-date", date=day, min_date_allowed=first, max_date_allowed=last,
                                           display_format="YYYY-MM-DD")], className="row"),
            html.Div(id="curve-summary"),
            dcc.Graph(id="curve-graph"), dcc.Graph(id="weekday-graph"),
        ),
        _section(
            "Data freshness",
            html.Div([html.Span(id="stale-count", className="big"), html.Span(" stale entities: no observation in the last "),
                      dcc.Input(id="stale-hours", type="number", min=0.25, step=0.25, value=stale_hours, debounce=True,
                                style={"width": "5em"}),
                      html.Span(" hours before their park closed (or never)", id="freshness-day")], className="row"),
            html.Div(id="freshness-message", className="muted"),
            _table("park-freshness-table", PARK_COLUMNS, sort_action="native", filter_action="none"),
            _table("freshness-table", FRESHNESS_COLUMNS, style_data_conditional=[
                {"if": {"filter_query": '{stale} = "yes"'}, "backgroundColor": "#f8d7da"}]),
        ),
    ], className="page")


def _status_callbacks(app: Dash, data: DashboardData, runs: RunLog | None) -> None:
    @app.callback(
        [Output("pipeline-step", "children"), Output("pipeline-step", "className"), Output("pipeline-reason", "children"),
         Output("pipeline-progress", "children"), Output("pipeline-bar", "value"), Output("pipeline-percent", "children"),
         Output("pipeline-eta", "children"), Output("pipeline-counts", "children"), Output("pipeline-updated", "children"),
         Output("tier-title", "children")],
        Input("status-tick", "n_intervals"),
    )
    def refresh_status(_):
        """Step, progress, time line and the tier table's title from one reading of status.json and the run."""
        status, run = data.status(), runs.latest() if runs else None
        text = pipeline_text(status, run)
        return (text["step"], f"big {text['state']}", text["reason"], text["progress"], text["percent"],
                f"{text['percent']}%" if text["progress"] else "", text["eta"], text["counts"], text["updated"],
                tier_title(status, run, data.latest("training_results")))

    @app.callback(Output("data-version", "data"), Input("status-tick", "n_intervals"), State("data-version", "data"),
                  prevent_initial_call=True)
    def refresh_version(_, version):
        """A new signature re-reads every view; the same one leaves them alone (the page loads with
        the current one, so the views' first reads are not chained behind this)."""
        signature = data.signature()
        return no_update if signature == version else signature

    @app.callback(Output("tier-table", "data"), Input("data-version", "data"))
    def refresh_tiers(_):
        day = data.latest("training_results")
        return data.tier_counts(day) if day else []


def _quality_callbacks(app: Dash, data: DashboardData) -> None:
    @app.callback(
        [Output("quality-run", "options"), Output("quality-run", "value"), Output("run-default", "data")],
        Input("data-version", "data"),
        [State("quality-run", "value"), State("run-default", "data")],
        prevent_initial_call=True,
    )
    def refresh_runs(_, chosen, default):
        return _run_choice(data, chosen, default)

    @app.callback(
        [Output("quality-trend", "figure"), Output("degraded-list", "children"), Output("degraded-count", "children")],
        Input("data-version", "data"),
    )
    def refresh_degrading(_):
        degrading = data.degrading()
        items = [html.Li(degrading_text(row), id=f"degraded-{row['entity_id']}") for row in degrading]
        if data.latest("training_results") is None:
            count = NO_RUN
        else:
            count = f"{len(degrading)} entities" if degrading else "none: no entity degraded or rising"
        return figures.trend_figure(data.quality_trend()), items, count

    @app.callback(
        [Output("quality-table", "data"), Output("quality-message", "children")],
        Input("quality-run", "value"),
    )
    def refresh_quality(run):
        if not run:
            return [], NO_RUN
        rows = data.quality(date.fromisoformat(run))
        return _records(rows), (f"{len(rows)} entities in the {run} run; click a column header to sort, "
                                "type in the row below it to filter")


def degrading_text(row: dict) -> str:
    """One line of the degrading list: who, which rule, MAE from and to."""
    who = f"{row['entity_name']} ({row['park']}, tier {row['tier']}, #{row['entity_id']})"
    first, last = row["first_mae"], row["last_mae"]
    change = " → ".join("?" if mae is None else f"{mae:.2f}" for mae in (first, last)) + " min"
    if first and last is not None:
        change += f" ({100 * (last / first - 1):+.0f}%)"
    if row["kind"] == "degraded":
        return f"{who}: degraded in the {row['run_date']} run, MAE {change} against the previous version, not promoted"
    return f"{who}: MAE rising in each of its last {row['runs']} trained runs, {change}"


def _kept(chosen: str | None, default: str | None, available: bool, latest: str | None) -> str | None:
    """A control follows the latest value until the person picks another one, which it then keeps
    while that one is still available."""
    return chosen if chosen is not None and chosen != default and available else latest


def _run_choice(data: DashboardData, chosen: str | None, default: str | None) -> tuple[list[str], str | None, str | None]:
    """The runs to pick from (newest first), the one shown, and the latest (the new default)."""
    runs = [day.isoformat() for day in reversed(data.partitions("training_results"))]
    latest = runs[0] if runs else None
    return runs, _kept(chosen, default, chosen in runs, latest), latest


def _entity_choice(data: DashboardData, chosen: int | None, default: int | None, day: str | None,
                   default_day: str | None) -> tuple:
    """The entity picker's options, the entity shown and the default one (with a forecast on the day
    shown, else the most observations), the date picker's bounds, the day shown and the default day
    (see `DashboardData.curve_dates`); a chosen entity is kept while it exists, a chosen day while it is in range."""
    entities = data.entities()
    options = [{"label": f"{e['entity_name']} · {e['park']} · tier {e['tier']} · #{e['entity_id']}", "value": e["entity_id"]}
               for e in entities]
    span = data.curve_dates()
    first, last, latest = (d.isoformat() for d in span) if span else (None, None, None)
    day = str(day)[:10] if day else None
    shown = _kept(day, default_day, day is not None and first is not None and first <= day <= last, latest)
    ids = {e["entity_id"] for e in entities}
    best = data.default_entity(date.fromisoformat(shown) if shown else None)
    best = best if best in ids else entities[0]["entity_id"] if entities else None
    return options, _kept(chosen, default, chosen in ids, best), best, first, last, shown, latest


def _curve_callbacks(app: Dash, data: DashboardData, truth: Truth | None) -> None:
    @app.callback(
        [Output("entity-select", "options"), Output("entity-select", "value"), Output("entity-default", "data"),
         Output("curve-date", "min_date_allowed"), Output("curve-date", "max_date_allowed"), Output("curve-date", "date"),
         Output("day-default", "data")],
        Input("data-version", "data"),
        [State("entity-select", "value"), State("entity-default", "data"), State("curve-date", "date"),
         State("day-default", "data")],
        prevent_initial_call=True,
    )
    def refresh_entities(_, chosen, default, day, default_day):
        return _entity_choice(data, chosen, default, day, default_day)

    @app.callback(
        [Output("curve-graph", "figure"), Output("weekday-graph", "figure"), Output("curve-summary", "children")],
        [Input("entity-select", "value"), Input("curve-date", "date")],
        State("entity-select", "options"),
    )
    def refresh_curves(entity_id, day, options):
        if entity_id is None or not day:
            return figures.empty_figure(NO_RUN), figures.empty_figure(NO_RUN), NO_RUN
        day = date.fromisoformat(str(day)[:10])
        rows = data.day_curve(entity_id, day)
        expected = _truth(truth, entity_id, rows)
        name = next((o["label"] for o in options or [] if o["value"] == entity_id), f"#{entity_id}")
        title = f"{name}: {day:%A} {day} by time of day"
        weekly = figures.weekday_figure(data.weekday_profile(entity_id, day), f"{name}: by day of week, the 4 weeks to {day}")
        summary = _curve_summary(rows, expected, bool(data.partitions("forecasts")))
        return figures.day_figure(rows, title, expected, data.park_hours(entity_id, day)), weekly, summary


def _truth(truth: Truth | None, entity_id: int, rows: list[dict]) -> list[float] | None:
    if truth is None or not rows:
        return None
    stamps = np.array([row["slot_start"] for row in rows], dtype="datetime64[us]")
    return [float(v) for v in truth(np.full(len(rows), int(entity_id)), stamps)]


def _curve_summary(rows: list[dict], expected: list[float] | None, any_forecast: bool) -> str:
    """The shown forecast's error against what was observed, and against the truth when known."""
    forecast = [row for row in rows if row["predicted_wait"] is not None]
    if not forecast:
        return ("no forecast for this entity on this day" if any_forecast
                else "no forecast yet: no run has written forecasts (the pipeline status above says why)")
    parts = [f"forecast made {forecast[0]['forecast_made']} by {figures.forecast_source(forecast[0])}"]
    for column, name in (("mean_posted", "posted"), ("mean_actual", "actual")):
        matched = [(row[column], row["predicted_wait"]) for row in forecast if row[column] is not None]
        if matched:
            m = regression_metrics(*map(np.array, zip(*matched)))
            parts.append(f"MAE against {name} {m['mae']:.2f} min over {m['rows']} slots")
    if expected is not None:
        pairs = [(e, row["predicted_wait"]) for e, row in zip(expected, rows) if row["predicted_wait"] is not None]
        m = regression_metrics(*map(np.array, zip(*pairs)))
        parts.append(f"against the true expected wait {m['mae']:.2f} min (bias {m['bias']:+.2f})")
    return "; ".join(parts)


def _freshness_callbacks(app: Dash, data: DashboardData) -> None:
    @app.callback(
        [Output("freshness-table", "data"), Output("park-freshness-table", "data"), Output("stale-count", "children"),
         Output("freshness-message", "children")],
        [Input("data-version", "data"), Input("stale-hours", "value")],
    )
    def refresh_freshness(_, hours):
        day = data.latest("entity_index")
        if day is None:
            return [], [], "–", NO_RUN
        rows = data.freshness(float(hours or 0), day)
        stale = sum(bool(row["stale"]) for row in rows)
        return (_records(rows), _records(park_freshness(rows)), str(stale),
                f"entity_index of {day}: {len(rows)} entities, {stale} stale")


def _records(rows: list[dict]) -> list[dict]:
    """Rows as the tables show them: times as text, booleans as yes/no."""
    return [{k: _cell(v) for k, v in row.items()} for row in rows]


def _cell(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value
