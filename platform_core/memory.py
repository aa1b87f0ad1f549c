"""A size a user asks for that cannot fit in memory is refused before anything is written, in one
paragraph with the largest size that fits, instead of the kernel killing the run part-way. Each
job states its peak as a function of its size, from measured runs (BENCHMARKS.md)."""

from __future__ import annotations

from typing import Callable

GIB = 2**30


def largest_fitting(peak_bytes: Callable[[int], int], available_bytes: int, upper: int) -> int:
    """The largest size below `upper` whose peak fits (peak_bytes grows with the size), 0 if none."""
    low, high = 0, upper
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if peak_bytes(middle) <= available_bytes else (low, middle - 1)
    return low


def refusal(job: str, rows: int, peak_bytes: Callable[[int], int], available_bytes: int, what_grows: str) -> str | None:
    """One paragraph saying why `rows` does not fit in `available_bytes`, or None when it does."""
    need = peak_bytes(rows)
    if need <= available_bytes:
        return None
    fits = largest_fitting(peak_bytes, available_bytes, rows)
    rounded = fits // 1000 * 1000 if fits >= 1000 else fits
    return (f"{job}: ROWS={rows:,} needs about {need / GIB:.1f} GiB of memory at its peak ({what_grows}) and this "
            f"machine has {available_bytes / GIB:.1f} GiB available now, so the kernel would kill the run part-way; "
            f"nothing was written. Run it with ROWS={rounded:,} or fewer, free memory, or use a machine with more.")
