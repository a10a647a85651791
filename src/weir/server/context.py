"""What every request handler gets: the server's stores, and who is calling.

`ServerContext` is built once by `create_app` and kept on `app.state`. The dependencies here
are the one place that turns credentials into a `Principal` and enforces roles:

- `require_reader`: any valid session or API key; on a write method (anything but GET, HEAD,
  OPTIONS) the user must also be allowed to write, so a viewer gets 403 on every write a router
  guarded by it offers, without each endpoint remembering to check.
- `require_owner`: owners only (managing users and other users' API keys).
- `authenticated`: any valid credential, whatever the method (logging out).

Missing, unknown or expired credentials give 401 with `WWW-Authenticate: Bearer`. The
dependencies are coroutines (FastAPI runs a plain function in a worker thread, a hop that costs
more than these checks); only the token lookup goes to a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final

from anyio import CapacityLimiter
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from weir.orchestration.triggers import TriggerStore
from weir.project.project import Project
from weir.runs.store import RunStore
from weir.server.auth import AuthStore, Principal, Role

__all__ = [
    "READ_METHODS",
    "Authenticated",
    "Caller",
    "Context",
    "ServerContext",
    "authenticated",
    "require_owner",
    "require_reader",
]

READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class ServerContext:
    """The server's long-lived parts, shared by all requests (each is thread-safe).

    Attributes:
        project: the project the server serves.
        database_url: the metadata database's URL.
        runs: the run store.
        auth: users, sessions and API keys.
        triggers: triggers (Mage's pipeline schedules).
        clock: the current time, timezone-aware.
        scheduler_heartbeat: when a scheduler last beat against this database (aware), or
            None if none ever did (`RunStore.latest_scheduler_beat`).
        listing_lane: the threads that list runs (see `weir.server.app.LISTING_THREADS`).
    """

    project: Project
    database_url: str
    runs: RunStore
    auth: AuthStore
    triggers: TriggerStore
    clock: Callable[[], datetime]
    scheduler_heartbeat: Callable[[], datetime | None]
    listing_lane: CapacityLimiter


async def get_context(request: Request) -> ServerContext:
    """The `ServerContext` of the app serving `request`."""
    context: ServerContext = request.app.state.weir
    return context


Context = Annotated[ServerContext, Depends(get_context)]

_bearer = HTTPBearer(
    auto_error=False,
    description="A session token (POST /api/sessions) or an API key (POST /api/api_keys).",
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticated(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from `Authorization: Bearer <token>` (one indexed query, in a worker thread).

    Raises:
        HTTPException: 401 when the header is missing or the token unknown, revoked or expired.
    """
    if credentials is None:
        raise _unauthorized("sign in: send 'Authorization: Bearer <session token or API key>'")
    token = credentials.credentials
    principal = context.auth.cached(token) or await run_in_threadpool(
        context.auth.authenticate, token
    )
    if principal is None:
        raise _unauthorized("the bearer token is unknown, revoked or expired; sign in again")
    return principal


Authenticated = Annotated[Principal, Depends(authenticated)]


async def require_reader(request: Request, principal: Authenticated) -> Principal:
    """Any signed-in user for reads; owners and editors only for writes.

    Raises:
        HTTPException: 401 (see `authenticated`); 403 when a viewer asks for a write.
    """
    if request.method not in READ_METHODS and not principal.user.role.can_write:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"user '{principal.user.username}' is a viewer; viewers cannot change anything",
        )
    return principal


Caller = Annotated[Principal, Depends(require_reader)]


async def require_owner(principal: Caller) -> Principal:
    """Owners only.

    Raises:
        HTTPException: 401 (see `authenticated`); 403 for editors and viewers.
    """
    if principal.user.role is not Role.OWNER:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"only owners may do this; user '{principal.user.username}' is "
            f"{principal.user.role.value}",
        )
    return principal
