"""Pipelines: the Mage metadata.yaml keys, validation, and the DAG."""

from weir.pipeline.dag import Dag
from weir.pipeline.pipeline import Pipeline, load_pipeline
from weir.pipeline.spec import BlockSpec, ConcurrencyConfig, PipelineSpec, RetryConfig

__all__ = [
    "BlockSpec",
    "ConcurrencyConfig",
    "Dag",
    "Pipeline",
    "PipelineSpec",
    "RetryConfig",
    "load_pipeline",
]
