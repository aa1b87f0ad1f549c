"""The dashboard's charts (Plotly), built from the rows `data.DashboardData` returns."""

from __future__ import annotations

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
                         yaxis_title="minutes", xaxis_title="run (partition)")
    return figure


def day_figure(rows: list[dict], title: str, truth: list[float] | None = None) -> go.Figure:
    """One entity's day by 15-minute slot: observed posted and actual waits, the forecast, the truth."""
    if not rows:
        return empty_figure("no observation or forecast for this entity on this day")
    slots = [row["slot_start"] for row in rows]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=slots, y=[row["mean_posted"] for row in rows], name="posted (observed)", mode="lines+markers"))
    figure.add_trace(go.Scatter(x=slots, y=[row["mean_actual"] for row in rows], name="actual (observed)", mode="markers"))
    made = next((row for row in rows if row["model_version"] is not None), None)
    label = f"forecast (made {made['forecast_made']}, model {made['model_version']})" if made else "forecast (none)"
    figure.add_trace(go.Scatter(x=slots, y=[row["predicted_wait"] for row in rows], name=label, mode="lines"))
    if truth is not None:
        figure.add_trace(go.Scatter(x=slots, y=truth, name="true expected (synthetic world)", mode="lines", line={"dash": "dot"}))
    figure.update_layout(**_LAYOUT, title_text=title, yaxis_title="wait (minutes)", xaxis_title="time of day",
                         xaxis_tickformat="%H:%M")
    return figure


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
