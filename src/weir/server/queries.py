"""Read-only queries on the run tables that `RunStore` does not offer.

Filtered pages of runs with their total, single block runs, and the aggregates behind
`/metrics`. Writes never happen here: every status change goes through `weir.runs.RunStore`. These read the
ORM tables directly because an API page needs filters (trigger, date range) and a total count
that the store's `list_pipeline_runs` does not take, and because the list view must stay
cheap with 10,000s of runs: one query for the page, one `COUNT`, one grouped query for the
page's block-run counts by status; block runs themselves are only loaded for a single run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, Engine, Float, case, cast, extract, func, select
from sqlalchemy.orm import Session

from weir.errors import RunNotFoundError
from weir.runs.models import BlockRun, PipelineRun
from weir.runs.records import BlockRunRecord
from weir.runs.status import RunStatus

__all__ = [
    "DURATION_BUCKETS",
    "BlockDurationHistogram",
    "RunFilter",
    "RunPage",
    "RunSummary",
    "block_duration_histograms",
    "count_runs_by_status",
    "get_block_run",
    "list_runs",
]

DURATION_BUCKETS: Final = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Upper bounds (seconds) of the block run duration histogram's buckets; +Inf is implied."""


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs to list.

    Attributes:
        pipeline_uuid: only this pipeline's runs.
        statuses: only runs in one of these statuses (empty: any).
        pipeline_schedule_id: only runs started by this trigger.
        since: only runs whose `execution_date` is at or after this (aware datetime).
        until: only runs whose `execution_date` is before this (aware datetime).
    """

    pipeline_uuid: str | None = None
    statuses: tuple[RunStatus, ...] = ()
    pipeline_schedule_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A pipeline run without its block runs, with their count per status."""

    id: int
    pipeline_uuid: str
    pipeline_schedule_id: int | None
    status: RunStatus
    execution_date: datetime
    variables: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None
    backfill_id: int | None
    attempt: int
    passed_sla: bool
    block_runs_by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of runs, newest first, and how many runs match in all."""

    runs: list[RunSummary]
    total: int


def _conditions(runs: RunFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if runs.pipeline_uuid is not None:
        conditions.append(PipelineRun.pipeline_uuid == runs.pipeline_uuid)
    if runs.statuses:
        conditions.append(PipelineRun.status.in_(runs.statuses))
    if runs.pipeline_schedule_id is not None:
        conditions.append(PipelineRun.pipeline_schedule_id == runs.pipeline_schedule_id)
    if runs.since is not None:
        conditions.append(PipelineRun.execution_date >= runs.since)
    if runs.until is not None:
        conditions.append(PipelineRun.execution_date < runs.until)
    return conditions


_SUMMARY_COLUMNS: Final = (
    PipelineRun.id,
    PipelineRun.pipeline_uuid,
    PipelineRun.pipeline_schedule_id,
    PipelineRun.status,
    PipelineRun.execution_date,
    PipelineRun.variables,
    PipelineRun.created_at,
    PipelineRun.started_at,
    PipelineRun.completed_at,
    PipelineRun.error,
    PipelineRun.backfill_id,
    PipelineRun.attempt,
    PipelineRun.passed_sla,
)


def list_runs(engine: Engine, runs: RunFilter, *, limit: int, offset: int) -> RunPage:
    """A page of pipeline runs, newest (highest id) first, and the number matching in all.

    Reads plain rows (no ORM objects): listing is the API's hottest path.

    Args:
        engine: the metadata database.
        runs: the filters.
        limit: at most this many runs (>= 0).
        offset: skip this many of the newest (>= 0).

    Raises:
        ValueError: `limit` or `offset` is negative.
    """
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must be >= 0, got limit={limit}, offset={offset}")
    conditions = _conditions(runs)
    page = (
        select(*_SUMMARY_COLUMNS)
        .where(*conditions)
        .order_by(PipelineRun.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as connection:
        rows = connection.execute(page).all()
        # count(*), not count(id): SQLite answers it from the b-tree without reading rows.
        total = connection.scalar(select(func.count()).select_from(PipelineRun).where(*conditions))
        total = total or 0
        counts = _block_counts(connection, [row[0] for row in rows])
    summaries = [
        RunSummary(**row._mapping, block_runs_by_status=counts.get(row[0], {})) for row in rows
    ]
    return RunPage(summaries, total)


def _block_counts(connection: Connection, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    if not run_ids:
        return {}
    low, high = min(run_ids), max(run_ids)
    if high - low < 4 * len(run_ids):
        # A page of consecutive runs (or nearly): a range scan is cheaper than a long IN list.
        where = BlockRun.pipeline_run_id.between(low, high)
    else:
        where = BlockRun.pipeline_run_id.in_(run_ids)
    query = (
        select(BlockRun.pipeline_run_id, BlockRun.status, func.count())
        .where(where)
        .group_by(BlockRun.pipeline_run_id, BlockRun.status)
    )
    wanted = set(run_ids)
    counts: dict[int, dict[str, int]] = {}
    for run_id, status, count in connection.execute(query):
        if run_id in wanted:
            counts.setdefault(run_id, {})[str(status)] = count
    return counts


def get_block_run(engine: Engine, block_run_id: int) -> BlockRunRecord:
    """One block run.

    Raises:
        RunNotFoundError: no block run with that id.
    """
    with Session(engine) as session, session.begin():
        row = session.get(BlockRun, block_run_id)
        if row is None:
            raise RunNotFoundError(f"no block run with id {block_run_id} in the metadata database")
        return row.to_record()


def count_runs_by_status(engine: Engine) -> dict[tuple[str, str], int]:
    """How many pipeline runs each pipeline has in each status: {(pipeline, status): n}."""
    query = select(PipelineRun.pipeline_uuid, PipelineRun.status, func.count()).group_by(
        PipelineRun.pipeline_uuid, PipelineRun.status
    )
    with Session(engine) as session, session.begin():
        return {(uuid, str(status)): count for uuid, status, count in session.execute(query)}


@dataclass(frozen=True, slots=True)
class BlockDurationHistogram:
    """Durations of one pipeline's finished block runs, as Prometheus histogram parts.

    Attributes:
        pipeline_uuid: the pipeline.
        buckets: (upper bound in seconds, cumulative count), one per `DURATION_BUCKETS`.
        count: how many block runs (the +Inf bucket).
        total_seconds: the sum of their durations.
    """

    pipeline_uuid: str
    buckets: tuple[tuple[float, int], ...]
    count: int
    total_seconds: float


def _seconds(engine: Engine) -> ColumnElement[float]:
    if engine.dialect.name == "postgresql":
        return cast(extract("epoch", BlockRun.completed_at - BlockRun.started_at), Float)
    # SQLite stores ISO text; julianday gives days as a float.
    return (func.julianday(BlockRun.completed_at) - func.julianday(BlockRun.started_at)) * 86400.0


def block_duration_histograms(engine: Engine) -> list[BlockDurationHistogram]:
    """Histogram of finished block runs' durations per pipeline, in one grouped query.

    A block run counts once it has both `started_at` and `completed_at`; a retried block
    counts its latest attempt only (the store clears the times on retry).
    """
    seconds = _seconds(engine)
    columns = [
        func.sum(case((seconds <= bound, 1), else_=0)).label(f"le_{index}")
        for index, bound in enumerate(DURATION_BUCKETS)
    ]
    query = (
        select(PipelineRun.pipeline_uuid, func.count(), func.sum(seconds), *columns)
        .join(PipelineRun, BlockRun.pipeline_run_id == PipelineRun.id)
        .where(BlockRun.started_at.is_not(None), BlockRun.completed_at.is_not(None))
        .group_by(PipelineRun.pipeline_uuid)
        .order_by(PipelineRun.pipeline_uuid)
    )
    with Session(engine) as session, session.begin():
        rows = session.execute(query).all()
    return [
        BlockDurationHistogram(
            pipeline_uuid=row[0],
            buckets=tuple(
                (bound, int(row[3 + index] or 0)) for index, bound in enumerate(DURATION_BUCKETS)
            ),
            count=int(row[1]),
            total_seconds=float(row[2] or 0.0),
        )
        for row in rows
    ]
