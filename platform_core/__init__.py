"""Plain logic of the batch-ML platform: no Dagster imports, so tests call it directly."""
