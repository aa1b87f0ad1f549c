"""What the dashboard reads: the wait_times tables through DuckDB, one small query per view.

Each method opens its own in-memory DuckDB (the web server answers from several threads), makes
views over only the partitions that view needs and runs one SQL file of `sql/wait_times/` with
bound parameters, so a page stays responsive whatever the history's size: aggregation happens in
SQL and the fact table is never read (curves come from `posted_aggregates`, freshness from
`entity_index`). A table or partition that does not exist yet gives an empty result, never an error.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from platform_assets.wait_times.dashboard.runs import FAILED, RUNNING, RunOutcome
from platform_core.duck import connect, ident, literal, query
from platform_core.storage import CURRENT_POINTER, DataLayout, Location, current, read_json

JOB = "wait_times"
STATUS_TABLE = "training_status"
STATUS_FILE = "status.json"
NO_RUN = "no run yet: nothing has been written for the wait_times job in this data directory"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The columns the dashboard reads, for a table that has no data yet.
SCHEMAS = {
    "dim_entity": "entity_id INTEGER, entity_name VARCHAR, park VARCHAR, tier INTEGER, opened_on DATE",
    "dim_park_hours": "park VARCHAR, date DATE, opens_at TIMESTAMP, closes_at TIMESTAMP",
    "posted_aggregates": "entity_id INTEGER, park VARCHAR, date DATE, slot_start TIMESTAMP, observations INTEGER, "
                         "mean_posted DOUBLE, max_posted INTEGER, mean_actual DOUBLE",
    "entity_index": "entity_id INTEGER, park VARCHAR, tier INTEGER, observation_count BIGINT, latest_observation TIMESTAMP",
    "training_results": "entity_id INTEGER, park VARCHAR, tier INTEGER, status VARCHAR, reason VARCHAR, version VARCHAR, "
                        "mae DOUBLE, rmse DOUBLE, previous_mae DOUBLE, trees INTEGER, seconds DOUBLE, train_rows INTEGER, "
                        "valid_rows INTEGER, promoted BOOLEAN, error VARCHAR",
    "forecasts": "entity_id INTEGER, park VARCHAR, forecast_date DATE, slot_start TIMESTAMP, predicted_wait DOUBLE, "
                 "model_version VARCHAR, forecast_source VARCHAR",
}


@dataclass(frozen=True)
class DashboardData:
    """Read-only access to one data directory's wait_times tables."""

    layout: DataLayout
    threads: int = 2
    forecast_horizon_days: int = 14

    def partitions(self, table: str) -> list[date]:
        """The days a table has a partition for, oldest first."""
        area = self.layout.table_area(JOB, table)
        if not area.exists():
            return []
        return sorted(date.fromisoformat(p.name) for p in area.iterdir() if _DAY.match(p.name) and p.is_dir())

    def latest(self, table: str) -> date | None:
        days = self.partitions(table)
        return days[-1] if days else None

    def files(self, table: str, day: date) -> list[Location]:
        """The Parquet files of a partition's current version (none while it is being first written)."""
        folder = self.layout.table(JOB, table, day.isoformat())
        return sorted(current(folder).rglob("*.parquet")) if folder.exists() else []

    def signature(self) -> str:
        """Changes when a table gains a partition or a new version of its latest one, so the page
        re-reads its views only then (a backfilled older partition shows on the next page load)."""
        parts = []
        for table in SCHEMAS:
            day = self.latest(table)
            pointer = self.layout.table(JOB, table, day.isoformat()) / CURRENT_POINTER if day else None
            stamp = pointer.stat().st_mtime if pointer is not None and pointer.exists() else None
            parts.append(f"{table}:{day}:{stamp}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def status(self) -> dict | None:
        """The live pipeline status the training step rewrites as entities finish, if any."""
        path = self.layout.table_area(JOB, STATUS_TABLE) / STATUS_FILE
        return read_json(path) if path.exists() else None

    def tier_counts(self, day: date | None = None) -> list[dict]:
        """Trained / skipped / failed / degraded entities by tier in one run (default: the latest)."""
        return self._query("dashboard_tier_counts", {"training_results": self._days("training_results", day)})

    def quality(self, day: date | None = None) -> list[dict]:
        """Every entity of one run with MAE, RMSE, previous MAE, trees, seconds, status."""
        days = self._days("training_results", day)
        return self._query("dashboard_quality", {"training_results": days, "dim_entity": self._latest_days("dim_entity")})

    def quality_trend(self, days: int = 90) -> list[dict]:
        """Per run and tier over the last `days` runs: entities trained, failed, degraded; median MAE/RMSE."""
        runs = self.partitions("training_results")[-days:]
        return self._query("dashboard_quality_trend", {"training_results": runs}, dated={"training_results"})

    def degrading(self, runs: int = 3, min_rise: float = 0.05, window: int = 30) -> list[dict]:
        """Entities flagged 'degraded' in the latest run, or whose MAE rose in each of their last
        `runs` trained runs (within the last `window` runs) by at least `min_rise` in all."""
        if runs < 2:
            raise ValueError(f"runs={runs}: a rise needs at least 2 runs")
        days = self.partitions("training_results")[-window:]
        return self._query(
            "dashboard_degrading",
            {"training_results": days, "dim_entity": self._latest_days("dim_entity")},
            {"runs": runs, "min_rise": min_rise},
            dated={"training_results"},
        )

    def entities(self) -> list[dict]:
        """Every entity of the latest dimension, critical tiers first (the picker's options)."""
        return self._query("dashboard_entities", {"dim_entity": self._latest_days("dim_entity")})

    def day_curve(self, entity_id: int, day: date) -> list[dict]:
        """One entity's day by slot: observed posted/actual means beside the most recent forecast."""
        return self._query(
            "dashboard_day_curve",
            {"posted_aggregates": self._window("posted_aggregates", day, day), "forecasts": self._forecast_days(day, day)},
            {"entity_id": int(entity_id), "day": day},
            dated={"forecasts"},
        )

    def weekday_profile(self, entity_id: int, end: date, weeks: int = 4) -> list[dict]:
        """One entity by day of week over the `weeks` weeks ending on `end`: observed against forecast."""
        start = end - timedelta(days=7 * weeks - 1)
        return self._query(
            "dashboard_weekday_profile",
            {"posted_aggregates": self._window("posted_aggregates", start, end), "forecasts": self._forecast_days(start, end)},
            {"entity_id": int(entity_id), "start": start, "end": end},
            dated={"forecasts"},
        )

    def freshness(self, stale_hours: float = 4.0, day: date | None = None) -> list[dict]:
        """Latest observation per entity on `day` (default: the latest entity_index), and whether it is
        stale: nothing observed in the last `stale_hours` before its park closed, or never."""
        day = day or self.latest("entity_index")
        if day is None:
            return []
        return self._query(
            "dashboard_freshness",
            {"entity_index": [day], "dim_entity": self._latest_days("dim_entity"),
             "dim_park_hours": self._window("dim_park_hours", day, day)},
            {"day": day, "stale_hours": float(stale_hours)},
        )

    def curve_dates(self) -> tuple[date, date, date] | None:
        """The days a curve can show (from the first observed day to the last forecast day) and the
        one it shows first: the latest with both observations and a forecast, else the first
        forecast day, else the latest observed day."""
        observed = self.partitions("posted_aggregates")
        latest = observed[-1] if observed else None
        made = self._window("forecasts", latest - timedelta(days=self.forecast_horizon_days), date.max) if latest \
            else self._latest_days("forecasts")
        span = self._query("dashboard_forecast_span", {"forecasts": made}, {"observed": latest})[0]
        days = observed[:1] + observed[-1:] + [d for d in (span["first_day"], span["last_day"]) if d is not None]
        if not days:
            return None
        return min(days), max(days), span["last_compared_day"] or span["next_day"] or latest

    def default_entity(self, day: date | None) -> int | None:
        """The entity a curve shows first: one with a model's forecast on `day`, else any forecast,
        then the most observations (a new entity that was skipped would show an empty chart)."""
        forecasts = self._forecast_days(day, day) if day else []
        rows = self._query("dashboard_default_entity", {"entity_index": self._latest_days("entity_index"),
                                                         "forecasts": forecasts}, {"day": day})
        return rows[0]["entity_id"] if rows else None

    def park_hours(self, entity_id: int, day: date) -> tuple[datetime, datetime] | None:
        """When the entity's park opened and closed on `day` (the day curve's time axis), if known."""
        rows = self._query("dashboard_park_hours", {"dim_park_hours": self._window("dim_park_hours", day, day),
                                                     "dim_entity": self._latest_days("dim_entity")},
                           {"entity_id": int(entity_id), "day": day})
        return (rows[0]["opens_at"], rows[0]["closes_at"]) if rows and rows[0]["opens_at"] else None

    def _days(self, table: str, day: date | None) -> list[date]:
        day = day or self.latest(table)
        return [day] if day else []

    def _latest_days(self, table: str) -> list[date]:
        return self._days(table, None)

    def _window(self, table: str, start: date, end: date) -> list[date]:
        return [d for d in self.partitions(table) if start <= d <= end]

    def _forecast_days(self, start: date, end: date) -> list[date]:
        """Forecast partitions that can hold a forecast for a day in [start, end]."""
        return self._window("forecasts", start - timedelta(days=self.forecast_horizon_days), end)

    def _query(self, sql_name: str, tables: dict[str, list[date]], params: dict | None = None,
               dated: set[str] = frozenset()) -> list[dict]:
        """Run `sql/wait_times/<sql_name>.sql` over views of the given partitions; a table without
        data yet is an empty table of its schema, so the view answers with what there is."""
        con = connect(self.threads)
        try:
            for table, days in tables.items():
                files = {day: found for day in days if (found := self.files(table, day))}
                if files:
                    _view(con, table, files, with_partition=table in dated)
                else:
                    extra = ", partition_date DATE" if table in dated else ""
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(table)} ({SCHEMAS[table]}{extra})")
            return query(con, JOB, sql_name, params)
        finally:
            con.close()


def _view(con: duckdb.DuckDBPyConnection, name: str, files: dict[date, list[Location]], with_partition: bool) -> None:
    """A view over these files; a column of SCHEMAS the files lack (written before it existed) is
    NULL. With `with_partition`, a `partition_date` column saying which partition each row came
    from (joined on the file name, so no value is spliced into SQL)."""
    paths = [path for found in files.values() for path in found]
    source = f"read_parquet([{', '.join(literal(p) for p in paths)}], filename = true, union_by_name = true)"
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    missing = [column.split(" ", 1) for column in SCHEMAS[name].split(", ") if column.split(" ", 1)[0] not in present]
    if missing:
        added = ", ".join(f"CAST(NULL AS {kind}) AS {ident(column)}" for column, kind in missing)
        source = f"(SELECT *, {added} FROM {source})"
    if not with_partition:
        con.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT * EXCLUDE (filename) FROM {source}")
        return
    origin = ident(f"{name}_origin")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {origin} (filename VARCHAR, partition_date DATE)")
    con.executemany(f"INSERT INTO {origin} VALUES (?, ?)", [(str(p), day) for day, found in files.items() for p in found])
    con.execute(
        f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT t.* EXCLUDE (filename), o.partition_date "
        f"FROM {source} AS t JOIN {origin} AS o USING (filename)"
    )


def pipeline_text(status: dict | None, run: RunOutcome | None = None, now: datetime | None = None) -> dict[str, str]:
    """The pipeline panel's lines from status.json (how far training got) and the latest run the
    Dagster instance recorded (whether it still runs, and why it failed), told so that the step,
    the progress and the time line never disagree: an estimated completion only while entities
    are still training, "done at" or "failed at" once the run is over."""
    failed = run is not None and run.state == FAILED
    partition = status.get("partition") if status else None
    if run is not None and run.partition != partition and (failed or run.state == RUNNING):
        # a run of another day (its ETL, say) is the latest: the training status is not its own
        step = f"{'failed' if failed else 'running'}: {', '.join(run.assets)} · partition {run.partition}"
        when = f"failed at {_clock(run.ended_at)}" if failed and run.ended_at else "training has not started yet"
        return {**_BLANK, "step": step, "state": FAILED if failed else RUNNING, "eta": when, "reason": run.reason or ""}
    if not status:
        return {**_BLANK, "step": "no run yet"}
    done, total = int(status.get("done") or 0), int(status.get("total") or 0)
    step = str(status.get("step", "unknown"))
    updated = _parse_time(status.get("updated_at"))
    trained_at = _training_end(status)
    state = FAILED if failed else DONE if step == "done" else RUNNING
    if failed:
        headline = f"failed in {', '.join(run.assets)}"
        eta = f"failed at {_clock(run.ended_at)}" if run.ended_at else "failed"
    elif step == "done":
        headline, eta = "done", f"done at {_clock(updated)}" if updated else "done"
    elif step == "training" and done < total:
        tier = status.get("current_tier")
        headline = "training" + (f" (tier {tier})" if tier is not None else "")
        eta = _eta(status.get("eta_seconds"), updated)
    elif step == "preparing":
        headline, eta = "preparing the training rows", "estimated completion: known once the first entity is trained"
    else:  # training over: its results are being written, or forecasting runs
        headline = {"training": "training finished", "trained": "training finished"}.get(step, step)
        eta = f"training finished at {_clock(trained_at)}" if trained_at else "training finished"
        eta += "; forecasts and the wait time index next" if step in ("training", "trained") else ""
    counts = " · ".join(f"{name} {int(status.get(name) or 0)}" for name in ("trained", "skipped", "failed", "degraded")
                        if name != "degraded" or status.get(name))
    return {
        "step": f"{headline} · partition {partition or '?'}",
        "state": state,
        "progress": f"entity {done} of {total}" if total else "no entity to train",
        "percent": str(round(100 * done / total) if total else 100),
        "eta": eta,
        "counts": counts,
        "updated": _age(updated, now) if updated and state == RUNNING else "",
        "reason": run.reason or "" if failed else "",
    }


_BLANK = {"step": "", "state": "", "progress": "", "percent": "0", "eta": "", "counts": "", "updated": "", "reason": ""}
DONE = "done"


def _eta(eta_seconds: object, updated: datetime | None) -> str:
    if eta_seconds is None or updated is None:
        return "estimated completion: known once the first entity is trained"
    seconds = float(eta_seconds)
    return (f"estimated completion {_clock(updated + timedelta(seconds=seconds))} "
            f"(in {_duration(seconds)} from the last update)")


def _training_end(status: dict) -> datetime | None:
    """When training finished: its start plus its elapsed time at the last entity."""
    started, elapsed = _parse_time(status.get("started_at")), status.get("elapsed_seconds")
    if started is None or elapsed is None:
        return _parse_time(status.get("updated_at"))
    return started + timedelta(seconds=float(elapsed))


def tier_title(status: dict | None, run: RunOutcome | None, finished: date | None) -> str:
    """What the tier table shows, said against the run the progress shows: the table holds a
    run's results only once its training has written them."""
    partition = status.get("partition") if status else None
    failed = run is not None and run.state == FAILED and run.partition == partition
    training = status is not None and status.get("step") in ("preparing", "training") and not failed
    if finished is not None and finished.isoformat() == partition and not training:
        return f"By tier: the {partition} run"
    pending = (f"the {partition} run failed before its training wrote results" if failed
               else f"the {partition} run's counts appear when its training finishes" if partition else "")
    if finished is None:
        return f"By tier: {pending or NO_RUN}"
    which = f"an earlier run of {finished}" if finished.isoformat() == partition else f"the latest finished training, {finished}"
    return f"By tier: {which}" + (f" ({pending})" if pending else "")


def _parse_time(text: object) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(str(text))


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f" {moment.tzname()}" if moment.tzinfo else "")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 48:
        return f"{hours // 24} days"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _age(updated: datetime, now: datetime | None) -> str:
    """When the status was last written: a run whose status stops moving has probably died."""
    now = now or (datetime.now(updated.tzinfo) if updated.tzinfo else datetime.now())
    return f"last update {_clock(updated)} ({_duration((now - updated).total_seconds())} ago)"


def park_freshness(rows: list[dict]) -> list[dict]:
    """Per park, from the entity freshness rows: entities, stale entities, latest observation."""
    parks: dict[str, dict] = {}
    for row in rows:
        park = parks.setdefault(row["park"], {"park": row["park"], "tier": row["tier"], "entities": 0, "stale": 0,
                                              "latest_observation": None})
        park["entities"] += 1
        park["stale"] += bool(row["stale"])
        seen = row["latest_observation"]
        if seen is not None and (park["latest_observation"] is None or seen > park["latest_observation"]):
            park["latest_observation"] = seen
    return sorted(parks.values(), key=lambda p: (-p["stale"], p["tier"], p["park"]))
