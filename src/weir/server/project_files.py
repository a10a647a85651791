"""Pipelines and block code on disk, as the API reads and changes them (Mage's layout).

A pipeline is `pipelines/<uuid>/metadata.yaml`; a block's code is the file Mage's layout names
(`weir.project.layout.block_file_path`). Every change is checked before it is written: the new
metadata must parse as a `PipelineSpec`, its blocks must form a DAG and have their code files;
the file is then replaced atomically (`write_yaml_mapping`) and loaded again with
`load_pipeline`, and put back as it was if that fails. Changes are serialised by a lock per
process, so two requests in one server cannot interleave their read-modify-write.

The API never reads or writes a file outside the project folder, whatever a block's
`configuration.file_path` says.
"""

from __future__ import annotations

import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from weir.errors import ConfigError, ConflictError, NotFoundError, PipelineValidationError
from weir.pipeline.dag import Dag
from weir.pipeline.pipeline import PIPELINE_TYPES, Pipeline, load_pipeline
from weir.pipeline.spec import PipelineSpec
from weir.project.layout import (
    BLOCK_TYPE_FOLDERS,
    LANGUAGE_EXTENSIONS,
    NON_EXECUTABLE_BLOCK_TYPES,
    block_file_path,
)
from weir.project.project import PROJECT_METADATA_FILE, Project
from weir.project.yaml_files import read_yaml_mapping, write_yaml_mapping

__all__ = [
    "BLOCK_UUID_PATTERN",
    "PIPELINE_UUID_PATTERN",
    "BlockFile",
    "PipelineEntry",
    "add_block",
    "create_pipeline",
    "delete_pipeline",
    "list_pipelines",
    "read_block",
    "read_pipeline",
    "remove_block",
    "update_pipeline",
    "write_block_code",
]

PIPELINE_UUID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"
BLOCK_UUID_PATTERN: Final = r"^[A-Za-z0-9_][A-Za-z0-9_-]*(/[A-Za-z0-9_][A-Za-z0-9_-]*)*$"
_PIPELINE_UUID = re.compile(PIPELINE_UUID_PATTERN)
_BLOCK_UUID = re.compile(BLOCK_UUID_PATTERN)
_MAX_BLOCK_UUID = 255
_WRITE_LOCK = threading.Lock()

_PYTHON_TEMPLATE: Final = '''if "{decorator}" not in globals():
    from weir import {decorator}


@{decorator}
def {function}(*args, **kwargs):
    """{what}"""
    {body}
'''
_PYTHON_BODIES: Final = {
    "data_loader": ("Load data.", "return None"),
    "transformer": ("Transform the upstream output.", "return args[0] if args else None"),
    "data_exporter": ("Export the upstream output.", "return None"),
    "custom": ("Custom code.", "return None"),
    "sensor": ("Return True once the condition holds.", "return True"),
}


@dataclass(frozen=True, slots=True)
class PipelineEntry:
    """A pipeline as found on disk.

    Attributes:
        uuid: its folder name.
        metadata: its metadata.yaml as read ({} when it cannot be read).
        pipeline: the loaded, validated pipeline, or None when it does not load.
        error: why it does not load (the message names the file and key), else None.
    """

    uuid: str
    metadata: dict[str, Any]
    pipeline: Pipeline | None
    error: str | None


@dataclass(frozen=True, slots=True)
class BlockFile:
    """A block of a pipeline with its code.

    Attributes:
        spec: the block's entry in the pipeline's metadata.yaml, as written there.
        path: its code file, relative to the project folder.
        content: the file's text; None when the file does not exist.
    """

    spec: dict[str, Any]
    path: str
    content: str | None


def _metadata_path(project: Project, uuid: str) -> Path:
    return project.pipeline_dir(uuid) / PROJECT_METADATA_FILE


def _check_pipeline_uuid(uuid: str) -> None:
    if not _PIPELINE_UUID.fullmatch(uuid):
        raise ConfigError(
            f"pipeline uuid {uuid!r} is not allowed: use letters, digits, '_' and '-' "
            "(up to 255), starting with a letter or digit"
        )


def _existing_metadata(project: Project, uuid: str) -> tuple[Path, dict[str, Any]]:
    path = _metadata_path(project, uuid)
    if not _PIPELINE_UUID.fullmatch(uuid) or not path.is_file():
        raise NotFoundError(f"no pipeline '{uuid}' in project {project.root}")
    return path, read_yaml_mapping(path, what="pipeline metadata")


def _entry(project: Project, uuid: str) -> PipelineEntry:
    try:
        metadata = read_yaml_mapping(_metadata_path(project, uuid), what="pipeline metadata")
    except ConfigError as exc:
        return PipelineEntry(uuid=uuid, metadata={}, pipeline=None, error=str(exc))
    try:
        pipeline = load_pipeline(project, uuid)
    except ConfigError as exc:
        return PipelineEntry(uuid=uuid, metadata=metadata, pipeline=None, error=str(exc))
    return PipelineEntry(uuid=uuid, metadata=metadata, pipeline=pipeline, error=None)


def list_pipelines(project: Project) -> list[PipelineEntry]:
    """Every pipeline of the project, sorted by uuid; broken ones carry their error."""
    return [_entry(project, uuid) for uuid in project.pipeline_uuids()]


def read_pipeline(project: Project, uuid: str) -> PipelineEntry:
    """One pipeline, loaded if it can be.

    Raises:
        NotFoundError: the project has no such pipeline.
    """
    _existing_metadata(project, uuid)
    return _entry(project, uuid)


def _spec(metadata: dict[str, Any], path: Path) -> PipelineSpec:
    try:
        spec = PipelineSpec.model_validate(metadata)
    except ValidationError as exc:
        problems = "; ".join(
            f"key '{'.'.join(str(part) for part in error['loc'])}': {error['msg']}"
            for error in exc.errors()
        )
        raise PipelineValidationError(f"{path}: {problems}") from None
    if spec.type not in PIPELINE_TYPES:
        raise PipelineValidationError(
            f"{path}: key 'type' is '{spec.type}'; expected one of {', '.join(sorted(PIPELINE_TYPES))}"
        )
    return spec


def _check(project: Project, metadata: dict[str, Any], path: Path) -> None:
    spec = _spec(metadata, path)
    executable = [b for b in spec.blocks if b.type not in NON_EXECUTABLE_BLOCK_TYPES]
    for block in spec.blocks:
        _check_block_uuid(block.uuid)
    Dag({b.uuid: b.upstream_blocks for b in executable}, source=str(path))
    for block in executable:
        _inside_project(project, _block_path(project, block.model_dump(), path))


def _write_checked(project: Project, uuid: str, metadata: dict[str, Any]) -> PipelineEntry:
    path = _metadata_path(project, uuid)
    _check(project, metadata, path)
    previous = path.read_bytes() if path.is_file() else None
    write_yaml_mapping(path, metadata)
    try:
        load_pipeline(project, uuid)
    except ConfigError:
        if previous is None:
            shutil.rmtree(path.parent, ignore_errors=True)
        else:
            path.write_bytes(previous)
        raise
    return _entry(project, uuid)


def create_pipeline(project: Project, metadata: dict[str, Any]) -> PipelineEntry:
    """Create `pipelines/<uuid>/metadata.yaml` from a mapping of Mage's keys.

    Args:
        project: the project.
        metadata: at least `uuid`; `type` defaults to `python`, `blocks` to none. Every block
            listed must already have its code file (add blocks later with `add_block`).

    Returns:
        The new pipeline.

    Raises:
        ConfigError: the uuid is not a safe folder name.
        ConflictError: a pipeline with that uuid exists.
        PipelineValidationError: the metadata breaks a rule (names the key).
    """
    uuid = str(metadata.get("uuid", ""))
    _check_pipeline_uuid(uuid)
    content = {"uuid": uuid, "type": "python", "blocks": [], **metadata}
    with _WRITE_LOCK:
        if project.pipeline_dir(uuid).exists():
            raise ConflictError(f"pipeline '{uuid}' exists already in {project.pipelines_dir}")
        return _write_checked(project, uuid, content)


def update_pipeline(project: Project, uuid: str, changes: dict[str, Any]) -> PipelineEntry:
    """Change top-level keys of a pipeline's metadata.yaml; keys not given are kept.

    Args:
        project: the project.
        uuid: the pipeline.
        changes: Mage keys and their new values (`name`, `description`, `blocks`,
            `variables`, `concurrency_config`, ...). `uuid`, if given, must not change.

    Returns:
        The pipeline after the change.

    Raises:
        NotFoundError: no such pipeline.
        ConfigError: the change renames the pipeline.
        PipelineValidationError: the result breaks a rule; nothing is written.
    """
    with _WRITE_LOCK:
        _path, current = _existing_metadata(project, uuid)
        if changes.get("uuid", uuid) != uuid:
            raise ConfigError(
                f"pipeline '{uuid}': key 'uuid' cannot change; create a new pipeline instead"
            )
        return _write_checked(project, uuid, {**current, **changes})


def delete_pipeline(project: Project, uuid: str) -> None:
    """Delete a pipeline's folder (as Mage does). Block code files stay: others may share them.

    Raises:
        NotFoundError: no such pipeline.
    """
    with _WRITE_LOCK:
        _existing_metadata(project, uuid)
        shutil.rmtree(project.pipeline_dir(uuid))


def _check_block_uuid(uuid: str) -> None:
    if len(uuid) > _MAX_BLOCK_UUID or not _BLOCK_UUID.fullmatch(uuid):
        raise PipelineValidationError(
            f"block uuid {uuid!r} is not allowed: use letters, digits, '_' and '-', with '/' "
            "only between sub-folder names"
        )


def _block_path(project: Project, block: dict[str, Any], where: Path) -> Path:
    try:
        return block_file_path(
            project.root,
            str(block.get("type")),
            str(block.get("uuid")),
            str(block.get("language", "python")),
            block.get("configuration") or {},
        )
    except KeyError as exc:
        raise PipelineValidationError(
            f"{where}: block '{block.get('uuid')}' has an unknown type or language ({exc}); "
            f"types: {', '.join(sorted(BLOCK_TYPE_FOLDERS))}; "
            f"languages: {', '.join(sorted(LANGUAGE_EXTENSIONS))}"
        ) from None


def _inside_project(project: Project, path: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(project.root.resolve()):
        raise ConfigError(
            f"block file {path} is outside the project folder {project.root}; the API only "
            "reads and writes files inside the project"
        )
    return resolved


def _block_entry(project: Project, uuid: str, block_uuid: str) -> tuple[Path, dict[str, Any]]:
    path, metadata = _existing_metadata(project, uuid)
    for block in metadata.get("blocks") or []:
        if isinstance(block, dict) and block.get("uuid") == block_uuid:
            return _inside_project(project, _block_path(project, block, path)), block
    raise NotFoundError(f"pipeline '{uuid}' has no block '{block_uuid}'")


def read_block(project: Project, uuid: str, block_uuid: str) -> BlockFile:
    """A block's entry in the pipeline and its code.

    Raises:
        NotFoundError: no such pipeline, or no such block in it.
        ConfigError: the block's file lies outside the project.
    """
    file_path, spec = _block_entry(project, uuid, block_uuid)
    content = file_path.read_text(encoding="utf-8") if file_path.is_file() else None
    relative = file_path.relative_to(project.root.resolve()).as_posix()
    return BlockFile(spec=spec, path=relative, content=content)


def write_block_code(project: Project, uuid: str, block_uuid: str, content: str) -> BlockFile:
    """Replace a block's code file (atomically: temporary file, then rename).

    Raises:
        NotFoundError: no such pipeline, or no such block in it.
        ConfigError: the block's file lies outside the project.
    """
    with _WRITE_LOCK:
        file_path = _block_entry(project, uuid, block_uuid)[0]
        _write_text(file_path, content)
    return read_block(project, uuid, block_uuid)


def _write_text(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(content, encoding="utf-8")
    temporary.replace(path)


def starter_code(block_type: str, language: str, block_uuid: str) -> str:
    """The code a new block file starts with when none is given (Mage's templates, trimmed)."""
    if language == "sql":
        return f"-- {block_uuid}: one SELECT; upstream outputs are {{{{ df_1 }}}}, {{{{ df_2 }}}}, ...\n"
    if language != "python":
        return ""
    what, body = _PYTHON_BODIES.get(block_type, ("Block code.", "return None"))
    function = re.sub(r"\W", "_", block_uuid.rsplit("/", 1)[-1])
    return _PYTHON_TEMPLATE.format(decorator=block_type, function=function, what=what, body=body)


def add_block(project: Project, uuid: str, block: dict[str, Any], content: str | None) -> BlockFile:
    """Add a block to a pipeline: write its code file if it has none, then list it.

    Args:
        project: the project.
        uuid: the pipeline.
        block: the block's entry (Mage keys: `uuid`, `type`, `language`, `upstream_blocks`,
            `configuration`, ...). The `downstream_blocks` of its upstream blocks are updated.
        content: the code; None keeps an existing file or writes `starter_code`.

    Returns:
        The added block with its code.

    Raises:
        NotFoundError: no such pipeline.
        ConflictError: the pipeline has a block with that uuid already.
        PipelineValidationError: the block's uuid, type or upstream blocks are wrong.
    """
    block_uuid = str(block.get("uuid", ""))
    _check_block_uuid(block_uuid)
    with _WRITE_LOCK:
        path, metadata = _existing_metadata(project, uuid)
        blocks = [dict(b) for b in metadata.get("blocks") or [] if isinstance(b, dict)]
        if any(b.get("uuid") == block_uuid for b in blocks):
            raise ConflictError(f"pipeline '{uuid}' has a block '{block_uuid}' already")
        entry: dict[str, Any] = {
            "uuid": block_uuid,
            "type": block.get("type"),
            "language": "python",
            "upstream_blocks": [],
            "downstream_blocks": [],
            "configuration": {},
        }
        entry.update(block, downstream_blocks=[])
        file_path = _inside_project(project, _block_path(project, entry, path))
        for parent in blocks:
            if parent.get("uuid") in entry["upstream_blocks"]:
                parent["downstream_blocks"] = [*(parent.get("downstream_blocks") or []), block_uuid]
        created = not file_path.exists()
        if content is not None or created:
            code = starter_code(entry["type"], entry["language"], block_uuid)
            _write_text(file_path, code if content is None else content)
        try:
            _write_checked(project, uuid, {**metadata, "blocks": [*blocks, entry]})
        except ConfigError:
            if created:
                file_path.unlink(missing_ok=True)
            raise
    return read_block(project, uuid, block_uuid)


def remove_block(project: Project, uuid: str, block_uuid: str) -> None:
    """Take a block out of a pipeline; its code file stays (other pipelines may use it).

    Raises:
        NotFoundError: no such pipeline or block.
        PipelineValidationError: other blocks still list it upstream; remove those edges first.
    """
    with _WRITE_LOCK:
        _block_entry(project, uuid, block_uuid)
        _path, metadata = _existing_metadata(project, uuid)
        blocks = [dict(b) for b in metadata.get("blocks") or [] if isinstance(b, dict)]
        users = [b["uuid"] for b in blocks if block_uuid in (b.get("upstream_blocks") or [])]
        if users:
            raise PipelineValidationError(
                f"pipeline '{uuid}': block '{block_uuid}' is upstream of {', '.join(users)}; "
                "remove it from their upstream_blocks first"
            )
        kept = [b for b in blocks if b.get("uuid") != block_uuid]
        for other in kept:
            downstream = other.get("downstream_blocks") or []
            if block_uuid in downstream:
                other["downstream_blocks"] = [d for d in downstream if d != block_uuid]
        _write_checked(project, uuid, {**metadata, "blocks": kept})
