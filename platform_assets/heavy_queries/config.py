"""Settings of the heavy_queries job (resource key `heavy_queries`). Every field can be set as
HEAVY_QUERIES_<FIELD> in the environment. The heavy thresholds are the local corpus's scaled
pair; production Trino logs use the seed's 300 s CPU / 10 GB (HEAVY_QUERIES_HEAVY_CPU_MS=300000,
HEAVY_QUERIES_HEAVY_PEAK_MEMORY_BYTES=10737418240)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from resources.settings import JobSettings


class HeavyQueriesConfig(JobSettings):
    env_prefix: ClassVar[str] = "HEAVY_QUERIES_"

    heavy_cpu_ms: int = Field(default=250, description="A query is heavy at this CPU time or more (ms).")
    heavy_peak_memory_bytes: int = Field(default=85_000_000, description="... or above this peak memory (bytes), or on a "
                                                                         "resource error.")
    min_recall: float = Field(default=0.98, description="Compliance gate: recall on the test days at the threshold.")
    max_fnr: float = Field(default=0.02, description="Compliance gate: false-negative rate on the test days.")
    compliance_inconclusive: Literal["warn", "block"] = Field(
        default="warn", description="Recall at or above min_recall whose 95% interval still reaches below it: warn "
                                    "(the summary says how many heavy test queries would settle it), or block.")
    cost_fn: float = Field(default=100.0, description="Cost of a heavy query let through (the threshold's FN:FP ratio).")
    max_defect_share: float = Field(default=0.05, description="A window is blocked when one of its days lost more than "
                                                              "this share of its rows to delivery defects (missing "
                                                              "values, another day, unusable costs, duplicates).")
    sample_ratio: float = Field(default=5.0, description="small:heavy ratio after boundary sampling.")
    max_sample_rows: int = Field(default=50_000, description="Most rows the training sample holds: a busier log is sampled "
                                                             "thinner (heavy and small alike), so training stays bounded.")
    tfidf_terms: int = Field(default=750, description="TF-IDF vocabulary size (the seed: 500-1,000).")

    def pipeline_config(self):
        from platform_assets.heavy_queries.logic.pipeline import model_config

        return model_config(self.heavy_cpu_ms, self.heavy_peak_memory_bytes, min_recall=self.min_recall,
                            max_fnr=self.max_fnr, compliance_inconclusive=self.compliance_inconclusive,
                            max_defect_share=self.max_defect_share, cost_fn=self.cost_fn,
                            sample_ratio=self.sample_ratio, max_sample_rows=self.max_sample_rows,
                            tfidf_terms=self.tfidf_terms)
