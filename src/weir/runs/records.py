"""What the run store hands back: frozen snapshots, never ORM objects.

A record is copied out of the database inside the store's session, so callers can keep it,
pass it across threads or pickle it to another process without holding a session open. It
does not change when the database does; ask the store again for a fresh one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from weir.runs.status import TERMINAL_STATUSES, RunStatus

__all__ = ["BlockRunRecord", "PipelineRunRecord"]


def _duration(started_at: datetime | None, completed_at: datetime | None) -> float | None:
    if started_at is None or completed_at is None:
        return None
    return (completed_at - started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class BlockRunRecord:
    """One block run, as stored.

    Attributes:
        id: primary key of the `block_run` row.
        pipeline_run_id: the pipeline run it belongs to.
        block_uuid: the block's uuid in the pipeline.
        status: current status.
        started_at: when it first entered `running` in its current attempt (UTC), else None.
        completed_at: when it entered a terminal status (UTC), else None.
        attempts: how many attempts the engine has counted (the engine sets it; starts at 0).
        error: the error message of a failure or cancellation, else None.
        traceback: the formatted traceback of a failure in user code, else None.
        metrics: free-form numbers the engine recorded (rows, bytes, ...), merged over time.
        log_path: where the block run's log file is, else None.
    """

    id: int
    pipeline_run_id: int
    block_uuid: str
    status: RunStatus
    started_at: datetime | None
    completed_at: datetime | None
    attempts: int
    error: str | None
    traceback: str | None
    metrics: Mapping[str, Any]
    log_path: str | None

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from `started_at` to `completed_at`; None until both are set."""
        return _duration(self.started_at, self.completed_at)

    @property
    def is_terminal(self) -> bool:
        """True once the status is one of `TERMINAL_STATUSES`."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class PipelineRunRecord:
    """One pipeline run with all its block runs, as stored.

    Attributes:
        id: primary key of the `pipeline_run` row.
        pipeline_uuid: the pipeline's uuid (its folder name under `pipelines/`).
        pipeline_schedule_id: the trigger that created the run, None for a manual run.
        status: current status.
        execution_date: the run's logical date (UTC).
        variables: the run's variables as given at creation.
        created_at: when the row was written (UTC).
        started_at: when it first entered `running` (UTC), else None.
        completed_at: when it entered a terminal status (UTC), else None.
        heartbeat_at: the last heartbeat of the process running it (UTC), else None.
        error: why it failed or was cancelled, else None.
        metrics: free-form numbers recorded by the engine, merged over time.
        block_runs: its block runs, in creation (id) order.
    """

    id: int
    pipeline_uuid: str
    pipeline_schedule_id: int | None
    status: RunStatus
    execution_date: datetime
    variables: Mapping[str, Any]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    heartbeat_at: datetime | None
    error: str | None
    metrics: Mapping[str, Any]
    block_runs: tuple[BlockRunRecord, ...]

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from `started_at` to `completed_at`; None until both are set."""
        return _duration(self.started_at, self.completed_at)

    @property
    def is_terminal(self) -> bool:
        """True once the status is one of `TERMINAL_STATUSES`."""
        return self.status in TERMINAL_STATUSES

    def block_run(self, block_uuid: str) -> BlockRunRecord:
        """The block run of `block_uuid` in this run.

        Raises:
            KeyError: the run has no block run for that block.
        """
        for block_run in self.block_runs:
            if block_run.block_uuid == block_uuid:
                return block_run
        raise KeyError(f"pipeline run {self.id} has no block run for block '{block_uuid}'")
