"""The dashboard's charts (Plotly), built from the rows `data.DashboardData` returns."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import plotly.graph_objects as go

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_LAYOUT = {"template": "plotly_white", "height": 380, "margin": {"l": 50, "r": 20, "t": 90, "b": 40},
           "title": {"y": 0.97, "yanchor": "top"}, "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}}


def empty_figure(message: str) -> go.Figure:
    """A blank chart that says why it is blank."""
    figure = go.Figure()
    figure.update_layout(**_LAYOUT, xaxis={"visible": False}, yaxis={"visible": False},
                         annotations=[{"text": message, "showarrow": False, "font": {"size": 16}, "x": 0.5, "y": 0.5,
                                       "xref": "paper", "yref": "paper"}])
    return figure


def trend_figure(rows: list[dict]) -> go.Figure:
    """Median validation MAE of the entities trained in each run, one line per tier."""
    if not rows:
        return empty_figure("no run yet")
    if all(row["median_mae"] is None for row in rows):
        return empty_figure("no entity was trained in these runs (all skipped or failed)")
    figure = go.Figure()
    for tier in sorted({row["tier"] for row in rows}):
        runs = [row for row in rows if row["tier"] == tier and row["median_mae"] is not None]
        figure.add_trace(go.Scatter(
            x=[row["partition_date"] for row in runs], y=[row["median_mae"] for row in runs], mode="lines+markers",
            name=f"tier {tier}", customdata=[[row["trained"], row["failed"], row["degraded"]] for row in runs],
            hovertemplate="%{x}: median MAE %{y:.2f} min<br>trained %{customdata[0]}, failed %{customdata[1]}, "
                          "degraded %{customdata[2]}<extra>tier " + str(tier) + "</extra>",
        ))
    figure.update_layout(**_LAYOUT, title_text="Median validation MAE of the entities trained, per run",
                         yaxis_title="minutes", xaxis_title="run (partition)",
                         xaxis=_days_axis([row["partition_date"] for row in rows]))
    return figure


def _days_axis(days: list[date]) -> dict:
    """A date axis by whole days: a single run is a point in the middle of three days, not a
    stretch of milliseconds around midnight."""
    first, last = min(days), max(days)
    axis = {"type": "date", "tickformat": "%Y-%m-%d", "hoverformat": "%Y-%m-%d"}
    if (last - first).days < 7:
        axis.update(range=[(first - timedelta(days=1)).isoformat(), (last + timedelta(days=1)).isoformat()], dtick=86_400_000)
    return axis


def forecast_source(row: dict) -> str:
    """Who made a forecast row: its model's version, or the fallback that stood in for a model."""
    if row["model_version"] is not None:
        return f"model {row['model_version']}"
    return (row.get("forecast_source") or "fallback").replace("_", " ")


def day_figure(rows: list[dict], title: str, truth: list[float] | None = None,
               hours: tuple[datetime, datetime] | None = None) -> go.Figure:
    """One entity's day by 15-minute slot: observed posted and actual waits, the forecast, the truth,
    on an axis of the park's opening `hours` (widened to the rows; an hour either side without them)."""
    if not rows:
        return empty_figure("no observation or forecast for this entity on this day")
    slots = [row["slot_start"] for row in rows]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=slots, y=[row["mean_posted"] for row in rows], name="posted (observed)", mode="lines+markers"))
    figure.add_trace(go.Scatter(x=slots, y=[row["mean_actual"] for row in rows], name="actual (observed)", mode="markers"))
    made = next((row for row in rows if row["predicted_wait"] is not None), None)
    label = f"forecast (made {made['forecast_made']}, {forecast_source(made)})" if made else "forecast (none)"
    predicted = [row["predicted_wait"] for row in rows]
    figure.add_trace(go.Scatter(x=slots, y=predicted, name=label, mode=_line_mode(predicted)))
    if truth is not None:
        figure.add_trace(go.Scatter(x=slots, y=truth, name="true expected (synthetic world)", mode=_line_mode(truth),
                                    line={"dash": "dot"}))
    start, end = hours if hours else (min(slots) - timedelta(hours=1), max(slots) + timedelta(hours=1))
    axis_range = [min(start, min(slots)), max(end, max(slots) + timedelta(minutes=15))]
    figure.update_layout(**_LAYOUT, title_text=title, yaxis_title="wait (minutes)", xaxis_title="time of day",
                         xaxis={"tickformat": "%H:%M", "range": axis_range})
    return figure


def _line_mode(values: list) -> str:
    """A line, with markers when it has too few points to draw one."""
    return "lines" if sum(value is not None for value in values) > 1 else "lines+markers"


def weekday_figure(rows: list[dict], title: str) -> go.Figure:
    """One entity's mean wait by day of week: observed against forecast."""
    if not rows:
        return empty_figure("no observation or forecast for this entity in these weeks")
    days = [WEEKDAYS[row["dow"] - 1] for row in rows]
    figure = go.Figure()
    series = (("mean_posted", "posted (observed)"), ("mean_actual", "actual (observed)"), ("predicted_wait", "forecast"))
    for column, name in series:
        figure.add_trace(go.Bar(x=days, y=[row[column] for row in rows], name=name))
    figure.update_layout(**_LAYOUT, title_text=title, yaxis_title="mean wait per slot (minutes)", barmode="group",
                         xaxis={"categoryorder": "array", "categoryarray": WEEKDAYS})
    return figure
