"""Weir: data pipelines that integrate, transform and orchestrate; runs Mage projects unchanged.

The public surface is small on purpose: the block decorators (for `from weir import transformer`),
`run_pipeline` to run a pipeline from Python, and the loaders of projects and pipelines.
Everything else is reached through its sub-package.
"""

from weir.blocks.decorators import (
    callback,
    condition,
    custom,
    data_exporter,
    data_loader,
    on_failure,
    on_success,
    sensor,
    test,
    transformer,
)

__all__ = [
    "callback",
    "condition",
    "custom",
    "data_exporter",
    "data_loader",
    "load_pipeline",
    "load_project",
    "on_failure",
    "on_success",
    "run_pipeline",
    "sensor",
    "test",
    "transformer",
]


def __getattr__(name: str) -> object:
    # Lazy, so `import weir` (done by every block file) stays cheap.
    if name == "run_pipeline":
        from weir.engine.runner import run_pipeline

        return run_pipeline
    if name == "load_project":
        from weir.project.project import load_project

        return load_project
    if name == "load_pipeline":
        from weir.pipeline.pipeline import load_pipeline

        return load_pipeline
    raise AttributeError(f"module 'weir' has no attribute {name!r}")
