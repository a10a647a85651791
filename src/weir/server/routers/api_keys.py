"""API keys: `/api/api_keys`. Everyone sees and manages their own; owners everyone's."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from weir.errors import NotFoundError
from weir.server.auth import Principal, Role
from weir.server.context import Caller, Context, require_reader
from weir.server.responses import ERROR_RESPONSES, Id
from weir.server.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut

router = APIRouter(
    prefix="/api/api_keys",
    tags=["api keys"],
    dependencies=[Depends(require_reader)],
    responses=ERROR_RESPONSES,
)


def _is_owner(principal: Principal) -> bool:
    return principal.user.role is Role.OWNER


@router.get("")
def list_api_keys(principal: Caller, context: Context) -> list[ApiKeyOut]:
    """The caller's API keys (an owner's request lists everyone's)."""
    user_id = None if _is_owner(principal) else principal.user.id
    return [ApiKeyOut.model_validate(key) for key in context.auth.list_api_keys(user_id)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyCreate, principal: Caller, context: Context) -> ApiKeyCreated:
    """Make an API key; the response holds the key, which is never shown again."""
    user_id = principal.user.id if body.user_id is None else body.user_id
    if user_id != principal.user.id and not _is_owner(principal):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only owners make keys for other users")
    key, record = context.auth.create_api_key(user_id, body.name)
    return ApiKeyCreated(**ApiKeyOut.model_validate(record).model_dump(), key=key)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_api_key(key_id: Id, principal: Caller, context: Context) -> None:
    """Revoke an API key; it stops working at once."""
    key = context.auth.get_api_key(key_id)
    if key.user_id != principal.user.id and not _is_owner(principal):
        # Other users' keys are not the caller's business, not even their existence.
        raise NotFoundError(f"no API key with id {key_id}")
    context.auth.delete_api_key(key_id)
