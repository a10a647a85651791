"""Blocks of a pipeline and their code: `/api/pipelines/{pipeline_uuid}/blocks`.

A block uuid may contain `/` (Mage's sub-folders), so it is the last path segment(s), and the
block's routes differ by method only: GET reads it, PUT replaces its code, DELETE removes it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from weir.server import project_files
from weir.server.context import Context, require_reader
from weir.server.project_files import BlockFile
from weir.server.responses import ERROR_RESPONSES
from weir.server.routers.pipelines import detail
from weir.server.schemas import BlockCodeUpdate, BlockCreate, BlockOut, BlockSummary

router = APIRouter(
    prefix="/api/pipelines/{pipeline_uuid}/blocks",
    tags=["blocks"],
    dependencies=[Depends(require_reader)],
    responses=ERROR_RESPONSES,
)


def _out(block: BlockFile) -> BlockOut:
    return BlockOut(
        uuid=str(block.spec.get("uuid")),
        type=None if block.spec.get("type") is None else str(block.spec["type"]),
        language=str(block.spec.get("language") or "python"),
        path=block.path,
        content=block.content,
        spec=block.spec,
    )


@router.get("")
def list_blocks(pipeline_uuid: str, context: Context) -> list[BlockSummary]:
    """The pipeline's blocks, in metadata.yaml order."""
    return detail(project_files.read_pipeline(context.project, pipeline_uuid)).blocks


@router.post("", status_code=status.HTTP_201_CREATED)
def add_block(pipeline_uuid: str, body: BlockCreate, context: Context) -> BlockOut:
    """Add a block; its code file is written from `content` (or a starter) unless it exists."""
    entry = body.model_dump(exclude={"content"}, exclude_none=True)
    block = project_files.add_block(context.project, pipeline_uuid, entry, body.content)
    return _out(block)


@router.get("/{block_uuid:path}")
def get_block(pipeline_uuid: str, block_uuid: str, context: Context) -> BlockOut:
    """A block and its code."""
    return _out(project_files.read_block(context.project, pipeline_uuid, block_uuid))


@router.put("/{block_uuid:path}")
def update_block_code(
    pipeline_uuid: str, block_uuid: str, body: BlockCodeUpdate, context: Context
) -> BlockOut:
    """Replace a block's code file."""
    block = project_files.write_block_code(context.project, pipeline_uuid, block_uuid, body.content)
    return _out(block)


@router.delete("/{block_uuid:path}", status_code=status.HTTP_204_NO_CONTENT)
def remove_block(pipeline_uuid: str, block_uuid: str, context: Context) -> None:
    """Take a block out of the pipeline (422 while other blocks list it upstream)."""
    project_files.remove_block(context.project, pipeline_uuid, block_uuid)
