"""A gate's verdict as plain data: computed by plain functions, matched to Dagster check specs
by name in the wiring (never by list position), so reordering or adding a gate cannot
mislabel one."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    metadata: dict = field(default_factory=dict)
    blocking: bool = True  # False: a failure is a warning, downstream still runs


def all_passed(gates: list[GateResult]) -> bool:
    return all(g.passed for g in gates if g.blocking)
