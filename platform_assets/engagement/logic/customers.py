"""engagement's delivery contract and the `customers` stage.

A month's delivery is one customer table: every customer with the 72 features and the
protected attributes, and `engagement_score` for the customers whose engagement is known
(the training labels); customers without it are the ones to score. The contract engine
(platform_core.contract) types and cleans it. Every numeric column has a finite, plausible
range (BOUNDS): a customer with a value outside it (1e308, an infinity, NaN, a negative count, a
label outside [0, 1]) is a broken record, set aside in the quarantine with the column, reason and
value, and neither trained on nor scored; imputing the value or turning the customer into one to
score would publish a guess as a score. Duplicate customer ids are set aside and counted too.
"""

from __future__ import annotations

from dataclasses import dataclass

from platform_assets.engagement.logic.world import AGE_GROUPS, FEATURES, GENDERS, KEY, LABEL, LOCATIONS
from platform_core import duck
from platform_core.contract import RANGE_REASONS, Column, Contract, column_problems, open_delivery
from platform_core.gates import GateResult
from platform_core.storage import Location, atomic_dir

# Plausible ranges by unit, wide enough for any real customer, far below float32's 3.4e38.
PER_DAY = (0.0, 10_000.0)  # events a day: about one every 9 s around the clock
PER_WEEK, PER_MONTH, PER_QUARTER = (0.0, 70_000.0), (0.0, 300_000.0), (0.0, 900_000.0)
MINUTES_DAY, MINUTES_WEEK, HOURS_WEEK = (0.0, 1_440.0), (0.0, 10_080.0), (0.0, 168.0)
AUDIENCE = (0.0, 1e9)  # followers and likes: the largest accounts have hundreds of millions
MONEY_USD = (0.0, 1e7)
DAYS_AGO = (0.0, 10_000.0)  # days since an event: apps are younger than 27 years
MONTHS_TENURE = (0.0, 600.0)
SHARE = (0.0, 1.0)
BOUNDS: dict[str, tuple[float, float]] = {
    "feed_time_minutes_day": MINUTES_DAY, "sessions_last_7_days": PER_WEEK, "app_opens_day": PER_DAY,
    "reels_watched_day": PER_DAY, "stories_viewed_day": PER_DAY, "messages_sent_day": PER_DAY,
    "posts_last_30_days": PER_MONTH, "matches_per_day": PER_DAY, "lifetime_value_usd": MONEY_USD,
    "creator_followers": AUDIENCE, "video_watch_hours_week": HOURS_WEEK, "avg_likes_per_post": AUDIENCE,
    "dates_completed_month": (0.0, 1_000.0), "tenure_months": MONTHS_TENURE, "profile_completion_pct": (0.0, 100.0),
    "app_opens_week": PER_WEEK, "feed_time_minutes_week": MINUTES_WEEK, "sessions_last_30_days": PER_MONTH,
    "reels_watched_week": PER_WEEK, "stories_viewed_week": PER_WEEK, "messages_sent_week": PER_WEEK,
    "posts_last_7_days": PER_WEEK, "matches_per_week": PER_WEEK, "video_watch_minutes_day": MINUTES_DAY,
    "lifetime_value_eur": MONEY_USD, "creator_following": (0.0, 1e7), "avg_comments_per_post": AUDIENCE,
    "dates_completed_quarter": (0.0, 3_000.0), "tenure_days": (0.0, 30.44 * MONTHS_TENURE[1]),
    "profile_photos_count": (0.0, 1_000.0),
    "push_opens_week": PER_WEEK, "searches_per_day": PER_DAY, "likes_given_day": PER_DAY,
    "comments_written_week": PER_WEEK, "shares_per_week": PER_WEEK, "saves_per_week": PER_WEEK,
    "friends_count": (0.0, 1e6), "followers_count": AUDIENCE, "following_count": (0.0, 1e7),
    "groups_joined": (0.0, 100_000.0), "events_attended_month": PER_MONTH, "purchases_last_90_days": PER_QUARTER,
    "avg_order_value_usd": MONEY_USD, "subscription_months": MONTHS_TENURE, "ad_clicks_week": PER_WEEK,
    "ad_impressions_day": PER_DAY, "live_streams_watched_week": PER_WEEK, "story_replies_week": PER_WEEK,
    "swipes_per_day": PER_DAY, "super_likes_week": PER_WEEK, "profile_views_week": PER_WEEK,
    "bio_length_chars": (0.0, 10_000.0), "days_since_last_login": DAYS_AGO, "avg_session_minutes": MINUTES_DAY,
    "night_usage_share": SHARE, "weekend_usage_share": SHARE, "device_count": (0.0, 1_000.0),
    "app_version_age_days": DAYS_AGO, "crash_count_month": PER_MONTH, "support_tickets_quarter": PER_QUARTER,
    "referrals_sent": (0.0, 1e6), "referrals_accepted": (0.0, 1e6),
    **{name: (-100.0, 100.0) for name in FEATURES if name.startswith("noise_")},  # standardized: |z| <= 100
    LABEL: SHARE,
}

CONTRACT = Contract(
    key=KEY,
    columns={
        KEY: Column("BIGINT", required=True, description="customer id, unique within a month"),
        **{name: Column("DOUBLE", required=True, bounds=BOUNDS[name]) for name in FEATURES},
        "age_group": Column("VARCHAR", required=True, allowed=tuple(AGE_GROUPS), description="protected attribute"),
        "gender": Column("VARCHAR", required=True, allowed=tuple(GENDERS), description="protected attribute"),
        "location": Column("VARCHAR", required=True, allowed=tuple(LOCATIONS), case="lower", description="protected attribute"),
        LABEL: Column("DOUBLE", required=True, bounds=BOUNDS[LABEL],
                      description="known engagement in [0, 1]; NULL for customers to score"),
    },
)


@dataclass
class CustomersStats:
    files: list[str]
    rows_in: int
    rows_out: int
    labelled: int
    to_score: int
    duplicates: int
    set_aside: int  # rows with a value outside its column's range (any column), in quarantine.parquet
    quarantine: list[dict]  # per column and reason: rows (duplicates, range problems, values cast to NULL)
    extra_columns: list[str]


def build_customers(landing_dir: Location, target_dir: Location, threads: int | None = None) -> CustomersStats:
    """customers.parquet (one row per customer, every value in range) and quarantine.parquet (each
    value outside its range: customer_id, column, reason, value, file and row) in `target_dir`."""
    con = duck.connect(threads)
    delivery = open_delivery(con, landing_dir, CONTRACT)
    with atomic_dir(target_dir) as tmp:
        duck.copy_to_parquet(con, duck.load_sql("engagement", "customers"), None, tmp / "customers.parquet")
        duck.copy_to_parquet(con, duck.load_sql("engagement", "customers_quarantine"), None, tmp / "quarantine.parquet")
        duck.view(con, "customers", tmp / "customers.parquet")
        rows_out, labelled = con.execute(f"SELECT count(*), count({LABEL}) FROM customers").fetchone()
        set_aside = con.execute("SELECT count(DISTINCT (source_file, source_row)) FROM range_problems").fetchone()[0]
        problems = column_problems(con, CONTRACT, delivery["present"], delivery["coded"])
    con.close()
    duplicates = delivery["rows_in"] - set_aside - rows_out
    quarantine = [{"column_name": KEY, "reason": "duplicate", "rows": duplicates}] if duplicates else []
    return CustomersStats(files=delivery["files"], rows_in=delivery["rows_in"], rows_out=rows_out, labelled=labelled,
                          to_score=rows_out - labelled, duplicates=duplicates, set_aside=set_aside,
                          quarantine=quarantine + problems, extra_columns=delivery["extra"])


def _worst(stats: CustomersStats, reasons: tuple[str, ...], limit: float) -> dict:
    """The column with most rows for `reasons` (column, reasons, rows, rate as a share of the rows
    delivered) and how many columns pass `limit`."""
    by_column: dict[str, list[dict]] = {}
    for q in stats.quarantine:
        if q["reason"] in reasons:
            by_column.setdefault(q["column_name"], []).append(q)
    rows = {column: sum(q["rows"] for q in found) for column, found in by_column.items()}
    over = sum(n / stats.rows_in > limit for n in rows.values())
    if not rows:
        return {"column": "none", "reasons": "", "rows": 0, "rate": 0.0, "columns_over_limit": 0}
    column = max(rows, key=rows.get)
    return {"column": column, "reasons": ", ".join(f"{q['reason']} {q['rows']:,}" for q in by_column[column]),
            "rows": rows[column], "rate": round(rows[column] / stats.rows_in, 6), "columns_over_limit": over}


def delivery_gates(stats: CustomersStats, max_duplicate_rate: float, max_unknown_value_rate: float, max_quarantine_rate: float,
                   min_labelled_rows: int) -> list[GateResult]:
    """The delivery's checks. Failure lines show plain metadata only, so each names its worst
    column, rows and rate as plain values."""
    duplicate_rate = stats.duplicates / stats.rows_in
    cast_reasons = tuple({q["reason"] for q in stats.quarantine} - {"duplicate", *RANGE_REASONS})
    unknown = _worst(stats, cast_reasons, max_unknown_value_rate)
    set_aside_rate = stats.set_aside / stats.rows_in
    return [
        GateResult("duplicate_rate", duplicate_rate <= max_duplicate_rate,
                   {"duplicates": stats.duplicates, "rate": round(duplicate_rate, 6), "limit": max_duplicate_rate}),
        GateResult("unknown_value_rate", unknown["rate"] <= max_unknown_value_rate, {**unknown, "limit": max_unknown_value_rate}),
        GateResult("quarantine_rate", set_aside_rate <= max_quarantine_rate,
                   {**_worst(stats, RANGE_REASONS, max_quarantine_rate), "set_aside": stats.set_aside, "set_aside_rate": round(set_aside_rate, 6),
                    "limit": max_quarantine_rate}),
        GateResult("enough_labelled_customers", stats.labelled >= min_labelled_rows,
                   {"labelled": stats.labelled, "minimum": min_labelled_rows}),
    ]
