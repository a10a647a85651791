"""`GET /metrics`: Prometheus text format (any signed-in user, e.g. a viewer's API key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from weir.server.context import Context, require_reader
from weir.server.metrics import CONTENT_TYPE, render_metrics
from weir.server.responses import ERROR_RESPONSES

router = APIRouter(
    tags=["metrics"], dependencies=[Depends(require_reader)], responses=ERROR_RESPONSES
)

# Errors are JSON like everywhere else; only the page itself is text.
_PAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The metrics, in Prometheus' text exposition format 0.0.4.",
        "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
    }
}


@router.get("/metrics", responses=_PAGE)
def metrics(context: Context) -> PlainTextResponse:
    """Runs by status, block run durations, queue depth, scheduler heartbeat age."""
    text = render_metrics(
        context.runs.engine, now=context.clock(), scheduler_heartbeat=context.scheduler_heartbeat()
    )
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
