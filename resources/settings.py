"""Base of every job's settings resource: each field can be set as <PREFIX><FIELD> in the
environment (PREDICT_AGE_SEED=11), with working local defaults. A set variable becomes a
`dg.EnvVar` where Dagster supports one (text and integer fields), so it is resolved where the run
executes and shown as an environment variable in the UI; other fields take the value."""

from __future__ import annotations

import os
from typing import ClassVar

import dagster as dg


def env_fields(resource: type[dg.ConfigurableResource], variables: dict[str, str]) -> dict:
    """{field: EnvVar or value} for the variables that are set."""
    values = {}
    for name, variable in variables.items():
        if variable not in os.environ:
            continue
        kind = resource.model_fields[name].annotation
        values[name] = (dg.EnvVar.int(variable) if kind in (int, "int") else dg.EnvVar(variable) if kind in (str, "str")
                        else os.environ[variable])
    return values


class JobSettings(dg.ConfigurableResource):
    env_prefix: ClassVar[str] = ""

    @classmethod
    def from_env(cls):
        return cls(**env_fields(cls, {name: cls.env_prefix + name.upper() for name in cls.model_fields}))
