"""Triggers (Mage's pipeline schedules): `/api/pipeline_schedules`.

Every change is also written to the pipeline's `triggers.yaml` (see
`weir.orchestration.triggers_yaml`), so triggers stay code.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from weir.orchestration.triggers import TriggerSpec
from weir.server import operations, run_listing
from weir.server.context import Context, require_reader
from weir.server.responses import ERROR_RESPONSES, Id, json_response
from weir.server.schemas import (
    Page,
    RunOut,
    TokenOut,
    TriggerCreated,
    TriggerOut,
    TriggerUpdate,
)

router = APIRouter(
    prefix="/api/pipeline_schedules",
    tags=["triggers"],
    dependencies=[Depends(require_reader)],
    responses=ERROR_RESPONSES,
)


@router.get("")
def list_triggers(
    context: Context,
    pipeline_uuid: Annotated[str | None, Query(description="only this pipeline's")] = None,
) -> list[TriggerOut]:
    """Triggers by id."""
    return [TriggerOut.model_validate(t) for t in context.triggers.list(pipeline_uuid)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_trigger(body: TriggerSpec, context: Context) -> TriggerCreated:
    """Create a trigger; an `api` trigger's token is in the answer, and never shown again."""
    record, token = operations.create_trigger(context, body)
    return TriggerCreated(**TriggerOut.model_validate(record).model_dump(), token=token)


@router.get("/{trigger_id}")
def get_trigger(trigger_id: Id, context: Context) -> TriggerOut:
    """One trigger."""
    return TriggerOut.model_validate(context.triggers.get(trigger_id))


@router.patch("/{trigger_id}")
def update_trigger(trigger_id: Id, body: TriggerUpdate, context: Context) -> TriggerOut:
    """Change some of a trigger's keys; the result is validated whole."""
    changes = body.model_dump(exclude_unset=True)
    return TriggerOut.model_validate(operations.update_trigger(context, trigger_id, changes))


@router.delete("/{trigger_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_trigger(trigger_id: Id, context: Context) -> None:
    """Delete a trigger; its runs stay."""
    operations.delete_trigger(context, trigger_id)


@router.post("/{trigger_id}/enable")
def enable_trigger(trigger_id: Id, context: Context) -> TriggerOut:
    """Make a trigger active (time triggers start scheduling from now)."""
    return TriggerOut.model_validate(operations.set_trigger_active(context, trigger_id, True))


@router.post("/{trigger_id}/disable")
def disable_trigger(trigger_id: Id, context: Context) -> TriggerOut:
    """Make a trigger inactive (its API calls are refused)."""
    return TriggerOut.model_validate(operations.set_trigger_active(context, trigger_id, False))


@router.post("/{trigger_id}/token")
def rotate_token(trigger_id: Id, context: Context) -> TokenOut:
    """Give the trigger a new API token; the old one stops working."""
    return TokenOut(token=context.triggers.rotate_token(trigger_id))


@router.get("/{trigger_id}/pipeline_runs", response_model=Page[RunOut])
def list_trigger_runs(
    trigger_id: Id,
    context: Context,
    limit: Annotated[int, Query(ge=0, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    """The runs this trigger started, newest first."""
    context.triggers.get(trigger_id)
    filters = run_listing.RunFilter(pipeline_schedule_id=trigger_id)
    page = run_listing.list_runs(context.runs.engine, filters, limit=limit, offset=offset)
    return json_response(
        {"items": page.runs, "total": page.total, "limit": limit, "offset": offset}
    )
