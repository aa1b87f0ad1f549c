"""Settings of the wait_times job (resource key `wait_times`). Every field can be set as
WAIT_TIMES_<FIELD> in the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from resources.settings import JobSettings


class WaitTimesConfig(JobSettings):
    env_prefix: ClassVar[str] = "WAIT_TIMES_"

    min_new_observations: int = Field(default=100, description="An entity is due once it has this many new observations.")
    critical_age_days: int = Field(default=1, description="Tier 1 (critical parks) retrains at least this often (days).")
    other_age_days: int = Field(default=7, description="Other tiers retrain at least this often (days).")
    keep_versions: int = Field(default=5, description="Model versions kept per entity (rollback reaches this far back).")
    horizon_days: int = Field(default=3, description="Forecast days after the partition's day.")
    max_rounds: int = Field(default=400, description="Boosting rounds cap; early stopping (50 rounds) ends most far sooner.")
    workers: int = Field(default=0, description="Pool workers; 0 = min(available RAM * 0.8 / 4 GB, cores, 16).")
    incremental: bool = Field(default=False, description="Continue the champion's trees on new rows instead of a full "
                                                         "retrain (BENCHMARKS.md compares both).")
    max_quarantine_rate: float = Field(default=0.01, description="Above this share of invalid observations a day is refused.")
    stale_hours: float = Field(default=4.0, description="A park with no observation this long before its close is stale.")

    def rules(self):
        from platform_assets.wait_times.logic.entity_index import DueRules

        return DueRules(self.min_new_observations, self.critical_age_days, self.other_age_days)

    def train_settings(self):
        from platform_assets.wait_times.logic.training import TrainSettings

        return TrainSettings(max_rounds=self.max_rounds, keep_versions=self.keep_versions, incremental=self.incremental,
                             workers=self.workers or None)
