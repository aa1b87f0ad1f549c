"""A synthetic theme-park world with known expected waits.

Every entity (ride, show) belongs to one of 14 parks; its expected posted wait at a moment is

    popularity x time-of-day curve x day-of-week x season x events x park-hours spread

where the time-of-day curve is a bell over the park's opening hours peaking at the entity's own
hour, events are holidays, festivals, extended hours and after-hours parties, and longer days
spread the crowd (waits x (12 h / day length)^0.3). Posted waits are that truth plus noise
(sd 12% + 2 min), rounded to 5 minutes; for an entity-specific share of observations an actual
wait is measured too (about 80% of the posted one, log-normal noise). `true_expected_wait` is the
noise-free value, so forecast error is measured against truth.

History lengths are heavy-tailed: entities open on different dates (a third since the start of
the history) and are polled at different rates (log-normal, capped at one observation every 5
minutes), scaled so the whole history holds about `target_rows` observations at 1,700 entities and
730 days (20M: a few entities with 100,000+ rows, many with hundreds), proportionally less for fewer.

Everything is a deterministic function of `WorldParams` (saved as a small JSON with the truth):
a day's observations come from a generator seeded by (seed, day), so generating the history and
generating day by day give the same rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import cached_property

import numpy as np
import polars as pl

PARKS = ["MK", "EP", "HS", "AK", "DL", "CA", "USH", "UF", "IA", "EU", "TDL", "TDS", "BB", "TL"]
TIERS = {"MK": 1, "EP": 1, "HS": 1, "AK": 1, "DL": 2, "CA": 2, "USH": 2, "UF": 3, "IA": 3, "EU": 3,
         "TDL": 4, "TDS": 4, "BB": 4, "TL": 4}
PARK_SHARE = [0.14, 0.10, 0.08, 0.08, 0.11, 0.08, 0.07, 0.07, 0.07, 0.05, 0.06, 0.05, 0.02, 0.02]
# Regular opening and closing hour per park (before season, weekend and event adjustments).
PARK_OPEN = [9, 9, 9, 8, 8, 8, 9, 9, 9, 10, 8, 9, 10, 10]
PARK_CLOSE = [22, 21, 21, 19, 23, 22, 20, 21, 21, 22, 21, 21, 18, 20]
EVENTS = ["holiday", "festival", "extended_hours", "party"]
EVENT_EFFECT = {"holiday": 1.35, "festival": 1.12, "extended_hours": 0.95, "party": 0.85}
DOW_EFFECT = np.array([0.92, 0.88, 0.90, 0.95, 1.05, 1.25, 1.15])  # Monday .. Sunday
SCHEDULE_DAYS = 7  # park hours and events are published this many days ahead
MAX_RATE_PER_HOUR = 12.0  # one observation every 5 minutes
UNKNOWN_ENTITY_BASE = 900_000
_ADJECTIVES = ["Space", "Pirate", "Jungle", "Frozen", "Haunted", "Galactic", "Wild", "Royal", "Thunder", "Ocean",
               "Dino", "Magic", "Runaway", "Twilight", "Dragon", "Safari"]
_NOUNS = ["Mountain", "Coaster", "Voyage", "Express", "Spin", "Flight", "Adventure", "Mansion", "Rapids", "Tower",
          "Show", "Carousel", "Drop", "Quest", "Odyssey", "Derby"]


@dataclass(frozen=True)
class WorldParams:
    seed: int = 7
    entities: int = 1700
    start: str = "2023-09-01"  # first day of the history
    history_days: int = 730
    target_rows: int = 20_000_000  # observations at 1,700 entities and 730 days; scales with both
    duplicate_share: float = 0.003
    invalid_share: float = 0.0005  # of each kind: negative wait, unknown entity

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WorldParams:
        return cls(**json.loads(text))


def _holidays(year: int) -> set[date]:
    thanksgiving = date(year, 11, 1) + timedelta(days=(3 - date(year, 11, 1).weekday()) % 7 + 21)
    return {date(year, 1, 1), date(year, 7, 4), thanksgiving, *(date(year, 12, d) for d in range(24, 32))}


@dataclass(frozen=True)
class Schedule:
    """Opening hours and events of every park for a range of days (arrays are [park, day])."""
    days: list[date]
    opens_min: np.ndarray  # minutes after midnight
    closes_min: np.ndarray
    events: np.ndarray  # bool [park, day, event]


@dataclass
class World:
    params: WorldParams = field(default_factory=WorldParams)

    @property
    def start(self) -> date:
        return date.fromisoformat(self.params.start)

    @property
    def history_end(self) -> date:
        """The last day of the history; the first day a pipeline runs is the next one."""
        return self.start + timedelta(days=self.params.history_days - 1)

    @cached_property
    def entity_table(self) -> pl.DataFrame:
        """One row per entity: id, name, park, tier, opened_on, and the hidden parameters of its truth."""
        p = self.params
        rng = np.random.default_rng([p.seed, 1])
        n = p.entities
        park = rng.choice(len(PARKS), n, p=PARK_SHARE)
        popularity = np.clip(rng.lognormal(np.log(22.0), 0.6, n), 5.0, 150.0)
        peak = rng.uniform(0.3, 0.65, n)
        width = rng.uniform(0.22, 0.4, n)
        actual_share = rng.uniform(0.0, 0.3, n)
        since_start = rng.random(n) < 1 / 3
        offset = np.where(since_start, 0, np.floor(p.history_days * rng.beta(0.9, 0.6, n))).astype(np.int64)
        rate = rng.lognormal(np.log(1.0), 1.2, n)
        mean_hours = 12.5
        target = p.target_rows * n / 1700 * p.history_days / 730
        for _ in range(20):  # scale rates to the target row count, respecting the cap
            expected = float((np.minimum(rate, MAX_RATE_PER_HOUR) * mean_hours * (p.history_days - offset)).sum())
            rate = rate * target / expected
        rate = np.minimum(rate, MAX_RATE_PER_HOUR)
        ids = np.arange(1, n + 1, dtype=np.int64)
        names = [f"{_ADJECTIVES[i % 16]} {_NOUNS[(i // 16) % 16]} {i}" for i in ids]
        return pl.DataFrame({
            "entity_id": ids, "entity_name": names, "park": np.array(PARKS)[park],
            "tier": np.array([TIERS[PARKS[k]] for k in park], dtype=np.int32),
            "opened_on": [self.start + timedelta(days=int(o)) for o in offset],
            "park_index": park.astype(np.int32), "popularity": popularity, "peak": peak, "width": width,
            "actual_share": actual_share, "rate_per_hour": rate,
        })

    def schedule(self, days: list[date]) -> Schedule:
        """Hours and events of every park on `days`, deterministic per (seed, park, day)."""
        n_parks = len(PARKS)
        opens = np.zeros((n_parks, len(days)), dtype=np.int64)
        closes = np.zeros_like(opens)
        events = np.zeros((n_parks, len(days), len(EVENTS)), dtype=bool)
        for j, day in enumerate(days):
            rng = np.random.default_rng([self.params.seed, 2, day.toordinal()])
            draws = rng.random((n_parks, 3))
            summer = day.month in (6, 7, 8)
            weekend = day.weekday() >= 5
            holiday = day in _holidays(day.year)
            festival = (day.month in (3, 4, 9, 10)) & (draws[:, 0] < 0.5)
            extended = draws[:, 1] < 0.1
            party = (~extended) & (draws[:, 2] < 0.08) & (day.month in (9, 10, 11, 12))
            events[:, j] = np.stack([np.full(n_parks, holiday), festival, extended, party], axis=1)
            opens[:, j] = (np.array(PARK_OPEN) - extended) * 60
            closes[:, j] = np.minimum(np.array(PARK_CLOSE) + (summer | holiday) + weekend + extended - 2 * party, 24) * 60
        return Schedule(days, opens, closes, events)

    def _expected(self, entity_rows: np.ndarray, day_index: np.ndarray, minute: np.ndarray, days: list[date],
                  sched: Schedule) -> np.ndarray:
        """Expected posted wait for (entity row, day index into `days`, minute after midnight); 0 when closed."""
        e = self.entity_table
        park = e["park_index"].to_numpy()[entity_rows]
        opens = sched.opens_min[park, day_index]
        closes = sched.closes_min[park, day_index]
        length = closes - opens
        frac = (minute - opens) / length
        peak, width = e["peak"].to_numpy()[entity_rows], e["width"].to_numpy()[entity_rows]
        time_of_day = 0.25 + 0.75 * np.exp(-0.5 * ((frac - peak) / width) ** 2)
        dow = DOW_EFFECT[np.array([d.weekday() for d in days])[day_index]]
        doy = np.array([d.timetuple().tm_yday for d in days])[day_index]
        season = 1.0 + 0.2 * np.cos(2 * np.pi * (doy - 195) / 365.25)
        event_effect = np.prod(np.where(sched.events[park, day_index], np.array(list(EVENT_EFFECT.values())), 1.0), axis=1)
        spread = (720.0 / length) ** 0.3
        wait = e["popularity"].to_numpy()[entity_rows] * time_of_day * dow * season * event_effect * spread
        return np.where((minute >= opens) & (minute < closes), wait, 0.0)

    def true_expected_wait(self, entity_ids, timestamps) -> np.ndarray:
        """The noise-free expected posted wait (minutes) of each (entity, timestamp); 0 when the park is closed."""
        ids = np.asarray(entity_ids, dtype=np.int64)
        if ids.min(initial=1) < 1 or ids.max(initial=1) > self.params.entities:
            raise ValueError(f"entity ids must be in 1..{self.params.entities}")
        ts = pl.Series(timestamps).cast(pl.Datetime("us"))
        day_values = ts.dt.date()
        days = sorted(set(day_values.to_list()))
        day_index = np.searchsorted(np.array([d.toordinal() for d in days]),
                                    np.array([d.toordinal() for d in day_values.to_list()]))
        minute = (ts.dt.hour().cast(pl.Int64) * 60 + ts.dt.minute() + ts.dt.second() / 60).to_numpy()
        return self._expected(ids - 1, day_index, minute, days, self.schedule(days))

    def day(self, day: date) -> dict[str, pl.DataFrame]:
        """One day's delivery: observations (with planted duplicates and invalid rows), the entity list
        as of that day, and the published hours and events of that day and the next `SCHEDULE_DAYS`."""
        p = self.params
        e = self.entity_table
        rng = np.random.default_rng([p.seed, 3, day.toordinal()])
        sched = self.schedule([day])
        open_rows = np.flatnonzero(e["opened_on"].to_numpy() <= np.datetime64(day))
        park = e["park_index"].to_numpy()[open_rows]
        hours = (sched.closes_min[park, 0] - sched.opens_min[park, 0]) / 60
        counts = rng.poisson(e["rate_per_hour"].to_numpy()[open_rows] * hours)
        rows = np.repeat(open_rows, counts)
        opens = sched.opens_min[e["park_index"].to_numpy()[rows], 0]
        closes = sched.closes_min[e["park_index"].to_numpy()[rows], 0]
        seconds = np.floor((opens + rng.random(len(rows)) * (closes - opens)) * 60).astype(np.int64)
        minute = seconds / 60
        truth = self._expected(rows, np.zeros(len(rows), dtype=np.int64), minute, [day], sched)
        posted = np.maximum(0, 5 * np.round((truth + rng.normal(0, 1, len(rows)) * (0.12 * truth + 2)) / 5)).astype(np.int32)
        has_actual = rng.random(len(rows)) < e["actual_share"].to_numpy()[rows]
        actual = np.round(truth * 0.8 * rng.lognormal(0, 0.2, len(rows))).astype(np.int32)
        midnight = np.datetime64(day, "s").astype(np.int64)
        obs = pl.DataFrame({
            "entity_id": e["entity_id"].to_numpy()[rows],
            "observed_at": pl.Series((midnight + seconds) * 1_000_000).cast(pl.Datetime("us")),
            "posted_wait": posted,
            "actual_wait": actual, "has_actual": has_actual,
        }).with_columns(pl.when("has_actual").then("actual_wait").alias("actual_wait")).drop("has_actual").sort("observed_at")
        obs = self._plant_problems(obs, rng)
        return {"observations": obs, "entities": e.filter(pl.col("entity_id").is_in(e["entity_id"].to_numpy()[open_rows]))
                .select("entity_id", "entity_name", "park", "opened_on"),
                **self.published_schedule(day)}

    def _plant_problems(self, obs: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
        """Exact duplicate rows, negative waits and unknown entity ids, as real feeds have. Each kind
        is its share of the day's rows rounded up or down at random (the share on average, within one
        row of it every day), so a small day never carries several times the share by chance."""
        n = len(obs)
        if n == 0:
            return obs

        def rows(share: float) -> np.ndarray:
            return rng.choice(n, int(n * share + rng.random()), replace=False)

        duplicates = obs[rows(self.params.duplicate_share)]
        negative = obs[rows(self.params.invalid_share)].with_columns(pl.lit(-5, pl.Int32).alias("posted_wait"))
        unknown = obs[rows(self.params.invalid_share)].with_columns(
            (pl.col("entity_id") + UNKNOWN_ENTITY_BASE).alias("entity_id"))
        return pl.concat([obs, duplicates, negative, unknown]).sort("observed_at")

    def published_schedule(self, day: date, ahead: int | None = None) -> dict[str, pl.DataFrame]:
        """Park hours and events as published on `day`: that day and the next `ahead` days."""
        days = [day + timedelta(days=k) for k in range(1 + (SCHEDULE_DAYS if ahead is None else ahead))]
        sched = self.schedule(days)
        parks, dates = np.meshgrid(np.arange(len(PARKS)), np.arange(len(days)), indexing="ij")
        midnights = np.array([np.datetime64(d, "m").astype(np.int64) for d in days])[dates.ravel()]
        hours = pl.DataFrame({
            "park": np.array(PARKS)[parks.ravel()], "date": [days[j] for j in dates.ravel()],
            "opens_at": pl.Series((midnights + sched.opens_min.ravel()) * 60_000_000).cast(pl.Datetime("us")),
            "closes_at": pl.Series((midnights + sched.closes_min.ravel()) * 60_000_000).cast(pl.Datetime("us")),
        })
        p, d, k = np.nonzero(sched.events)
        events = pl.DataFrame({"park": np.array(PARKS)[p], "date": [days[j] for j in d], "event": np.array(EVENTS)[k]},
                              schema={"park": pl.String, "date": pl.Date, "event": pl.String})
        return {"park_hours": hours, "events": events}

