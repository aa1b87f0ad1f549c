"""predict_age: each quarter, impute a missing age for every person record. Its wiring is in
this package's modules (definitions.py gathers them); its plain logic in logic/, free of dagster."""
