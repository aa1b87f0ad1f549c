"""Dagster wiring of the platform (one folder per job) and the commands around it. Importing
the package loads nothing: a job's logic/ stays free of dagster."""
