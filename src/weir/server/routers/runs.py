"""Pipeline runs and block runs: `/api/pipeline_runs`, `/api/block_runs`."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Body, Depends, Query, Response, status

from weir.errors import ConflictError
from weir.server import operations, queries, run_listing
from weir.server.context import Caller, Context, require_reader
from weir.server.responses import ERROR_RESPONSES, Id, json_response
from weir.server.schemas import (
    BlockRunOut,
    Page,
    RetryRequest,
    RunCreate,
    RunDetail,
    RunListQuery,
    RunOut,
)

router = APIRouter(tags=["runs"], dependencies=[Depends(require_reader)], responses=ERROR_RESPONSES)


@router.get("/api/pipeline_runs", response_model=Page[RunOut])
async def list_runs(context: Context, query: Annotated[RunListQuery, Query()]) -> Response:
    """Runs newest first, filtered, one page at a time, with the total that match."""
    filters = run_listing.RunFilter(
        pipeline_uuid=query.pipeline_uuid,
        statuses=tuple(query.status),
        pipeline_schedule_id=query.pipeline_schedule_id,
        since=_aware(query.since),
        until=_aware(query.until),
    )
    listing = partial(
        run_listing.list_runs, context.runs.engine, filters, limit=query.limit, offset=query.offset
    )
    page = await to_thread.run_sync(listing, limiter=context.listing_lane)
    return json_response(
        {"items": page.runs, "total": page.total, "limit": query.limit, "offset": query.offset}
    )


def _aware(value: datetime | None) -> datetime | None:
    # A date-time without an offset is read as UTC, as everywhere in Weir's run records.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.post("/api/pipeline_runs", status_code=status.HTTP_201_CREATED)
def create_run(body: RunCreate, context: Context) -> RunDetail:
    """Queue a run of a pipeline now; a scheduler starts it."""
    return RunDetail.model_validate(
        operations.queue_run(context, body.pipeline_uuid, body.variables)
    )


@router.post("/api/pipeline_runs/{run_id}/cancel")
def cancel_run(run_id: Id, principal: Caller, context: Context) -> RunDetail:
    """Cancel a run that has not ended (409 if it has); its worker is stopped."""
    record = operations.cancel_run(context, run_id, principal.user.username)
    return RunDetail.model_validate(record)


@router.post("/api/pipeline_runs/{run_id}/retry", status_code=status.HTTP_201_CREATED)
def retry_run(
    run_id: Id,
    context: Context,
    block_uuid: Annotated[
        str | None,
        Query(
            min_length=1,
            description="run this block and every block downstream of it again, in this run",
        ),
    ] = None,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> RunDetail:
    """Queue a failed or cancelled run again, same id: all of it, or from one block on.

    Without `block_uuid`: the run's next attempt, every block again. With it: that block's
    block run and those of the blocks downstream of it are reset and only they run; the
    other block runs keep their status, completed upstream ones handing over their outputs.
    The block may also be given in the body (`{"block_uuid": ...}`, the older form).
    """
    given = body.block_uuid if body is not None else None
    if block_uuid is not None and given is not None and given != block_uuid:
        # 409 rather than 422: each part is valid alone, they clash with each other.
        raise ConflictError(
            f"block_uuid is '{block_uuid}' in the query but '{given}' in the body; give it once"
        )
    chosen = block_uuid if block_uuid is not None else given
    return RunDetail.model_validate(operations.retry_run(context, run_id, chosen))


@router.get("/api/pipeline_runs/{run_id}")
def get_run(run_id: Id, context: Context) -> RunDetail:
    """One run with its block runs."""
    return RunDetail.model_validate(context.runs.get_pipeline_run(run_id))


@router.get("/api/pipeline_runs/{run_id}/block_runs")
def list_block_runs(run_id: Id, context: Context) -> list[BlockRunOut]:
    """The block runs of one run, in creation order."""
    run = context.runs.get_pipeline_run(run_id)
    return [BlockRunOut.model_validate(block_run) for block_run in run.block_runs]


@router.get("/api/block_runs/{block_run_id}")
def get_block_run(block_run_id: Id, context: Context) -> BlockRunOut:
    """One block run."""
    return BlockRunOut.model_validate(queries.get_block_run(context.runs.engine, block_run_id))
