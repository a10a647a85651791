"""Block run logs: `GET /api/pipeline_runs/{run_id}/logs` (tail, or search by text)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from weir.server import logs
from weir.server.context import Context, require_reader
from weir.server.responses import ERROR_RESPONSES, Id
from weir.server.schemas import LogEntry, LogsOut

router = APIRouter(tags=["logs"], dependencies=[Depends(require_reader)], responses=ERROR_RESPONSES)


@router.get("/api/pipeline_runs/{run_id}/logs")
def get_logs(
    run_id: Id,
    context: Context,
    block_uuid: Annotated[str | None, Query(description="only this block's log")] = None,
    lines: Annotated[int, Query(ge=1, le=logs.MAX_LINES, description="the newest N")] = 100,
    search: Annotated[
        str | None, Query(min_length=1, max_length=200, description="case-insensitive text")
    ] = None,
) -> LogsOut:
    """The newest `lines` log lines of a run's block runs, or of those matching `search`."""
    run = context.runs.get_pipeline_run(run_id)
    files = logs.run_log_files(context.project.data_dir, run, block_uuid)
    entries = logs.run_logs(files, lines=lines, search=search)
    return LogsOut(entries=[LogEntry.model_validate(entry) for entry in entries])
