"""The hyper-parameter search says what it does, how far it is and how long is left, at most once
every `every` seconds, to any callable (Dagster's context.log.info in the wiring)."""

from __future__ import annotations

import datetime as dt

from platform_assets.engagement.logic import model, scoring, world
from platform_core.progress import Progress


def test_progress_is_throttled_and_estimates_the_time_left():
    now = [0.0]
    lines: list[str] = []
    progress = Progress(lines.append, "search", total=100, every=10, clock=lambda: now[0])
    for step in range(20):  # 5% of the work every 2 s
        now[0] += 2
        progress.advance(5, f"task {step + 1}")
    assert lines == [
        "search: 25% done (task 5); 10s so far, about 30s left",
        "search: 50% done (task 10); 20s so far, about 20s left",
        "search: 75% done (task 15); 30s so far, about 10s left",
        "search: 100% done (task 20); 40s so far, about 0s left",
    ]
    Progress(None, "quiet", total=1, every=0).advance()  # no log: nothing to call


def test_the_search_reports_its_progress_through_a_callable(monkeypatch):
    monkeypatch.setattr(model, "PROGRESS_EVERY_S", 0.0)  # every finished task says so
    labelled, _, _ = world.generate_month(dt.date(2025, 3, 1), 2_000, 0, seed=7)
    X, y = scoring.feature_matrix(labelled), labelled[world.LABEL].to_numpy()
    grid = {"n_estimators": [10, 20], "max_depth": [2, 3, 4], "learning_rate": [0.05, 0.1, 0.3], "subsample": [1.0],
            "colsample_bytree": [1.0]}
    lines: list[str] = []
    result = model.tune(X, y, "halving_early_stopping", seed=7, n_jobs=1, folds=2, grid=grid, log=lines.append)
    assert lines[0] == "hyper-parameter search (halving_early_stopping) over 18 grid points, 2 folds, 2,000 rows"
    assert lines[-1].startswith("hyper-parameter search done in ") and f"{result['fits']} fits" in lines[-1]
    progress = lines[1:-1]
    assert len(progress) >= 6 and all("% done (round " in line and "s left" in line for line in progress)
    assert progress[0].startswith("hyper-parameter search: ") and "round 1/2: 9 candidates on 33% of the training rows of 2 folds" in progress[0]
    assert "100% done (round 2/2: 3 candidates on 100% of the training rows of 2 folds, 24/24 fits)" in progress[-1]
