"""What the engine hands a block executor, and what it gets back.

Each block language (Python, SQL, later R and dbt) has one executor function with the signature
`execute(request: BlockRequest) -> BlockResult`. The engine owns retries, timeouts, statuses and
persistence; an executor only turns inputs into outputs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class UpstreamInput:
    """The data product of one upstream block, as a downstream block receives it.

    Attributes:
        block_uuid: the upstream block's uuid.
        value: the upstream's output object (output_0 when it returned one value, a tuple of all
            its outputs when it returned a tuple). Taken from memory in the same process, or read
            from disk when this block is re-run alone.
        paths: the persisted files of each output (`output_<n>` data file), in output order; empty
            when the output was not persisted yet. SQL engines may query these in place.
        language: the upstream block's language (`python`, `sql`, ...).
    """

    block_uuid: str
    value: Any
    paths: tuple[Path, ...] = ()
    language: str = "python"


@dataclass(frozen=True, slots=True)
class BlockRequest:
    """Everything needed to run one block once.

    Attributes:
        project_root: the project's folder (holds `io_config.yaml`, `utils/`).
        pipeline_uuid: uuid of the pipeline the block runs in.
        block_uuid: the block's uuid.
        block_type: Mage block type (`data_loader`, `transformer`, `data_exporter`, `custom`, ...).
        language: `python` or `sql`.
        file_path: absolute path of the block's code file.
        upstream: one input per upstream block, in `upstream_blocks` order.
        variables: merged variables (pipeline < trigger < runtime), passed as keyword arguments.
        configuration: the block's `configuration` mapping from the pipeline's metadata.yaml.
        pipeline_run_id: id of the pipeline run in the metadata database.
        execution_date: the run's logical date (timezone-aware UTC).
        logger: writes to the block run's log file.
    """

    project_root: Path
    pipeline_uuid: str
    block_uuid: str
    block_type: str
    language: str
    file_path: Path
    upstream: tuple[UpstreamInput, ...]
    variables: Mapping[str, Any]
    configuration: Mapping[str, Any]
    pipeline_run_id: int
    execution_date: datetime
    logger: logging.Logger


@dataclass(frozen=True, slots=True)
class BlockResult:
    """The outputs of one block run, in order (`output_0`, `output_1`, ...); may be empty."""

    outputs: tuple[Any, ...] = field(default_factory=tuple)
