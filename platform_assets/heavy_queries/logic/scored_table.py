"""The replay's scored table (the `heavy_queries_scored_<day>` view): its schema and what each column means.
A module of its own so the asset definitions read it without importing the replay."""

import pyarrow as pa

SCORED_SCHEMA = pa.schema([
    ("query_id", pa.string()), ("day", pa.date32()), ("create_time", pa.timestamp("us")), ("user", pa.string()),
    ("source", pa.string()), ("catalog", pa.string()), ("schema", pa.string()), ("query_type", pa.string()),
    ("query", pa.string()), ("cpu_time_ms", pa.int64()), ("wall_time_ms", pa.int64()), ("peak_memory_bytes", pa.int64()),
    ("error_type", pa.string()), ("heavy", pa.bool_()), ("heavy_reason", pa.string()), ("probability", pa.float64()),
    ("heavy_predicted", pa.bool_()), ("cold_start", pa.bool_()), ("zero_cost_routed", pa.string()), ("unparsed", pa.string()),
    ("model_version", pa.string())])
SCORED_COLUMNS = tuple(SCORED_SCHEMA.names)
SCORED_DESCRIPTIONS = {  # the heavy_queries_scored_<day> view's columns
    "query_id": "Trino query id.",
    "day": "Day the query ran.",
    "create_time": "When the query was submitted.",
    "user": "Submitting user.",
    "source": "Client that submitted it.",
    "catalog": "Catalog the query ran in.",
    "schema": "Schema the query ran in.",
    "query_type": "Trino's query type (SELECT, INSERT, ...).",
    "query": "The SQL text as logged.",
    "cpu_time_ms": "CPU time it used (ms): what made it heavy or not.",
    "wall_time_ms": "Wall time (ms).",
    "peak_memory_bytes": "Peak memory it used (bytes).",
    "error_type": "Trino's error type when it failed, else NULL.",
    "heavy": "The truth: CPU or peak memory at the configured thresholds, or a resource error.",
    "heavy_reason": "cpu, memory or resource_error when heavy, else NULL.",
    "probability": "The model's probability that the query is heavy; NULL when routed without the model.",
    "heavy_predicted": "The decision the champion would have taken before the query ran.",
    "cold_start": "Its fingerprint had no history on its schema, so the cold-start threshold applied.",
    "zero_cost_routed": "The zero-cost category (show, describe, explain, ...) that routed it light without the model, else NULL.",
    "unparsed": "Why the text could not be read (routed heavy, fail safe), else NULL.",
    "model_version": "Registry entry of the champion replayed.",
}
