"""`GET /metrics`: Prometheus text format (any signed-in user, e.g. a viewer's API key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from weir.server.context import Context, require_reader
from weir.server.metrics import CONTENT_TYPE, render_metrics

router = APIRouter(tags=["metrics"], dependencies=[Depends(require_reader)])


class _Prometheus(PlainTextResponse):
    media_type = CONTENT_TYPE


@router.get("/metrics", response_class=_Prometheus)
def metrics(context: Context) -> _Prometheus:
    """Runs by status, block run durations, queue depth, scheduler heartbeat age."""
    text = render_metrics(
        context.runs.engine, now=context.clock(), scheduler_heartbeat=context.scheduler_heartbeat()
    )
    return _Prometheus(text)
