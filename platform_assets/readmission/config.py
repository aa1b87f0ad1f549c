"""Settings of the readmission job (resource key `readmission`). Every field can be set as
READMISSION_<FIELD> in the environment. The windows, algorithms, search budget and gate
thresholds are not here: they are the model config file (`model_config.yaml`), validated as a
prerequisite of training."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from platform_assets.readmission.logic.model_config import DEFAULT_CONFIG_PATH
from resources.settings import JobSettings


class ReadmissionConfig(JobSettings):
    env_prefix: ClassVar[str] = "READMISSION_"

    config_file: str = Field(default=str(DEFAULT_CONFIG_PATH),
                                   description="The model config (YAML or JSON): windows, algorithms, search budget, gates.")
    nthread: int = Field(default=2, description="Threads for tuning, training and scoring.")
    max_unknown_code_rate: float = Field(default=0.05, description="Above this share of unparseable ICD-9 codes a month is refused.")
    max_duplicate_rate: float = Field(default=0.01, description="Above this share of duplicate encounter ids a month is refused.")
