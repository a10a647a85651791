"""Users and their roles (owners only): `/api/users`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from weir.server.context import Context, require_owner
from weir.server.responses import ERROR_RESPONSES, Id
from weir.server.schemas import UserCreate, UserOut, UserUpdate

router = APIRouter(
    prefix="/api/users",
    tags=["users"],
    dependencies=[Depends(require_owner)],
    responses=ERROR_RESPONSES,
)


@router.get("")
def list_users(context: Context) -> list[UserOut]:
    """Every user."""
    return [UserOut.model_validate(user) for user in context.auth.list_users()]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, context: Context) -> UserOut:
    """Add a user with a role (409 if the username is taken)."""
    return UserOut.model_validate(context.auth.create_user(body.username, body.password, body.role))


@router.get("/{user_id}")
def get_user(user_id: Id, context: Context) -> UserOut:
    """One user."""
    return UserOut.model_validate(context.auth.get_user(user_id))


@router.patch("/{user_id}")
def update_user(user_id: Id, body: UserUpdate, context: Context) -> UserOut:
    """Change a role or password (409 if it would leave no owner)."""
    user = context.auth.update_user(user_id, role=body.role, password=body.password)
    return UserOut.model_validate(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(user_id: Id, context: Context) -> None:
    """Remove a user, their sessions and API keys (409 for the last owner)."""
    context.auth.delete_user(user_id)
