"""The wait_times dashboard: its queries on a small fake of the job's tables, then the page itself in
a real browser (Debian's chromium driven by Playwright), screenshots saved."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from werkzeug.serving import make_server

from platform_assets.wait_times.dashboard import __main__ as cli
from platform_assets.wait_times.dashboard import figures
from platform_assets.wait_times.dashboard.app import _entity_choice, _run_choice, create_app, degrading_text
from platform_assets.wait_times.dashboard.data import DashboardData, park_freshness, pipeline_text, tier_title
from platform_assets.wait_times.dashboard.runs import FAILED as RUN_FAILED
from platform_assets.wait_times.dashboard.runs import RUNNING, SUCCEEDED, RunLog, RunOutcome
from platform_core.storage import DataLayout, write_json
from tests.wait_times.dashboard_fixture import (
    DAYS,
    DEGRADED,
    ENTITIES,
    FAILED,
    FIRST_RUN,
    LATEST,
    NEVER_SEEN,
    RISING,
    STALE,
    STATUS,
    STATUS_ETA,
    TOO_NEW,
    TRAINING_END,
    forecast_bias,
    record_runs,
    true_expected_wait,
    write_fixture,
)

REPO = Path(__file__).resolve().parents[2]
README_SHOT = REPO / "bench" / "results" / "wait_times_dashboard.png"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
WAIT_MS = 20_000
# dash 4 announces DataTable's future removal on every table; known, and reported (dash-ag-grid is the successor)
pytestmark = pytest.mark.filterwarnings(r"ignore:\s*The dash_table.DataTable will be removed:DeprecationWarning")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> DataLayout:
    layout = DataLayout.at(tmp_path_factory.mktemp("wait_times_world"))
    write_fixture(layout)
    return layout


@pytest.fixture
def data(world) -> DashboardData:
    return DashboardData(world)


# --- what the views read ---------------------------------------------------------------------

def test_status_lines_from_status_json():
    text = pipeline_text(STATUS, now=datetime(2025, 8, 16, 6, 5))
    assert text["progress"] == "entity 45 of 200"
    assert text["percent"] == "22"
    assert STATUS_ETA in text["eta"] and "12 min 30 s" in text["eta"]
    assert text["step"] == "training (tier 2) · partition 2025-08-16"
    assert text["counts"] == "trained 40 · skipped 3 · failed 2"
    assert text["updated"].endswith("(2 min 0 s ago)")
    assert pipeline_text(None)["step"] == "no run yet"
    utc = pipeline_text({**STATUS, "updated_at": "2025-08-16T06:03:00+00:00", "degraded": 1})  # as the training step writes it
    assert STATUS_ETA + " UTC" in utc["eta"] and utc["counts"].endswith("failed 2 · degraded 1")


def test_step_progress_and_time_agree_at_every_moment():
    """Issue #22: "trained (tier 4)", "estimated completion: not known yet" at 100%, then nothing
    saying the run had stopped. An estimate shows only while entities remain; after, when it ended."""
    day = FIRST_RUN["partition"]
    moments = {step: pipeline_text({**FIRST_RUN, "step": step}) for step in ("training", "trained", "forecasting", "done")}
    for step, text in moments.items():
        assert (text["progress"], text["percent"]) == ("entity 11 of 11", "100"), step
        assert "estimated" not in text["eta"] and "tier" not in text["step"], step
    assert moments["trained"]["step"] == f"training finished · partition {day}"
    assert moments["trained"]["eta"] == f"training finished at {TRAINING_END}; forecasts and the wait time index next"
    assert moments["forecasting"]["step"] == f"forecasting · partition {day}"
    assert (moments["done"]["step"], moments["done"]["eta"], moments["done"]["state"]) == (
        f"done · partition {day}", "done at 2025-08-16 06:09:00 UTC", "done")
    preparing = pipeline_text({**FIRST_RUN, "step": "preparing", "done": 0})
    assert preparing["percent"] == "0" and preparing["eta"].startswith("estimated completion: known once")

    ended = datetime(2025, 8, 16, 6, 9, 30, tzinfo=UTC)
    blocked = RunOutcome("r1", day, ("entity_models",), RUN_FAILED, ended, "check critical_entities_have_model failed: x")
    failed = pipeline_text({**FIRST_RUN, "step": "trained"}, blocked)
    assert (failed["step"], failed["state"]) == (f"failed in entity_models · partition {day}", "failed")
    assert failed["eta"] == "failed at 2025-08-16 06:09:30 UTC" and failed["reason"].startswith("check critical")
    assert failed["progress"] == "entity 11 of 11" and failed["updated"] == ""
    succeeded = RunOutcome("r2", day, ("wti",), SUCCEEDED, ended)
    assert pipeline_text({**FIRST_RUN, "step": "done"}, succeeded)["reason"] == ""
    # the next day's ETL fails before training starts: the failure, not the finished day's training
    etl = RunOutcome("r3", "2025-08-17", ("dimensions", "fact_observations"), RUN_FAILED, ended, "quarantine_rate")
    text = pipeline_text({**FIRST_RUN, "step": "done"}, etl)
    assert text["step"] == "failed: dimensions, fact_observations · partition 2025-08-17" and text["progress"] == ""
    running = pipeline_text({**FIRST_RUN, "step": "done"}, RunOutcome("r4", "2025-08-17", ("entity_index",), RUNNING, None))
    assert running["step"] == "running: entity_index · partition 2025-08-17" and running["state"] == "running"


def test_tier_title_says_which_run_the_table_holds():
    day = date.fromisoformat(FIRST_RUN["partition"])
    assert tier_title(None, None, None).startswith("By tier: no run yet")
    assert tier_title({**FIRST_RUN, "step": "training"}, None, None) == (
        f"By tier: the {day} run's counts appear when its training finishes")
    assert tier_title({**FIRST_RUN, "step": "done"}, None, day) == f"By tier: the {day} run"
    earlier = day - timedelta(days=1)
    assert tier_title({**FIRST_RUN, "step": "training"}, None, earlier) == (
        f"By tier: the latest finished training, {earlier} (the {day} run's counts appear when its training finishes)")
    assert tier_title({**FIRST_RUN, "step": "training", "done": 3}, None, day) == (  # the day trained again
        f"By tier: an earlier run of {day} (the {day} run's counts appear when its training finishes)")
    crashed = RunOutcome("r", day.isoformat(), ("entity_models",), RUN_FAILED, None, "worker died")
    assert tier_title({**FIRST_RUN, "step": "training"}, crashed, earlier).endswith(
        f"(the {day} run failed before its training wrote results)")


def test_the_runs_the_instance_recorded(tmp_path):
    """A blocked day reads as failed, with the check and its figures; a later good run of the same
    day replaces it. Runs of other jobs are not wait_times runs."""
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    runs = RunLog(home)
    assert runs.latest() is None
    record_runs(home, LATEST.isoformat(), blocked=True)
    blocked = runs.latest()
    assert (blocked.state, blocked.partition, blocked.assets) == (RUN_FAILED, LATEST.isoformat(), ("entity_models",))
    assert blocked.reason == ("check critical_entities_have_model on wait_times/entity_models failed: "
                              f"critical_entities=5, without_model=[{TOO_NEW}]")
    assert blocked.ended_at.tzinfo is not None
    record_runs(home, LATEST.isoformat(), blocked=False)
    good = runs.latest()
    assert (good.state, good.assets, good.reason) == (SUCCEEDED, ("wti",), None)

    @dg.asset(key=["heavy_queries", "query_log"])
    def other():
        raise ValueError("not ours")

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not dg.materialize([other], instance=instance, raise_on_error=False).success
    assert runs.latest().run_id == good.run_id


def test_a_failed_step_reads_as_its_own_error(tmp_path):
    import dagster as dg

    @dg.asset(key=["wait_times", "forecasts"])
    def forecasts():
        raise ValueError("forecasts.parquet: column slot_start is missing")

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        dg.materialize([forecasts], instance=instance, raise_on_error=False)
    failed = RunLog(tmp_path).latest()
    assert failed.reason == "forecasts: ValueError: forecasts.parquet: column slot_start is missing"
    assert failed.partition is None


def test_single_run_and_sparse_day_charts_have_sane_axes():
    trend = figures.trend_figure([{"partition_date": LATEST, "tier": 1, "median_mae": 2.5, "trained": 4, "failed": 0,
                                   "degraded": 0}])
    assert trend.layout.xaxis.range == (str(LATEST - timedelta(days=1)), str(LATEST + timedelta(days=1)))
    assert trend.data[0].mode == "lines+markers"
    skipped = figures.trend_figure([{"partition_date": LATEST, "tier": 1, "median_mae": None, "trained": 0, "failed": 0,
                                     "degraded": 0}])
    assert skipped.layout.annotations[0].text.startswith("no entity was trained")
    slot = datetime.combine(LATEST, datetime.min.time()) + timedelta(hours=20, minutes=45)
    row = {"slot_start": slot, "mean_posted": 12.0, "mean_actual": None, "predicted_wait": None, "model_version": None,
           "forecast_made": None}
    hours = (slot.replace(hour=9, minute=0), slot.replace(hour=21, minute=0))
    day = figures.day_figure([row], "one slot", hours=hours)
    assert day.layout.xaxis.range == hours
    assert figures.day_figure([row], "one slot").layout.xaxis.range == (slot - timedelta(hours=1), slot + timedelta(hours=1))


def test_tier_counts_and_quality_of_the_latest_run(data):
    tiers = {row["tier"]: row for row in data.tier_counts()}
    assert tiers[1] == {"tier": 1, "trained": 4, "skipped": 0, "failed": 0, "degraded": 1, "entities": 5}
    assert (tiers[3]["failed"], tiers[3]["skipped"]) == (1, 1)
    assert sum(row["entities"] for row in tiers.values()) == len(ENTITIES)
    rows = data.quality()
    assert len(rows) == len(ENTITIES)
    degraded = next(row for row in rows if row["entity_id"] == DEGRADED)
    assert (degraded["status"], degraded["mae"], degraded["previous_mae"]) == ("degraded", 5.0, 4.0)
    assert degraded["mae_change_pct"] == 25.0
    assert degraded["entity_name"] == "Haunted Mansion" and degraded["promoted"] is False
    assert next(row for row in rows if row["entity_id"] == FAILED)["error"].startswith("ValueError")
    assert [row["entity_id"] for row in data.quality(DAYS[0]) if row["status"] == "trained"] != []
    assert {row["status"] for row in data.quality(DAYS[0])} == {"trained", "skipped"}


def test_quality_trend_per_run_and_tier(data):
    trend = data.quality_trend()
    assert sorted({row["partition_date"] for row in trend}) == DAYS
    first = {row["tier"]: row for row in trend if row["partition_date"] == DAYS[0]}
    assert first[2]["trained"] == 2 and first[4]["trained"] == 2  # Beauty and the Beast never trained
    last = {row["tier"]: row for row in trend if row["partition_date"] == LATEST}
    assert last[1]["degraded"] == 1 and last[3]["failed"] == 1 and last[4]["median_mae"] is None
    assert len(data.quality_trend(days=2)) < len(trend)


def test_degrading_entities_flagged_or_rising(data):
    found = {(row["entity_id"], row["kind"]) for row in data.degrading()}
    assert found == {(DEGRADED, "degraded"), (RISING, "rising")}
    rising = next(row for row in data.degrading() if row["kind"] == "rising")
    assert (rising["first_mae"], rising["last_mae"], rising["runs"]) == (3.0, 3.9, 3)
    # four runs back the MAE was flat (3.0, 3.0, 3.4, 3.9); a 50% rise is more than it rose
    assert {row["entity_id"] for row in data.degrading(runs=4)} == {DEGRADED}
    assert {row["entity_id"] for row in data.degrading(min_rise=0.5)} == {DEGRADED}
    with pytest.raises(ValueError, match="at least 2 runs"):
        data.degrading(runs=1)
    flagged = next(row for row in data.degrading() if row["kind"] == "degraded")
    assert "MAE 4.00 → 5.00 min (+25%)" in degrading_text(flagged)
    assert "MAE ? → 5.00 min against" in degrading_text({**flagged, "first_mae": None})  # no previous version known


def test_day_curve_uses_the_latest_forecast_made_before_the_day(data):
    rows = data.day_curve(101, LATEST)
    assert len(rows) == 48  # 09:00-21:00 in 15-minute slots
    made = LATEST - timedelta(days=1)
    assert {(row["forecast_made"], row["model_version"]) for row in rows} == {(made, f"101-{made}")}
    assert all(row["mean_posted"] is not None for row in rows)
    truth = true_expected_wait(np.full(len(rows), 101), np.array([row["slot_start"] for row in rows], dtype="datetime64[us]"))
    ratio = np.mean([row["predicted_wait"] for row in rows] / truth)
    assert ratio == pytest.approx(1 + forecast_bias(made, LATEST), abs=0.01)
    ahead = data.day_curve(101, LATEST + timedelta(days=2))  # only a forecast: no observation yet
    assert ahead and all(row["mean_posted"] is None and row["forecast_made"] == LATEST for row in ahead)
    assert data.day_curve(999, LATEST) == []


def test_weekday_profile_over_the_weeks_to_the_day(data):
    rows = {row["dow"]: row for row in data.weekday_profile(101, LATEST)}
    assert sum(row["observed_days"] or 0 for row in rows.values()) == len(DAYS)
    assert rows[7]["observed_days"] == 1 and rows[7]["predicted_wait"] is None  # DAYS[0], a Sunday, had no forecast
    assert 6 not in rows  # no Saturday observed or forecast up to the day
    assert rows[7]["mean_posted"] > rows[3]["mean_posted"]  # weekends are busier in the fake world
    assert sum(row["observed_days"] or 0 for row in data.weekday_profile(101, DAYS[2], weeks=1)) == 3


def test_freshness_and_stale_entities(data):
    rows = data.freshness(stale_hours=4)
    assert {row["entity_id"] for row in rows if row["stale"]} == STALE
    assert rows[0]["entity_id"] == NEVER_SEEN and rows[0]["latest_observation"] is None
    assert {row["entity_id"] for row in data.freshness(stale_hours=100) if row["stale"]} == {NEVER_SEEN}
    assert all(row["stale"] for row in data.freshness(stale_hours=0.01))
    parks = park_freshness(rows)
    assert (parks[0]["park"], parks[0]["stale"], parks[0]["entities"]) == ("TDL", 2, 3)
    assert sum(park["entities"] for park in parks) == len(ENTITIES)


def test_views_never_read_the_fact_table(data, monkeypatch):
    read = []
    original = DashboardData.files
    monkeypatch.setattr(DashboardData, "files", lambda self, table, day: read.append(table) or original(self, table, day))
    data.tier_counts(), data.quality(), data.quality_trend(), data.degrading(), data.entities(), data.curve_dates()
    data.day_curve(101, LATEST), data.weekday_profile(101, LATEST), data.freshness()
    assert "fact_observations" not in read and {"posted_aggregates", "forecasts", "entity_index"} <= set(read)


def test_controls_follow_the_latest_until_the_person_picks(data):
    earlier, latest = DAYS[2].isoformat(), LATEST.isoformat()
    assert _run_choice(data, None, None)[1:] == (latest, latest)
    assert _run_choice(data, DAYS[4].isoformat(), DAYS[4].isoformat())[1] == latest  # was the default: follows
    assert _run_choice(data, earlier, latest)[1] == earlier  # picked: kept
    assert _run_choice(data, "2024-01-01", latest)[1] == latest  # picked but gone: back to the latest
    options, entity, best, first, last, day, default = _entity_choice(data, 999, None, None, None)
    # the latest observed day has a forecast; of the entities with one, the DL and TDL ones were open longest
    assert len(options) == len(ENTITIES) and entity == best == 301
    assert (first, last, day, default) == (DAYS[0].isoformat(), (LATEST + timedelta(days=2)).isoformat(), latest, latest)
    assert _entity_choice(data, 101, 301, earlier, latest)[1:3] == (101, 301)  # picked: kept
    assert _entity_choice(data, 301, 301, earlier, latest)[5] == earlier
    assert _entity_choice(data, 301, 301, "2030-01-01", latest)[5] == latest  # out of range


def test_an_empty_data_directory_gives_empty_views(tmp_path):
    data = DashboardData(DataLayout.at(tmp_path))
    assert data.status() is None and data.curve_dates() is None and data.latest("training_results") is None
    for rows in (data.tier_counts(), data.quality(), data.quality_trend(), data.degrading(), data.entities(),
                 data.day_curve(1, LATEST), data.weekday_profile(1, LATEST), data.freshness()):
        assert rows == []
    (data.layout.table("wait_times", "training_results", "2025-08-16")).mkdir(parents=True)  # a partition with no file yet
    assert data.partitions("training_results") == [date(2025, 8, 16)] and data.quality() == []


def test_dashboard_modules_do_not_import_dagster():
    code = ("import sys\nimport platform_assets.wait_times.dashboard.app, platform_assets.wait_times.dashboard.__main__\n"
            "print('dagster' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_command_line_serves_the_data_dir(world, monkeypatch):
    served = {}
    monkeypatch.setattr("dash.Dash.run", lambda app, **kwargs: served.update(kwargs, title=app.title))
    cli.main(["--data-dir", str(world.root), "--port", "8123", "--host", "0.0.0.0"])
    assert served == {"host": "0.0.0.0", "port": 8123, "debug": False, "title": "wait_times dashboard"}


def test_truth_comes_from_the_recorded_synthetic_world(tmp_path):
    from platform_assets.wait_times.logic.delivery import save_world
    from platform_assets.wait_times.logic.world import WorldParams

    layout = DataLayout.at(tmp_path)
    assert cli.world_truth(layout) is None  # delivered (not synthetic) data: no truth line
    world = save_world(layout, WorldParams(entities=20, history_days=30, target_rows=10_000))
    ids = np.array([world.entity_table["entity_id"][0]] * 3)
    stamps = np.array(["2023-09-02T10:00", "2023-09-02T14:00", "2023-09-02T18:00"], dtype="datetime64[us]")
    assert np.array_equal(cli.world_truth(layout)(ids, stamps), world.true_expected_wait(ids, stamps))


# --- the page in a real browser --------------------------------------------------------------

@contextmanager
def serve(app):
    """The app on a free localhost port, in a thread, for the length of the block."""
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed; install Debian's chromium: apt-get install chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def open_page(browser, url):
    """A page with every failed request and console error recorded: a callback that raises answers 500."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems = []
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(url)
    try:
        yield page, problems
    finally:
        page.close()


CURVE_DATA = "() => (document.querySelector('#curve-graph .js-plotly-plot')?.data || []).map(t => ({name: t.name, y: t.y}))"


def curve_of(page) -> dict[str, list]:
    page.wait_for_function(f"({CURVE_DATA})().length > 0", timeout=WAIT_MS)
    return {trace["name"]: trace["y"] for trace in page.evaluate(CURVE_DATA)}


def test_dashboard_in_the_browser(browser, world, tmp_path):
    from playwright.sync_api import expect

    with serve(create_app(world, truth=true_expected_wait)) as url, open_page(browser, url) as (page, problems):
        expect(page.locator("#pipeline-progress")).to_have_text("entity 45 of 200", timeout=WAIT_MS)
        expect(page.locator("#pipeline-eta")).to_contain_text(STATUS_ETA)
        expect(page.locator("#pipeline-counts")).to_have_text("trained 40 · skipped 3 · failed 2")
        expect(page.locator('#tier-table td[data-dash-column="failed"]')).to_have_text(["0", "0", "1", "0"], timeout=WAIT_MS)
        expect(page.locator('#quality-table td[data-dash-column="entity_id"]')).to_have_count(len(ENTITIES), timeout=WAIT_MS)
        expect(page.locator('#quality-table td[data-dash-column="status"]').first).to_have_text("degraded")
        expect(page.locator("#degraded-list li")).to_have_count(2)
        expect(page.locator(f"#degraded-{DEGRADED}")).to_contain_text("Haunted Mansion")
        expect(page.locator(f"#degraded-{RISING}")).to_contain_text("rising in each of its last 3 trained runs")
        expect(page.locator("#stale-count")).to_have_text(str(len(STALE)), timeout=WAIT_MS)
        expect(page.locator('#freshness-table td[data-dash-column="stale"]')).to_have_count(len(ENTITIES))
        before = curve_of(page)
        assert any(name.startswith("forecast (made") for name in before) and "true expected (synthetic world)" in before
        expect(page.locator("#curve-summary")).to_contain_text("against the true expected wait")
        page.screenshot(path=tmp_path / "dashboard.png", full_page=True)

        names = page.locator('#quality-table td[data-dash-column="entity_name"]')
        unsorted = names.all_inner_texts()
        page.locator('#quality-table th[data-dash-column="entity_name"] .column-header--sort').click()
        expect(names).to_have_text(sorted(unsorted))
        assert sorted(unsorted) != unsorted

        page.locator("#stale-hours").fill("100")
        page.locator("#stale-hours").press("Enter")
        expect(page.locator("#stale-count")).to_have_text("1", timeout=WAIT_MS)

        expect(page.locator("#curve-graph")).to_contain_text("Matterhorn Bobsleds")  # the default: a forecast, most data
        page.locator("#entity-select").click()
        page.locator(".dash-dropdown-search").fill("Space")
        page.get_by_role("option", name="Space Mountain").click()
        page.wait_for_function(f"({CURVE_DATA})().some(t => t.name.includes('101-'))", timeout=WAIT_MS)
        after = curve_of(page)
        assert after["posted (observed)"] != before["posted (observed)"]
        assert any("model 101-2025-08-14" in name for name in after)
        expect(page.locator("#curve-graph")).to_contain_text("Space Mountain")
        page.keyboard.press("Escape")
        ahead = LATEST + timedelta(days=2)  # only a forecast so far, made on the latest day
        page.locator("#curve-date").fill(ahead.isoformat())
        page.locator("#curve-date").press("Enter")
        summary = re.compile(f"^forecast made {LATEST} by model 101-{LATEST}; against the true")
        expect(page.locator("#curve-summary")).to_have_text(summary, timeout=WAIT_MS)
        expect(page.locator("#curve-graph")).to_contain_text(f"{ahead:%A} {ahead}")
        page.screenshot(path=tmp_path / "dashboard_entity.png", full_page=True)
        assert problems == []
    README_SHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "dashboard.png", README_SHOT)
    assert (tmp_path / "dashboard.png").stat().st_size > 50_000


TREND_RANGE = "() => document.querySelector('#quality-trend .js-plotly-plot')?._fullLayout?.xaxis?.range"


def first_run_page(browser, tmp_path, status: dict, blocked: bool):
    """The page over a first run's tables, status.json and runs recorded on a real instance."""
    layout = DataLayout.at(tmp_path / "data")
    write_fixture(layout, status=status, runs=1, forecasts=not blocked)
    home = tmp_path / "dagster_home"
    home.mkdir()
    record_runs(home, LATEST.isoformat(), blocked=blocked)
    return serve(create_app(layout, truth=true_expected_wait, refresh_seconds=1.0, dagster_home=home))


def test_a_blocked_run_shows_as_failed_with_the_checks_reason(browser, tmp_path):
    """Issue #22's day: training went to the end, the blocking check failed, no forecast was written."""
    from playwright.sync_api import expect

    status = {**FIRST_RUN, "step": "trained"}  # where the job's status.json stays when the check fails
    with first_run_page(browser, tmp_path, status, blocked=True) as url, open_page(browser, url) as (page, problems):
        expect(page.locator("#pipeline-step")).to_have_text(f"failed in entity_models · partition {LATEST}", timeout=WAIT_MS)
        expect(page.locator("#pipeline-step")).to_have_class("big failed")
        expect(page.locator("#pipeline-reason")).to_have_text(
            "check critical_entities_have_model on wait_times/entity_models failed: "
            f"critical_entities=5, without_model=[{TOO_NEW}]")
        expect(page.locator("#pipeline-eta")).to_have_text(re.compile(r"^failed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
        expect(page.locator("#pipeline-progress")).to_have_text("entity 11 of 11")
        expect(page.locator("#tier-title")).to_have_text(f"By tier: the {LATEST} run")
        expect(page.locator('#tier-table td[data-dash-column="skipped"]')).to_have_text(["1", "0", "0", "1"], timeout=WAIT_MS)
        # the default entity is not the new one first in the list: the one with the most observations
        expect(page.locator("#curve-graph")).to_contain_text("Matterhorn Bobsleds", timeout=WAIT_MS)
        expect(page.locator("#curve-summary")).to_have_text(
            "no forecast yet: no run has written forecasts (the pipeline status above says why)")
        page.wait_for_function(f"({TREND_RANGE})()?.length === 2", timeout=WAIT_MS)
        assert page.evaluate(TREND_RANGE) == [str(LATEST - timedelta(days=1)), str(LATEST + timedelta(days=1))]
        expect(page.locator("#quality-trend")).to_contain_text(str(LATEST))
        expect(page.locator("#pipeline-eta")).not_to_contain_text("estimated")
        page.screenshot(path=tmp_path / "blocked_run.png", full_page=True)
        assert problems == []


def test_a_full_successful_run(browser, tmp_path):
    """The same first day run to its end: done, the forecasts shown, the new entity's by the fallback."""
    from playwright.sync_api import expect

    with first_run_page(browser, tmp_path, {**FIRST_RUN, "step": "done"}, blocked=False) as url, \
            open_page(browser, url) as (page, problems):
        expect(page.locator("#pipeline-step")).to_have_text(f"done · partition {LATEST}", timeout=WAIT_MS)
        expect(page.locator("#pipeline-step")).to_have_class("big done")
        expect(page.locator("#pipeline-eta")).to_have_text("done at 2025-08-16 06:09:00 UTC")
        expect(page.locator("#pipeline-percent")).to_have_text("100%")
        expect(page.locator("#pipeline-reason")).to_have_text("")
        expect(page.locator("#tier-title")).to_have_text(f"By tier: the {LATEST} run")
        # no observed day has a forecast yet: the first forecast day, by its model
        first_forecast = LATEST + timedelta(days=1)
        expect(page.locator("#curve-graph")).to_contain_text(f"Matterhorn Bobsleds · DL · tier 2 · #301: {first_forecast:%A}",
                                                             timeout=WAIT_MS)
        expect(page.locator("#curve-summary")).to_have_text(
            re.compile(f"^forecast made {LATEST} by model 301-{LATEST}; against the true expected wait"))
        page.screenshot(path=tmp_path / "successful_run.png", full_page=True)
        page.locator("#entity-select").click()
        page.locator(".dash-dropdown-search").fill("Soarin")
        page.get_by_role("option", name="Soarin'").click()
        expect(page.locator("#curve-summary")).to_have_text(
            re.compile(f"^forecast made {LATEST} by fallback entity profile; against the true"), timeout=WAIT_MS)
        assert any(name == f"forecast (made {LATEST}, fallback entity profile)" for name in curve_of(page))
        page.keyboard.press("Escape")
        page.screenshot(path=tmp_path / "successful_run_fallback.png", full_page=True)
        assert problems == []


def test_no_run_yet_then_a_run_starts(browser, tmp_path):
    """An empty data directory says "no run yet" everywhere without an error; the page picks up
    status.json when the pipeline starts writing it, then the tables as they land."""
    from playwright.sync_api import expect

    layout = DataLayout.at(tmp_path / "data")
    with serve(create_app(layout, refresh_seconds=1.0)) as url, open_page(browser, url) as (page, problems):
        expect(page.locator("#pipeline-step")).to_have_text("no run yet", timeout=WAIT_MS)
        for element in ("#tier-title", "#quality-message", "#degraded-count", "#curve-summary", "#freshness-message"):
            expect(page.locator(element)).to_contain_text("no run yet", timeout=WAIT_MS)
        expect(page.locator("#stale-count")).to_have_text("–")
        page.screenshot(path=tmp_path / "no_run_yet.png", full_page=True)
        write_json(layout.table_area("wait_times", "training_status") / "status.json", {**STATUS, "done": 46})
        expect(page.locator("#pipeline-progress")).to_have_text("entity 46 of 200", timeout=WAIT_MS)
        staging = DataLayout.at(tmp_path / "staging")
        write_fixture(staging)
        for table in sorted(staging.table_area("wait_times", "dim_entity").parent.iterdir()):  # the run's tables land
            if table.name != "training_status":
                table.rename(layout.table_area("wait_times", table.name))
        # every view fills in without a reload
        expect(page.locator('#quality-table td[data-dash-column="entity_id"]')).to_have_count(len(ENTITIES), timeout=WAIT_MS)
        expect(page.locator("#stale-count")).to_have_text(str(len(STALE)), timeout=WAIT_MS)
        expect(page.locator("#degraded-list li")).to_have_count(2, timeout=WAIT_MS)
        made = LATEST - timedelta(days=1)  # the day shown follows the latest observed day while the person has not picked one
        page.wait_for_function(f"({CURVE_DATA})().some(t => t.name.startsWith('forecast (made {made}'))", timeout=WAIT_MS)
        assert problems == []
