"""One harness for every job (issue #26): a small delivery of the job's default partition, broken
in one way, through the assets of its first stage that read the landing folder. Each answer is a
refusal (JobRunFailed, or the delivery set aside on the materialization) naming the broken file,
column or folder with no traceback and writing no table, or an acceptance that read every file,
counted the bad rows and kept them out of the tables. The delivery folder is byte-identical
afterwards. Jobs come from JOBS and columns from the delivered Parquet, so a new job is covered by
being a job. Cases a job fails today are strict xfails naming the defect (KNOWN_DEFECTS)."""

from __future__ import annotations

import json

import pytest

from platform_assets.definitions import JOBS
from tests import bad_deliveries as bd

CASES = {
    "csv_text": bd.csv_text,  # the largest Parquet file replaced by CSV text
    "truncated": bd.truncated,  # the largest file cut to half its bytes
    "extra_file": bd.extra_file,  # `notes part 2.parquet`, a copy of the largest file
    "dropped_column": bd.dropped_column,  # the first non-key column of the largest file removed
    "huge_and_infinite": bd.huge_and_infinite,  # 1e308 and inf in its first floating column
    "empty": bd.empty,  # only the completion marker
}
MUST_REFUSE = {"csv_text", "truncated", "empty"}
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}  # (job, case) -> the defect, shown as a strict xfail


def cases() -> list:
    return [pytest.param(job.name, case, id=f"{job.name}-{case}",
                         marks=[pytest.mark.xfail(strict=True, reason=defect)] if (defect := KNOWN_DEFECTS.get((job.name, case))) else [])
            for job in JOBS for case in CASES]


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """Each job's delivery, generated once per session, on first use."""
    worlds: dict[str, bd.World] = {}

    def get(name: str) -> bd.World:
        if name not in worlds:
            job = next(j for j in JOBS if j.name == name)
            worlds[name] = bd.World.generate(job, tmp_path_factory.mktemp(f"world_{name}"))
        return worlds[name]
    return get


@pytest.fixture(scope="session")
def clean(world, tmp_path_factory):
    """The first stage's outcome on each job's delivery as generated, once per session, on first use."""
    outcomes: dict[str, bd.Outcome] = {}

    def get(name: str) -> bd.Outcome:
        if name not in outcomes:
            root = tmp_path_factory.mktemp(f"clean_{name}")
            with bd.instance_at(root / "dagster_home") as instance:
                outcomes[name] = bd.run_first_stage(world(name), world(name).copy(root / "data"), instance)
        return outcomes[name]
    return get


@pytest.mark.parametrize("name", [j.name for j in JOBS])
def test_the_delivery_as_generated_is_accepted(name, clean):
    outcome = clean(name)
    assert outcome.error is None and outcome.accepted, outcome.text
    assert outcome.outputs and all(n > 0 for n in outcome.rows_in().values()), outcome.text


@pytest.mark.parametrize(("name", "case"), cases())
def test_a_broken_delivery_is_refused_naming_it_or_its_bad_rows_set_aside(name, case, world, clean, tmp_path, instance):
    job_world = world(name)
    layout = job_world.copy(tmp_path / "data")
    folder = job_world.landing(layout.root)
    broken = CASES[case](folder)
    if broken is None:
        pytest.skip(f"{name}'s largest delivered file has no floating (FLOAT/DOUBLE) column to set to 1e308 and inf")
    delivered = bd.fingerprint(folder)

    outcome = bd.run_first_stage(job_world, layout, instance)

    assert bd.fingerprint(folder) == delivered, f"{name} changed its delivery folder {folder}"
    assert not bd.TRACEBACK.search(outcome.error or ""), f"traceback text in {name}'s answer:\n{outcome.error}"
    if not outcome.accepted:
        assert any(n in outcome.text for n in broken.names), f"{name} refused without naming {broken.names}:\n{outcome.text}"
        assert not outcome.written, f"{name} refused the delivery but wrote {outcome.written}"
        return
    assert case not in MUST_REFUSE, f"{name} accepted rows from a delivery it cannot have read ({case}):\n{outcome.text}"
    if case == "extra_file":  # read: some landing reader counted exactly the copied file's rows more
        grown = {k: n - clean(name).rows_in()[k] for k, n in outcome.rows_in().items()}
        assert broken.extra_rows in grown.values(), f"{name} accepted but did not read {bd.EXTRA_NAME}: rows in grew by {grown}"
    else:  # an absent column is named
        assert broken.column in json.dumps(list(outcome.metadata.values())), \
            f"{name} accepted without naming column {broken.column}:\n{outcome.text}"
    if broken.planted:  # the values are counted against their column, and no table holds them
        assert bd.counted(list(outcome.metadata.values()), broken.column) >= len(broken.planted), \
            f"{name} accepted without counting {broken.planted} in {broken.column}:\n{outcome.text}"
        assert outcome.outputs, outcome.text
        reached = {str(p): n for p in outcome.outputs if (n := bd.floats_at_least(p, 1e300))}
        assert not reached, f"{name} wrote 1e308/inf from {broken.column} into {reached}"
