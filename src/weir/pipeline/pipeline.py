"""A loaded pipeline: its validated spec, its DAG, and where each block's code lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from weir.errors import PipelineValidationError
from weir.pipeline.dag import Dag
from weir.pipeline.spec import BlockSpec, PipelineSpec
from weir.project.layout import NON_EXECUTABLE_BLOCK_TYPES, block_file_path
from weir.project.project import PROJECT_METADATA_FILE, Project
from weir.project.yaml_files import read_yaml_mapping

PIPELINE_TYPES = frozenset({"python", "integration", "streaming", "pyspark", "databricks"})


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A validated pipeline.

    Attributes:
        spec: the parsed metadata.yaml.
        dag: the executable blocks (markdown and scratchpad blocks excluded) and their edges.
        metadata_path: the pipeline's metadata.yaml.
        block_files: block uuid -> its code file, for every executable block.
    """

    spec: PipelineSpec
    dag: Dag
    metadata_path: Path
    block_files: Mapping[str, Path]

    @property
    def uuid(self) -> str:
        """The pipeline's uuid (its folder name)."""
        return self.spec.uuid

    def block(self, block_uuid: str) -> BlockSpec:
        """The spec of one block.

        Raises:
            PipelineValidationError: no block with that uuid; lists the known ones.
        """
        for block in self.spec.blocks:
            if block.uuid == block_uuid:
                return block
        known = ", ".join(b.uuid for b in self.spec.blocks)
        raise PipelineValidationError(
            f"pipeline '{self.uuid}' has no block '{block_uuid}' (blocks: {known})"
        )


def load_pipeline(project: Project, pipeline_uuid: str) -> Pipeline:
    """Load and validate `pipelines/<pipeline_uuid>/metadata.yaml`.

    Args:
        project: the project holding the pipeline.
        pipeline_uuid: the pipeline's folder name.

    Returns:
        The validated pipeline.

    Raises:
        PipelineValidationError: the file is missing, a key has a wrong type, a block uuid appears
            twice, an upstream block is unknown, the blocks form a cycle, or a block's code file is
            missing. The message names the file and the key.
        ConfigError: the YAML itself is malformed.
    """
    path = project.pipeline_dir(pipeline_uuid) / PROJECT_METADATA_FILE
    if not path.is_file():
        known = ", ".join(project.pipeline_uuids()) or "none"
        raise PipelineValidationError(
            f"no pipeline '{pipeline_uuid}' in {project.root} ({path} not found; pipelines: {known})"
        )
    raw = read_yaml_mapping(path, what="pipeline metadata")
    raw.setdefault("uuid", pipeline_uuid)
    spec = _parse_spec(raw, path)
    if spec.type not in PIPELINE_TYPES:
        raise PipelineValidationError(
            f"{path}: key 'type' is '{spec.type}'; expected one of {', '.join(sorted(PIPELINE_TYPES))}"
        )
    executable = [b for b in spec.blocks if b.type not in NON_EXECUTABLE_BLOCK_TYPES]
    _check_unique_uuids(spec, path)
    _check_downstream_known(executable, path)
    dag = Dag({b.uuid: b.upstream_blocks for b in executable}, source=str(path))
    files = {b.uuid: _block_file(project, b, path) for b in executable}
    return Pipeline(spec=spec, dag=dag, metadata_path=path, block_files=MappingProxyType(files))


def _parse_spec(raw: dict[str, Any], path: Path) -> PipelineSpec:
    try:
        return PipelineSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(error, raw) for error in exc.errors()]
        raise PipelineValidationError(f"{path}: " + "; ".join(problems)) from None


def _describe(error: Any, raw: dict[str, Any]) -> str:
    location = error["loc"]
    parts: list[str] = []
    node: Any = raw
    for step in location:
        if isinstance(step, int):
            parts[-1] = f"{parts[-1]}[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
            if isinstance(node, dict) and "uuid" in node:
                parts[-1] += f" (uuid '{node['uuid']}')"
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return f"key '{'.'.join(parts)}': {error['msg']} (got {error.get('input')!r})"


def _check_unique_uuids(spec: PipelineSpec, path: Path) -> None:
    seen: set[str] = set()
    for block in (*spec.blocks, *spec.callbacks, *spec.conditionals):
        if block.uuid in seen:
            raise PipelineValidationError(
                f"{path}: key 'blocks': block uuid '{block.uuid}' appears more than once; "
                "each block needs its own uuid"
            )
        seen.add(block.uuid)


def _check_downstream_known(blocks: list[BlockSpec], path: Path) -> None:
    known = {b.uuid for b in blocks}
    for block in blocks:
        for child in block.downstream_blocks:
            if child not in known:
                raise PipelineValidationError(
                    f"{path}: block '{block.uuid}' key 'downstream_blocks' names '{child}', "
                    "which is not a block of this pipeline"
                )


def _block_file(project: Project, block: BlockSpec, metadata_path: Path) -> Path:
    try:
        file_path = block_file_path(
            project.root, block.type, block.uuid, block.language, block.configuration
        )
    except KeyError as exc:
        raise PipelineValidationError(
            f"{metadata_path}: block '{block.uuid}' has an unknown type or language "
            f"({block.type!r}, {block.language!r}): {exc}"
        ) from None
    # YAML blocks hold an integration pipeline's source/destination; a dbt YAML block may name
    # its command in `configuration` alone, so its file is not required.
    has_code = block.language in ("python", "sql", "r") or (
        block.language == "yaml" and block.type != "dbt"
    )
    if has_code and not file_path.is_file():
        raise PipelineValidationError(
            f"{metadata_path}: block '{block.uuid}' ({block.type}, {block.language}) has no code "
            f"file: {file_path} does not exist; create it or fix the block's uuid/type"
        )
    return file_path
