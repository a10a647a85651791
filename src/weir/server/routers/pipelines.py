"""Pipelines of the project: `/api/pipelines` (Mage's metadata.yaml, read and written back)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, status

from weir.server import project_files
from weir.server.context import Context, require_reader
from weir.server.project_files import PipelineEntry
from weir.server.responses import ERROR_RESPONSES
from weir.server.schemas import (
    BlockSummary,
    PipelineCreate,
    PipelineOut,
    PipelineSummary,
    PipelineUpdate,
)

router = APIRouter(
    prefix="/api/pipelines",
    tags=["pipelines"],
    dependencies=[Depends(require_reader)],
    responses=ERROR_RESPONSES,
)


def _text(metadata: dict[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    return None if value is None else str(value)


def _blocks(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = metadata.get("blocks")
    return [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []


def summary(entry: PipelineEntry) -> PipelineSummary:
    """A listing entry from what is on disk (works for pipelines that do not load)."""
    tags = entry.metadata.get("tags")
    return PipelineSummary(
        uuid=entry.uuid,
        name=_text(entry.metadata, "name"),
        type=_text(entry.metadata, "type"),
        description=_text(entry.metadata, "description"),
        tags=[str(tag) for tag in tags] if isinstance(tags, list) else [],
        block_count=len(_blocks(entry.metadata)),
        error=entry.error,
    )


def _list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def detail(entry: PipelineEntry) -> PipelineOut:
    """The full view of one pipeline."""
    blocks = [
        BlockSummary(
            uuid=str(block.get("uuid")),
            name=_text(block, "name"),
            type=str(block.get("type")),
            language=str(block.get("language") or "python"),
            upstream_blocks=_list(block.get("upstream_blocks")),
            downstream_blocks=_list(block.get("downstream_blocks")),
        )
        for block in _blocks(entry.metadata)
    ]
    return PipelineOut(**summary(entry).model_dump(), blocks=blocks, metadata=entry.metadata)


@router.get("")
def list_pipelines(context: Context) -> list[PipelineSummary]:
    """Every pipeline; one that does not load is listed with its `error`."""
    return [summary(entry) for entry in project_files.list_pipelines(context.project)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_pipeline(body: PipelineCreate, context: Context) -> PipelineOut:
    """Create a pipeline (409 if the uuid is taken; 422 if the metadata breaks a rule)."""
    metadata = body.model_dump(exclude_none=True)
    return detail(project_files.create_pipeline(context.project, metadata))


@router.get("/{pipeline_uuid}")
def get_pipeline(pipeline_uuid: str, context: Context) -> PipelineOut:
    """One pipeline: its metadata.yaml and blocks."""
    return detail(project_files.read_pipeline(context.project, pipeline_uuid))


@router.patch("/{pipeline_uuid}")
def update_pipeline(pipeline_uuid: str, body: PipelineUpdate, context: Context) -> PipelineOut:
    """Change keys of the pipeline's metadata.yaml; the result is checked before it is written."""
    changes = body.model_dump()
    return detail(project_files.update_pipeline(context.project, pipeline_uuid, changes))


@router.delete("/{pipeline_uuid}", status_code=status.HTTP_204_NO_CONTENT)
def delete_pipeline(pipeline_uuid: str, context: Context) -> None:
    """Delete the pipeline's folder; block code files are kept."""
    project_files.delete_pipeline(context.project, pipeline_uuid)
