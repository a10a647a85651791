"""Backfills: one queued run per interval between two datetimes, cancellable.

As in Mage, each run's `execution_date` is the start of its interval and its variables carry
`interval_start_datetime` and `interval_end_datetime` (ISO 8601, UTC) on top of the backfill's
own; the intervals start at `start` and step by `interval_units` x `interval_type` while the
start is <= `end` (Mage's inclusive end). Intervals are stepped in `timezone`, so daily intervals
begin at local midnight and months at the first of the month.

Runs are queued, not executed here: a scheduler starts them under the pipeline's concurrency
settings (`pipeline_run_limit` counts per backfill). `cancel_backfill` cancels the runs not
started yet (and, if asked, the running ones).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weir.errors import BackfillNotFoundError, RunStateError
from weir.orchestration.queue import enqueue_run
from weir.orchestration.schedule import check_timezone
from weir.pipeline.pipeline import Pipeline
from weir.runs.database import WRITE_OPTION
from weir.runs.models import Backfill, PipelineRun
from weir.runs.status import TERMINAL_STATUSES, RunStatus
from weir.runs.store import RunStore

__all__ = [
    "INTERVAL_TYPES",
    "MAX_BACKFILL_RUNS",
    "BackfillRecord",
    "backfill_intervals",
    "cancel_backfill",
    "create_backfill",
    "get_backfill",
    "list_backfills",
]

INTERVAL_TYPES: Final = ("second", "minute", "hour", "day", "week", "month", "year")
"""Mage's backfill interval units."""

MAX_BACKFILL_RUNS: Final = 10_000
"""A backfill asking for more runs than this is refused (a typo in the dates, most likely)."""

_FIXED = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}


@dataclass(frozen=True, slots=True)
class BackfillRecord:
    """A stored backfill and how its runs stand.

    Attributes:
        id, name, pipeline_uuid: identity.
        start_datetime, end_datetime: the range (UTC); intervals start within it.
        interval_type, interval_units: the step.
        variables: added to every run's variables.
        cancelled: `cancel_backfill` was called.
        run_counts: runs per status, e.g. `{"completed": 3, "queued": 2}`.
        created_at, updated_at: UTC.
    """

    id: int
    name: str
    pipeline_uuid: str
    start_datetime: datetime
    end_datetime: datetime
    interval_type: str
    interval_units: int
    variables: Mapping[str, Any]
    cancelled: bool
    run_counts: Mapping[str, int]
    created_at: datetime
    updated_at: datetime

    @property
    def status(self) -> str:
        """`cancelled`, `running` (a run not ended), `failed` (one failed) or `completed`."""
        if self.cancelled:
            return "cancelled"
        counts = self.run_counts
        if any(counts.get(s.value) for s in RunStatus if s not in TERMINAL_STATUSES):
            return "running"
        return "failed" if counts.get(RunStatus.FAILED.value) else "completed"


def _nth(origin: datetime, interval_type: str, steps: int) -> datetime:
    # Counted from the origin, not from the previous interval, so months do not drift:
    # Jan 31, Feb 29, Mar 31, Apr 30.
    if interval_type in _FIXED:
        # Wall-clock steps in the local zone: a day is a calendar day across DST changes.
        local = origin.replace(tzinfo=None) + _FIXED[interval_type] * steps
        return local.replace(tzinfo=origin.tzinfo)
    months = steps * (12 if interval_type == "year" else 1)
    month_index = origin.month - 1 + months
    year, month = origin.year + month_index // 12, month_index % 12 + 1
    day = min(origin.day, calendar.monthrange(year, month)[1])
    return origin.replace(year=year, month=month, day=day)


def backfill_intervals(
    start: datetime,
    end: datetime,
    interval_type: str = "day",
    interval_units: int = 1,
    *,
    timezone: str = "UTC",
) -> list[tuple[datetime, datetime]]:
    """The `(interval start, interval end)` pairs of a backfill, in UTC.

    Args:
        start: the first interval's start; a naive value is read in `timezone`.
        end: the last interval starts at or before it (inclusive, as in Mage).
        interval_type: one of `INTERVAL_TYPES`.
        interval_units: how many units one interval spans (>= 1).
        timezone: the IANA zone days and months are counted in.

    Raises:
        ValueError: unknown interval type, units < 1, `end` before `start`, a bad time zone, or
            more than `MAX_BACKFILL_RUNS` intervals.
    """
    if interval_type not in INTERVAL_TYPES:
        raise ValueError(f"interval {interval_type!r} is not one of {', '.join(INTERVAL_TYPES)}")
    if interval_units < 1:
        raise ValueError(f"interval units must be at least 1, got {interval_units}")
    zone = check_timezone(timezone)
    first, last = (m if m.tzinfo else m.replace(tzinfo=zone) for m in (start, end))
    if last < first:
        raise ValueError(f"the end {last.isoformat()} is before the start {first.isoformat()}")
    intervals: list[tuple[datetime, datetime]] = []
    origin = first.astimezone(zone)
    current = origin
    while current <= last:
        following = _nth(origin, interval_type, (len(intervals) + 1) * interval_units)
        intervals.append((current.astimezone(UTC), following.astimezone(UTC)))
        if len(intervals) > MAX_BACKFILL_RUNS:
            raise ValueError(
                f"the backfill would create more than {MAX_BACKFILL_RUNS} runs; "
                "narrow the dates or widen the interval"
            )
        current = following
    return intervals


@contextmanager
def _session(runs: RunStore, *, write: bool = False) -> Iterator[Session]:
    engine = runs.engine.execution_options(**{WRITE_OPTION: True}) if write else runs.engine
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def _record(session: Session, row: Backfill) -> BackfillRecord:
    counts = session.execute(
        select(PipelineRun.status, func.count())
        .where(PipelineRun.backfill_id == row.id)
        .group_by(PipelineRun.status)
    ).all()
    return BackfillRecord(
        id=row.id,
        name=row.name,
        pipeline_uuid=row.pipeline_uuid,
        start_datetime=row.start_datetime,
        end_datetime=row.end_datetime,
        interval_type=row.interval_type,
        interval_units=row.interval_units,
        variables=dict(row.variables),
        cancelled=row.status == "cancelled",
        run_counts={RunStatus(status).value: count for status, count in counts},
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create_backfill(
    runs: RunStore,
    pipeline: Pipeline,
    *,
    start: datetime,
    end: datetime,
    interval_type: str = "day",
    interval_units: int = 1,
    variables: Mapping[str, Any] | None = None,
    name: str | None = None,
    timezone: str = "UTC",
) -> BackfillRecord:
    """Record a backfill and queue one run per interval (see the module docstring).

    Args:
        runs: the run store.
        pipeline: the loaded pipeline.
        start: the first interval's start (naive: in `timezone`).
        end: the last interval starts at or before it.
        interval_type: one of `INTERVAL_TYPES`.
        interval_units: units per interval.
        timezone: the zone intervals are stepped in.
        variables: added to each run's variables (pipeline < these < the interval variables).
        name: a label; default `<pipeline>: <start> .. <end> every <units> <type>`.

    Returns:
        The backfill, its runs queued.

    Raises:
        ValueError: see `backfill_intervals`.
    """
    intervals = backfill_intervals(start, end, interval_type, interval_units, timezone=timezone)
    first, last = intervals[0][0], intervals[-1][0]
    label = name or (
        f"{pipeline.uuid}: {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} "
        f"every {interval_units} {interval_type}"
    )
    now = datetime.now(UTC)
    with _session(runs, write=True) as session:
        row = Backfill(
            name=label[:255],
            pipeline_uuid=pipeline.uuid,
            start_datetime=first,
            end_datetime=last,
            interval_type=interval_type,
            interval_units=interval_units,
            status="running",
            variables=dict(variables or {}),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        backfill_id = row.id
    for interval_start, interval_end in intervals:
        interval = {
            "interval_start_datetime": interval_start.isoformat(),
            "interval_end_datetime": interval_end.isoformat(),
        }
        run_variables = {**(variables or {}), **interval}
        enqueue_run(
            runs, None, interval_start, run_variables, pipeline=pipeline, backfill_id=backfill_id
        )
    return get_backfill(runs, backfill_id)


def get_backfill(runs: RunStore, backfill_id: int) -> BackfillRecord:
    """The backfill with that id.

    Raises:
        BackfillNotFoundError: there is none.
    """
    with _session(runs) as session:
        row = session.get(Backfill, backfill_id)
        if row is None:
            raise BackfillNotFoundError(f"no backfill with id {backfill_id}")
        return _record(session, row)


def list_backfills(runs: RunStore, pipeline_uuid: str | None = None) -> list[BackfillRecord]:
    """Backfills, newest first, of one pipeline or all."""
    query = select(Backfill).order_by(Backfill.id.desc())
    if pipeline_uuid is not None:
        query = query.where(Backfill.pipeline_uuid == pipeline_uuid)
    with _session(runs) as session:
        return [_record(session, row) for row in session.scalars(query)]


def cancel_backfill(
    runs: RunStore, backfill_id: int, *, include_running: bool = False
) -> BackfillRecord:
    """Cancel a backfill: its runs not started yet are cancelled (with the reason).

    Args:
        runs: the run store.
        backfill_id: the backfill.
        include_running: also cancel its running runs (their scheduler stops their workers).

    Returns:
        The backfill, `cancelled`.

    Raises:
        BackfillNotFoundError: no backfill with that id.
    """
    now = datetime.now(UTC)
    with _session(runs, write=True) as session:
        row = session.get(Backfill, backfill_id)
        if row is None:
            raise BackfillNotFoundError(f"no backfill with id {backfill_id}")
        row.status, row.updated_at = "cancelled", now
    targets = [RunStatus.INITIAL, RunStatus.QUEUED]
    if include_running:
        targets.append(RunStatus.RUNNING)
    with _session(runs) as session:
        run_ids = session.scalars(
            select(PipelineRun.id).where(
                PipelineRun.backfill_id == backfill_id, PipelineRun.status.in_(targets)
            )
        ).all()
    for run_id in run_ids:
        try:
            runs.cancel_pipeline_run(run_id, f"cancelled with backfill {backfill_id}")
        except RunStateError:
            continue  # it ended meanwhile
    return get_backfill(runs, backfill_id)
