"""Data products of block runs: `/api/pipeline_runs/{run_id}/outputs` (list, preview)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from weir.server import outputs
from weir.server.context import Context, require_reader
from weir.server.responses import ERROR_RESPONSES, Id
from weir.server.schemas import OutputOut, PreviewOut

router = APIRouter(
    tags=["outputs"], dependencies=[Depends(require_reader)], responses=ERROR_RESPONSES
)

BlockQuery = Annotated[str, Query(min_length=1, max_length=255, description="the block's uuid")]


@router.get("/api/pipeline_runs/{run_id}/outputs")
def list_outputs(run_id: Id, block_uuid: BlockQuery, context: Context) -> list[OutputOut]:
    """The outputs a block wrote in a run (empty if it wrote none)."""
    context.runs.get_pipeline_run(run_id)
    return [
        OutputOut(
            index=info.index,
            kind=info.kind,
            format=info.format,
            rows=info.rows,
            columns=info.columns,
            bytes=info.bytes,
            column_types=None if info.schema is None else list(info.schema),
        )
        for info in outputs.list_outputs(context.project, run_id, block_uuid)
    ]


@router.get("/api/pipeline_runs/{run_id}/outputs/{index}/preview")
def preview_output(
    run_id: Id,
    index: Annotated[int, Path(ge=0, le=10_000, description="the output's position")],
    block_uuid: BlockQuery,
    context: Context,
    rows: Annotated[int, Query(ge=0, le=outputs.MAX_PREVIEW_ROWS)] = 10,
) -> PreviewOut:
    """The first `rows` rows of one output, with column names and types."""
    context.runs.get_pipeline_run(run_id)
    return PreviewOut.model_validate(
        outputs.preview(context.project, run_id, block_uuid, index, rows)
    )
