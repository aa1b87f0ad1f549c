"""One harness for every job (issue #26): a small delivery of the job's default partition, broken
in one way, through the assets of its first stage that read the landing folder. Each answer is a
refusal (JobRunFailed, or the delivery set aside on the materialization) naming the broken file,
column or folder with no traceback and writing no table, or an acceptance that read every file,
counted the bad rows and kept them out of the tables. The delivery folder is byte-identical
afterwards. Jobs come from JOBS and columns from the delivered Parquet, so a new job is covered by
being a job. Cases a job fails today are strict xfails naming the defect (KNOWN_DEFECTS)."""

from __future__ import annotations

import pytest

from platform_assets.definitions import JOBS
from tests import bad_deliveries as bd
from tests.instances import instance_at

CASES = {
    "csv_text": bd.csv_text,  # the largest Parquet file replaced by CSV text
    "truncated": bd.truncated,  # the largest file cut to half its bytes
    "extra_file": bd.extra_file,  # `notes part 2.parquet`, a copy of the largest file
    "dropped_column": bd.dropped_column,  # the first non-key column of the largest file removed
    "huge_and_infinite": bd.huge_and_infinite,  # 1e308 and inf in its first floating column
    "empty": bd.empty,  # only the completion marker
}
NOT_APPLICABLE = {"dropped_column": "has no column outside its key",
                  "huge_and_infinite": "has no floating (FLOAT/DOUBLE) column to set to 1e308 and inf"}
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}  # (job, case) -> the defect, shown as a strict xfail


def cases() -> list:
    return [pytest.param(job.name, case, id=f"{job.name}-{case}", marks=[pytest.mark.xfail(strict=True, reason=defect)]
                         if (defect := KNOWN_DEFECTS.get((job.name, case))) else [])
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
            with instance_at(root / "dagster_home") as instance:
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
    ran = bd.break_and_run(world(name), CASES[case], tmp_path / "data", instance)
    if ran is None:
        pytest.skip(f"{name}: the largest delivered file {NOT_APPLICABLE[case]}")
    broken, outcome = ran
    found = bd.problems(broken, outcome, clean(name))
    assert not found, f"{name} {case}: " + "; ".join(found) + f"\n{outcome.text}"


@pytest.mark.parametrize(("case", "expected"), [("csv_text", ["refused without naming part-0.parquet"]), ("extra_file", [])])
def test_a_job_outside_jobs_is_judged_by_the_same_harness(case, expected, tmp_path, instance):
    """The fixture's toy job, which reads `*.parquet` with polars and nothing more: the harness needs
    nothing of a job but the job, and its judgement fails a refusal that names no file (polars: "The
    file must end with PAR1") while it passes reading the extra file."""
    from tests.fixtures import toy_job

    world = bd.World.generate(toy_job.job, tmp_path / "world")
    with instance_at(tmp_path / "clean_home") as clean_instance:
        clean = bd.run_first_stage(world, world.copy(tmp_path / "clean"), clean_instance)
    broken, outcome = bd.break_and_run(world, CASES[case], tmp_path / "data", instance)
    assert bd.problems(broken, outcome, clean) == expected, outcome.text
