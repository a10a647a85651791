"""Pipeline runs and block runs: `/api/pipeline_runs`, `/api/block_runs`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from weir.server import queries
from weir.server.context import Context, require_reader
from weir.server.responses import json_response
from weir.server.schemas import BlockRunOut, Page, RunDetail, RunListQuery, RunOut

router = APIRouter(tags=["runs"], dependencies=[Depends(require_reader)])


@router.get("/api/pipeline_runs", response_model=Page[RunOut])
def list_runs(context: Context, query: Annotated[RunListQuery, Query()]) -> Response:
    """Runs newest first, filtered, one page at a time, with the total that match."""
    filters = queries.RunFilter(
        pipeline_uuid=query.pipeline_uuid,
        statuses=tuple(query.status),
        pipeline_schedule_id=query.pipeline_schedule_id,
        since=_aware(query.since),
        until=_aware(query.until),
    )
    page = queries.list_runs(context.runs.engine, filters, limit=query.limit, offset=query.offset)
    return json_response(
        {"items": page.runs, "total": page.total, "limit": query.limit, "offset": query.offset}
    )


def _aware(value: datetime | None) -> datetime | None:
    # A date-time without an offset is read as UTC, as everywhere in Weir's run records.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get("/api/pipeline_runs/{run_id}")
def get_run(run_id: int, context: Context) -> RunDetail:
    """One run with its block runs."""
    return RunDetail.model_validate(context.runs.get_pipeline_run(run_id))


@router.get("/api/pipeline_runs/{run_id}/block_runs")
def list_block_runs(run_id: int, context: Context) -> list[BlockRunOut]:
    """The block runs of one run, in creation order."""
    run = context.runs.get_pipeline_run(run_id)
    return [BlockRunOut.model_validate(block_run) for block_run in run.block_runs]


@router.get("/api/block_runs/{block_run_id}")
def get_block_run(block_run_id: int, context: Context) -> BlockRunOut:
    """One block run."""
    return BlockRunOut.model_validate(queries.get_block_run(context.runs.engine, block_run_id))
