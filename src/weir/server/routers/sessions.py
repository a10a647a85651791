"""Signing in and out, and who is signed in: `/api/sessions`, `/api/sessions/current`."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from weir.errors import ConflictError
from weir.server.context import Authenticated, Caller, Context
from weir.server.responses import ERROR_RESPONSES
from weir.server.schemas import SessionCreate, SessionOut, UserOut

router = APIRouter(tags=["sessions"], responses=ERROR_RESPONSES)


@router.post(
    "/api/sessions",
    status_code=status.HTTP_201_CREATED,
    responses={401: {"description": "wrong username or password"}},
)
def sign_in(body: SessionCreate, context: Context) -> SessionOut:
    """Exchange a username and password for a session token (expires)."""
    issued = context.auth.login(body.username, body.password)
    if issued is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return SessionOut(
        token=issued.token,
        expires_at=issued.expires_at,
        user=UserOut.model_validate(issued.user),
    )


@router.delete("/api/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(principal: Authenticated, context: Context) -> None:
    """End the session whose token made this request (any role may)."""
    if principal.credential != "session":
        raise ConflictError("this request used an API key, not a session; delete the key instead")
    context.auth.logout(principal.credential_id)


@router.get("/api/sessions/current")
def who_am_i(principal: Caller) -> UserOut:
    """The user whose session token or API key made this request."""
    return UserOut.model_validate(principal.user)
