"""`create_app`: the FastAPI application serving one project's API.

Errors: Weir's exceptions become JSON `{"detail": message}` with a status code chosen by their
type (`ERROR_STATUS`), so routers raise what the stores raise and never build error responses.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Final

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts

from weir.errors import (
    ConfigError,
    ConflictError,
    DataProductError,
    NotFoundError,
    RunNotFoundError,
    RunStateError,
    WeirError,
)
from weir.orchestration.triggers import TriggerStore
from weir.project.project import load_project
from weir.runs.database import connect, default_database_url
from weir.runs.store import RunStore
from weir.server.auth import AuthStore
from weir.server.context import ServerContext
from weir.server.middleware import SingleValuedQuery
from weir.server.routers import (
    api_keys,
    api_triggers,
    backfills,
    blocks,
    logs,
    metrics,
    outputs,
    pipelines,
    runs,
    sessions,
    triggers,
    users,
)

__all__ = ["ERROR_STATUS", "create_app"]

ERROR_STATUS: Final[tuple[tuple[type[WeirError], int], ...]] = (
    (NotFoundError, 404),
    (RunNotFoundError, 404),
    (DataProductError, 404),
    (ConflictError, 409),
    (RunStateError, 409),
    (ConfigError, 422),
    (WeirError, 400),
)
"""Exception type -> HTTP status; the first matching row wins."""

API_VERSION: Final = "1"

WORKER_THREADS: Final = 8
"""Threads that run blocking handlers (queries), instead of anyio's 40.

Handlers are mostly CPU under one GIL; 40 threads contending for it (and for the database
pool's 15 connections) made the slowest requests wait many times the median. Eight keep
requests in arrival order while still overlapping a PostgreSQL round trip."""

LISTING_THREADS: Final = 2
"""Threads of the run listing's own lane (`ServerContext.listing_lane`), apart from the others.

The listing is what a UI polls; each call is short and mostly CPU under the GIL. Under 50
saturating clients, eight threads passing the GIL between them gave p99 150-190 ms where two
gave ~100 ms at the same throughput (bench/bench_api.py), and a lane of its own means a page
never waits behind slow handlers (previews, log searches) holding the shared threads."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    # Starlette names only the methods of the first route matching the path; FastAPI makes a
    # route per method, so list the methods of every route whose path matches.
    allowed: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(request.url.path):
            allowed |= route.methods or set()
    detail = getattr(exc, "detail", "Method Not Allowed")
    headers = {"Allow": ", ".join(sorted(allowed))}
    return JSONResponse({"detail": detail}, status_code=405, headers=headers)


async def _weir_error(request: Request, exc: Exception) -> JSONResponse:
    code = next(code for kind, code in ERROR_STATUS if isinstance(exc, kind))
    return JSONResponse({"detail": str(exc)}, status_code=code)


def create_app(
    project_path: str | os.PathLike[str],
    *,
    database_url: str | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    """Build the API application of one project.

    The metadata database is opened (and migrated to head) here, once; it is closed when the
    application shuts down.

    Args:
        project_path: the project folder (or a folder inside it).
        database_url: the metadata database; default `WEIR_DATABASE_URL` or the project's
            SQLite file.
        clock: the current time, timezone-aware (sessions' expiry, metrics); tests pass a fake.

    Returns:
        The application; OpenAPI schema at `/openapi.json`, docs at `/docs`.

    Raises:
        ProjectNotFoundError: no project at `project_path`.
        ConfigError: the database URL is malformed.
    """
    project = load_project(os.fspath(project_path))
    url = database_url or default_database_url(project.data_dir)
    # One pooled connection per thread, plus one for the event loop's own calls, so no request
    # opens (and SQLite re-configures) a connection of its own.
    engine = connect(url, pool_size=WORKER_THREADS + LISTING_THREADS + 1)
    run_store = RunStore(engine, clock=clock)
    context = ServerContext(
        project=project,
        database_url=url,
        runs=run_store,
        auth=AuthStore(run_store.engine, clock=clock),
        triggers=TriggerStore(run_store.engine, clock=clock),
        clock=clock,
        scheduler_heartbeat=run_store.latest_scheduler_beat,
        listing_lane=CapacityLimiter(LISTING_THREADS),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title=f"Weir API: {project.name}",
        version=API_VERSION,
        description="Pipelines, blocks, triggers, runs, logs and outputs of one Weir project.",
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.weir = context
    app.add_exception_handler(WeirError, _weir_error)
    app.add_exception_handler(405, _method_not_allowed)
    app.add_middleware(SingleValuedQuery)
    # FastAPI matches a request against the included routers in order, scanning each one's
    # routes; the run listing, the API's hottest path, comes first. No two routers' paths
    # overlap, so the order changes nothing else.
    routers = (runs, sessions, users, api_keys, pipelines, blocks, triggers, api_triggers)
    for module in (*routers, backfills, logs, outputs, metrics):
        app.include_router(module.router)
    return app
