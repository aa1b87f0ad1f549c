"""A size that cannot fit is refused before anything is written (platform_core/memory.py), for
every job that states its measured peak."""

import pytest

from platform_assets.definitions import discover_jobs
from platform_core import memory

GIB = 2**30


def test_the_refusal_names_the_need_what_is_available_and_the_largest_size_that_fits():
    peak = lambda rows: GIB + 1_000 * rows  # noqa: E731
    assert memory.refusal("toy", 1_000_000, peak, 4 * GIB, "rows held") is None
    message = memory.refusal("toy", 10_000_000, peak, 4 * GIB, "rows held")
    assert message.startswith("toy: ROWS=10,000,000 needs about 10.3 GiB of memory at its peak (rows held)")
    assert "4.0 GiB available now" in message and "nothing was written" in message and "\n" not in message
    fits = int(message.split("Run it with ROWS=")[1].split(" ")[0].replace(",", ""))
    assert peak(fits) <= 4 * GIB < peak(fits + 1_000)


@pytest.mark.parametrize("name", sorted(j.name for j in discover_jobs() if j.memory_refusal))
def test_each_job_with_a_measured_peak_refuses_what_cannot_fit_and_runs_its_default(name):
    job = next(j for j in discover_jobs() if j.name == name)
    assert job.memory_refusal(job.default_rows, 8 * GIB) is None  # the default fits a small machine
    refused = job.memory_refusal(job.default_rows * 10_000, 20 * GIB)
    assert refused.startswith(f"{name}: ROWS={job.default_rows * 10_000:,} needs about")
