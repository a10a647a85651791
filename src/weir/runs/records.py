"""What the run store hands back: frozen snapshots, never ORM objects.

A record is copied out of the database inside the store's session, so callers can keep it,
pass it across threads or pickle it to another process without holding a session open. It
does not change when the database does; ask the store again for a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from weir.runs.status import TERMINAL_STATUSES, RunStatus

__all__ = [
    "ActiveRuns",
    "BlockRunRecord",
    "ClaimAction",
    "ClaimCandidate",
    "ClaimDecision",
    "ClaimPolicy",
    "ClaimResult",
    "PipelineRunRecord",
]


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
        metrics: free-form numbers recorded by the engine, merged over time; a run-level retry
            adds `previous_attempts` (one summary per earlier attempt).
        block_runs: its block runs, in creation (id) order.
        backfill_id: the backfill that created the run, else None.
        attempt: 1 for the first execution, one more per run-level retry.
        start_after: a scheduler does not claim the run before this time (UTC), else None.
        claimed_by: the scheduler that took the queued run for execution, else None.
        claimed_at: when it was claimed (UTC), else None.
        passed_sla: True once the run was reported as having missed its trigger's SLA.
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
    backfill_id: int | None = None
    attempt: int = 1
    start_after: datetime | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    passed_sla: bool = False

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


class ClaimAction(StrEnum):
    """What a scheduler does with a queued run it considers (see `RunStore.claim_pipeline_run`)."""

    CLAIM = "claim"
    WAIT = "wait"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class ClaimCandidate:
    """A queued run offered to a `ClaimPolicy`.

    Attributes:
        run_id: the pipeline run's id.
        pipeline_uuid: its pipeline.
        pipeline_schedule_id: its trigger, else None.
        backfill_id: its backfill, else None.
        execution_date: its logical date (UTC).
    """

    run_id: int
    pipeline_uuid: str
    pipeline_schedule_id: int | None
    backfill_id: int | None
    execution_date: datetime


@dataclass(frozen=True, slots=True)
class ActiveRuns:
    """Runs counted against concurrency limits when a candidate is considered.

    A run is active while it is `running`, or `queued` and claimed by a scheduler.

    Attributes:
        pipeline: active runs of the candidate's pipeline, whatever started them.
        group: active runs of the candidate's trigger (or of its backfill); 0 for a run with
            neither.
    """

    pipeline: int
    group: int


@dataclass(frozen=True, slots=True)
class ClaimDecision:
    """A policy's answer: claim the run, leave it queued, or skip it (cancel, with `reason`)."""

    action: ClaimAction
    reason: str | None = None


ClaimPolicy = Callable[[ClaimCandidate, ActiveRuns], ClaimDecision]
"""Decides each candidate; must depend only on the candidate's group and the counts."""


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """What one `claim_pipeline_run` call did.

    Attributes:
        runs: the runs now claimed by the caller, oldest first (still `queued`; the engine
            moves each to `running` when it starts).
        skipped: runs the policy skipped, now `cancelled` with the policy's reason.
    """

    runs: tuple[PipelineRunRecord, ...] = ()
    skipped: tuple[PipelineRunRecord, ...] = ()

    @property
    def claimed(self) -> PipelineRunRecord | None:
        """The first claimed run, or None when none could be claimed."""
        return self.runs[0] if self.runs else None
