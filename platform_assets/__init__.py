"""Dagster wiring of the platform: assets, checks, partitions, jobs, one Definitions."""

import warnings

import dagster as dg

# Two beta APIs are used on purpose (DAGSTER_NOTES.md): `backfill_policy` on prediction_batches
# and `MultiToSingleDimensionPartitionMapping`; their warnings would only bury real output.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
