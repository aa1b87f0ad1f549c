"""wait_times: ~1,700 per-entity wait-time forecasting models trained daily in a process pool."""
