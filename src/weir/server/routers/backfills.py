"""Backfills: `/api/backfills` (create, list, read, cancel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from weir.orchestration.backfill import cancel_backfill, get_backfill, list_backfills
from weir.server import operations
from weir.server.context import Context, require_reader
from weir.server.responses import ERROR_RESPONSES, Id
from weir.server.schemas import BackfillCancel, BackfillCreate, BackfillOut

router = APIRouter(
    prefix="/api/backfills",
    tags=["backfills"],
    dependencies=[Depends(require_reader)],
    responses=ERROR_RESPONSES,
)


@router.get("")
def list_all(
    context: Context,
    pipeline_uuid: Annotated[str | None, Query(description="only this pipeline's")] = None,
) -> list[BackfillOut]:
    """Backfills, newest first."""
    return [BackfillOut.model_validate(b) for b in list_backfills(context.runs, pipeline_uuid)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create(body: BackfillCreate, context: Context) -> BackfillOut:
    """Queue one run per interval; a scheduler runs them under the pipeline's limits."""
    fields = body.model_dump(exclude={"pipeline_uuid", "start_datetime", "end_datetime"})
    fields.update(start=body.start_datetime, end=body.end_datetime)
    return BackfillOut.model_validate(
        operations.start_backfill(context, body.pipeline_uuid, fields)
    )


@router.get("/{backfill_id}")
def get(backfill_id: Id, context: Context) -> BackfillOut:
    """One backfill with its run counts by status."""
    return BackfillOut.model_validate(get_backfill(context.runs, backfill_id))


@router.post("/{backfill_id}/cancel")
def cancel(backfill_id: Id, context: Context, body: BackfillCancel | None = None) -> BackfillOut:
    """Cancel the backfill's runs not started yet (and its running ones, if asked)."""
    include_running = body.include_running if body is not None else False
    record = cancel_backfill(context.runs, backfill_id, include_running=include_running)
    return BackfillOut.model_validate(record)
