"""Plain-Python logic of the engagement job: synthetic world, model, scoring and gates (no Dagster)."""
