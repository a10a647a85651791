"""Stand-in for `mage_ai.data_preparation.variable_manager`: read block outputs and variables.

`get_variable(pipeline_uuid, block_uuid, 'output_0')` returns that block's output as Weir
persisted it (`weir.data_products`): from the run the caller belongs to when the engine told Weir
which run that is and the block's output is on disk there, else from the block's newest completed
block run in that pipeline, found in the project's metadata database (`WEIR_DATABASE_URL`, else
`<data dir>/weir.db`). Inside a run, prefer the block's positional arguments for upstream
outputs: they never race with the upstream block's write to disk.

Differences from Mage: only `output_<n>` (and Mage's older name `df` for `output_0`) exist, since
Weir stores a block's outputs by position; `partition` (Mage's storage layout) is not supported;
a missing output raises `DataProductError` saying what to run, where Mage returns None.
"""

from __future__ import annotations

import re
from typing import Any

from weir.compat.context import current_block_context, current_project_root
from weir.data_products import DataProductStore
from weir.errors import DataProductError
from weir.pipeline import load_pipeline
from weir.project import Project, load_project

__all__ = ["get_global_variable", "get_variable"]

_OUTPUT_KEY = re.compile(r"output_(\d+)\Z")
_IGNORED = frozenset(
    {"variable_type", "raise_exception", "spark", "clean_block_uuid", "dataframe_analysis_keys"}
)


def get_variable(
    pipeline_uuid: str,
    block_uuid: str,
    key: str,
    *,
    partition: str | None = None,
    sample: bool = False,
    sample_count: int | None = None,
    **kwargs: Any,
) -> Any:
    """One output of a block, from its latest completed run (see the module notes).

    Args:
        pipeline_uuid: the pipeline the block belongs to.
        block_uuid: the block.
        key: `output_0`, `output_1`, ... (or `df` for `output_0`).
        partition: Mage's storage partition; must be None.
        sample: return only the first `sample_count` rows of a table.
        sample_count: how many rows `sample` returns.
        **kwargs: Mage's `variable_type`, `raise_exception`, `spark`, `clean_block_uuid`,
            `dataframe_analysis_keys`; accepted and ignored.

    Returns:
        The output as the block returned it (DataFrame, list, dict, ...).

    Raises:
        DataProductError: the key is not an output name, or the block has no completed run with
            that output; the message says what to run.
        ValueError: a `partition` was given.
        TypeError: an unknown keyword argument.
    """
    unknown = sorted(set(kwargs) - _IGNORED)
    if unknown:
        raise TypeError(f"get_variable() got unexpected keyword argument(s) {', '.join(unknown)}")
    if partition is not None:
        raise ValueError(
            "get_variable(partition=...) is not supported: Weir keeps outputs per run and reads "
            "the block's latest completed run"
        )
    index = _output_index(pipeline_uuid, block_uuid, key)
    project = load_project(current_project_root())
    store = DataProductStore(project.data_dir / "pipeline_runs")
    value = store.read_output(
        _run_holding(project, store, pipeline_uuid, block_uuid), block_uuid, index
    )
    if sample and sample_count is not None and hasattr(value, "head"):
        return value.head(sample_count)
    return value


def get_global_variable(pipeline_uuid: str, key: str) -> Any:
    """A pipeline variable: `variables:` in `pipelines/<pipeline_uuid>/metadata.yaml`.

    Args:
        pipeline_uuid: the pipeline.
        key: the variable's name.

    Returns:
        Its value, or None when the pipeline does not set it (as Mage).

    Raises:
        PipelineValidationError: no such pipeline, or its metadata.yaml is invalid.
    """
    project = load_project(current_project_root())
    return load_pipeline(project, pipeline_uuid).spec.variables.get(key)


def _output_index(pipeline_uuid: str, block_uuid: str, key: str) -> int:
    if key == "df":
        return 0
    match = _OUTPUT_KEY.match(key)
    if match is None:
        raise DataProductError(
            f"pipeline '{pipeline_uuid}', block '{block_uuid}': no variable {key!r}; Weir keeps "
            "a block's outputs as output_0, output_1, ... in the order it returns them"
        )
    return int(match.group(1))


def _run_holding(
    project: Project, store: DataProductStore, pipeline_uuid: str, block_uuid: str
) -> int:
    """The run whose outputs of `block_uuid` to read: the caller's, else the newest completed."""
    context = current_block_context()
    if (
        context is not None
        and context.pipeline_run_id is not None
        and context.pipeline_uuid == pipeline_uuid
        and store.exists(context.pipeline_run_id, block_uuid)
    ):
        return context.pipeline_run_id
    from weir.runs import RunStore, default_database_url

    with RunStore(default_database_url(project.data_dir)) as runs:
        record = runs.latest_block_run(pipeline_uuid, block_uuid)
    if record is None:
        raise DataProductError(
            f"pipeline '{pipeline_uuid}', block '{block_uuid}' has no completed run in "
            f"{project.root}; run it first: weir run {project.root} {pipeline_uuid}"
        )
    return record.pipeline_run_id
