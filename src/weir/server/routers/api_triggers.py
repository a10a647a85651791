"""API triggers, as in Mage: `POST /api/pipeline_schedules/{id}/pipeline_runs/{token}`.

The same path without the token takes it as `Authorization: Bearer <token>` instead.

These are the only endpoints without a user session or API key: the trigger's own token
authorises the call. The body is Mage's, `{"pipeline_run": {"variables": {...}}}` (optional);
the answer is the new run, queued, at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from weir.server import operations
from weir.server.context import Context
from weir.server.responses import ERROR_RESPONSES, ErrorOut, Id
from weir.server.schemas import ApiTriggerRequest, ApiTriggerResponse, RunDetail

router = APIRouter(
    prefix="/api/pipeline_schedules", tags=["api triggers"], responses=ERROR_RESPONSES
)

_trigger_bearer = HTTPBearer(
    auto_error=False, scheme_name="TriggerToken", description="The API trigger's token."
)

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "wrong token, or no such trigger"}
}


def _fire(
    context: Context, trigger_id: Id, token: str, body: ApiTriggerRequest | None
) -> ApiTriggerResponse:
    variables = body.pipeline_run.variables if body is not None else {}
    run = operations.fire_api_trigger(context, trigger_id, token, variables)
    if run is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong token for this trigger, or no such trigger",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return ApiTriggerResponse(pipeline_run=RunDetail.model_validate(run))


@router.post("/{trigger_id}/pipeline_runs/{token}", responses=_UNAUTHORIZED)
def fire_with_token_in_path(
    trigger_id: Id, token: str, context: Context, body: ApiTriggerRequest | None = None
) -> ApiTriggerResponse:
    """Queue a run of the trigger's pipeline (Mage's URL form)."""
    return _fire(context, trigger_id, token, body)


@router.post("/{trigger_id}/pipeline_runs", responses=_UNAUTHORIZED)
def fire_with_bearer_token(
    trigger_id: Id,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_trigger_bearer)],
    body: ApiTriggerRequest | None = None,
) -> ApiTriggerResponse:
    """Queue a run of the trigger's pipeline (token in `Authorization: Bearer <token>`)."""
    return _fire(context, trigger_id, credentials.credentials if credentials else "", body)
