"""Read-only queries of the run tables that the scheduler and retention need.

All writes go through `RunStore` (statuses) or `TriggerStore`; these only read, each in one
statement, so a scheduler tick costs a handful of queries whatever the number of runs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, case, func, or_, select

from weir.runs.models import PipelineRun
from weir.runs.status import TERMINAL_STATUSES, RunStatus

__all__ = [
    "AlwaysOnState",
    "StaleCandidate",
    "always_on_states",
    "latest_execution_dates",
    "retention_candidates",
    "run_statuses",
    "sla_candidates",
    "stale_candidates",
]

_UNFINISHED = (RunStatus.INITIAL, RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class AlwaysOnState:
    """For an `@always_on` trigger: does a run of it still go on, and when did the last end."""

    unfinished: bool
    last_completed_at: datetime | None
    last_execution_date: datetime


@dataclass(frozen=True, slots=True)
class StaleCandidate:
    """A run whose last sign of life is older than the cut-off (rechecked under a lock)."""

    run_id: int
    last_sign_of_life: datetime
    claimed_by: str | None


def latest_execution_dates(engine: Engine, trigger_ids: Collection[int]) -> dict[int, datetime]:
    """Per trigger, the newest execution date it has a run for (triggers without runs absent)."""
    if not trigger_ids:
        return {}
    query = (
        select(PipelineRun.pipeline_schedule_id, func.max(PipelineRun.execution_date))
        .where(PipelineRun.pipeline_schedule_id.in_(list(trigger_ids)))
        .group_by(PipelineRun.pipeline_schedule_id)
    )
    with engine.connect() as connection:
        return {row[0]: row[1] for row in connection.execute(query) if row[0] is not None}


def always_on_states(engine: Engine, trigger_ids: Collection[int]) -> dict[int, AlwaysOnState]:
    """Per trigger with runs: whether one is unfinished, latest `completed_at` and date."""
    if not trigger_ids:
        return {}
    unfinished = func.sum(case((PipelineRun.status.in_(_UNFINISHED), 1), else_=0))
    query = (
        select(
            PipelineRun.pipeline_schedule_id,
            unfinished,
            func.max(PipelineRun.completed_at),
            func.max(PipelineRun.execution_date),
        )
        .where(PipelineRun.pipeline_schedule_id.in_(list(trigger_ids)))
        .group_by(PipelineRun.pipeline_schedule_id)
    )
    with engine.connect() as connection:
        return {
            row[0]: AlwaysOnState(bool(row[1]), row[2], row[3]) for row in connection.execute(query)
        }


def stale_candidates(
    engine: Engine, cutoff: datetime, exclude: Collection[int]
) -> list[StaleCandidate]:
    """Runs running, or queued and claimed, with every sign of life older than `cutoff`.

    Args:
        engine: the metadata database.
        cutoff: signs of life (heartbeat, claim, start, creation) before it count as dead.
        exclude: run ids to leave out (those this scheduler's live workers execute).
    """
    columns = (PipelineRun.heartbeat_at, PipelineRun.claimed_at, PipelineRun.started_at)
    query = select(PipelineRun.id, *columns, PipelineRun.created_at, PipelineRun.claimed_by).where(
        or_(
            PipelineRun.status == RunStatus.RUNNING,
            and_(PipelineRun.status == RunStatus.QUEUED, PipelineRun.claimed_by.is_not(None)),
        ),
        PipelineRun.created_at < cutoff,
        *(or_(column.is_(None), column < cutoff) for column in columns),
    )
    if exclude:
        query = query.where(PipelineRun.id.not_in(list(exclude)))
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(PipelineRun.id)).all()
    return [
        StaleCandidate(row[0], max(t for t in row[1:5] if t is not None), row[5]) for row in rows
    ]


def sla_candidates(engine: Engine, trigger_ids: Collection[int]) -> list[tuple[int, int, datetime]]:
    """Unfinished runs of these triggers not yet reported as past their SLA.

    Returns:
        `(run id, trigger id, execution date)` per run.
    """
    if not trigger_ids:
        return []
    query = select(
        PipelineRun.id, PipelineRun.pipeline_schedule_id, PipelineRun.execution_date
    ).where(
        PipelineRun.pipeline_schedule_id.in_(list(trigger_ids)),
        PipelineRun.status.in_(_UNFINISHED),
        PipelineRun.passed_sla.is_(False),
    )
    with engine.connect() as connection:
        return [(row[0], row[1] or 0, row[2]) for row in connection.execute(query)]


def run_statuses(engine: Engine, run_ids: Collection[int]) -> dict[int, RunStatus]:
    """The current status of each of these runs (unknown ids absent)."""
    if not run_ids:
        return {}
    query = select(PipelineRun.id, PipelineRun.status).where(PipelineRun.id.in_(list(run_ids)))
    with engine.connect() as connection:
        return {row[0]: row[1] for row in connection.execute(query)}


def retention_candidates(
    engine: Engine, pipeline_uuids: Collection[str], cutoff: datetime
) -> list[tuple[int, str]]:
    """Ended runs of these pipelines that ended before `cutoff`, oldest first.

    The newest run of each (pipeline, trigger) pair is never a candidate: it is what a trigger's
    next due date is computed from, and what `weir run --block` reads upstream outputs from.

    Returns:
        `(run id, pipeline uuid)` per run.
    """
    if not pipeline_uuids:
        return []
    newest = (
        select(func.max(PipelineRun.id))
        .where(PipelineRun.pipeline_uuid.in_(list(pipeline_uuids)))
        .group_by(PipelineRun.pipeline_uuid, PipelineRun.pipeline_schedule_id)
    )
    query = (
        select(PipelineRun.id, PipelineRun.pipeline_uuid)
        .where(
            PipelineRun.pipeline_uuid.in_(list(pipeline_uuids)),
            PipelineRun.status.in_(TERMINAL_STATUSES),
            PipelineRun.completed_at < cutoff,
            PipelineRun.id.not_in(newest),
        )
        .order_by(PipelineRun.id)
    )
    with engine.connect() as connection:
        return [(row[0], row[1]) for row in connection.execute(query)]
