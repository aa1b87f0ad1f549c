"""Base of every job's settings resource: each field can be set as <PREFIX><FIELD> in the
environment (PREDICT_AGE_SEED=11), with working local defaults."""

from __future__ import annotations

import os
from typing import ClassVar

import dagster as dg


class JobSettings(dg.ConfigurableResource):
    env_prefix: ClassVar[str] = ""

    @classmethod
    def from_env(cls):
        present = {name: os.environ[cls.env_prefix + name.upper()] for name in cls.model_fields
                   if cls.env_prefix + name.upper() in os.environ}
        return cls(**present)
