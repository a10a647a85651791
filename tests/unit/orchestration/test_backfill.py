"""Backfills: intervals as Mage builds them, one queued run each, cancellable, under limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from weir.errors import BackfillNotFoundError
from weir.orchestration.backfill import (
    backfill_intervals,
    cancel_backfill,
    create_backfill,
    get_backfill,
    list_backfills,
)
from weir.orchestration.queue import RunLimits, claim_next_run
from weir.pipeline.pipeline import load_pipeline
from weir.project.project import Project
from weir.runs.status import RunStatus
from weir.runs.store import RunStore


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_daily_intervals_end_inclusive_like_mage() -> None:
    intervals = backfill_intervals(utc(2024, 1, 1), utc(2024, 1, 3))
    assert intervals == [
        (utc(2024, 1, 1), utc(2024, 1, 2)),
        (utc(2024, 1, 2), utc(2024, 1, 3)),
        (utc(2024, 1, 3), utc(2024, 1, 4)),
    ]


def test_months_keep_the_day_or_the_month_end() -> None:
    starts = [s for s, _ in backfill_intervals(utc(2024, 1, 31), utc(2024, 4, 30), "month")]
    assert starts == [utc(2024, 1, 31), utc(2024, 2, 29), utc(2024, 3, 31), utc(2024, 4, 30)]
    years = backfill_intervals(utc(2020, 6, 1), utc(2023, 1, 1), "year", 2)
    assert [s for s, _ in years] == [utc(2020, 6, 1), utc(2022, 6, 1)]


def test_days_are_local_days_across_dst() -> None:
    intervals = backfill_intervals(
        datetime(2024, 3, 30), datetime(2024, 4, 1), timezone="Europe/Paris"
    )
    assert [s for s, _ in intervals] == [
        utc(2024, 3, 29, 23),  # midnight CET
        utc(2024, 3, 30, 23),
        utc(2024, 3, 31, 22),  # midnight CEST
    ]
    assert intervals[1][1] - intervals[1][0] == (utc(2024, 3, 31, 22) - utc(2024, 3, 30, 23))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((utc(2024, 1, 2), utc(2024, 1, 1)), "is before the start"),
        ((utc(2024, 1, 1), utc(2024, 1, 2), "fortnight"), "'fortnight' is not one of"),
        ((utc(2024, 1, 1), utc(2024, 1, 2), "day", 0), "units must be at least 1"),
        ((utc(2000, 1, 1), utc(2030, 1, 1), "hour"), "more than 10000 runs"),
    ],
)
def test_bad_backfills_are_refused(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        backfill_intervals(*args)


def test_create_queues_one_run_per_interval(runs: RunStore, project: Project) -> None:
    pipeline = load_pipeline(project, "etl")
    backfill = create_backfill(
        runs,
        pipeline,
        start=utc(2024, 1, 1),
        end=utc(2024, 1, 1, 3),
        interval_type="hour",
        variables={"source": "backfill"},
    )
    assert backfill.name == "etl: 2024-01-01 00:00 .. 2024-01-01 03:00 every 1 hour"
    assert (backfill.run_counts, backfill.status) == ({"queued": 4}, "running")
    made = sorted(runs.list_pipeline_runs(), key=lambda r: r.execution_date)
    assert [r.execution_date for r in made] == [utc(2024, 1, 1, h) for h in range(4)]
    assert {r.backfill_id for r in made} == {backfill.id}
    assert {r.pipeline_schedule_id for r in made} == {None}
    assert made[1].variables == {
        "source": "backfill",
        "level": 1,
        "interval_start_datetime": "2024-01-01T01:00:00+00:00",
        "interval_end_datetime": "2024-01-01T02:00:00+00:00",
    }
    assert list_backfills(runs) == [get_backfill(runs, backfill.id)]


def test_pipeline_run_limit_counts_per_backfill(runs: RunStore, project: Project) -> None:
    pipeline = load_pipeline(project, "etl")
    create_backfill(runs, pipeline, start=utc(2024, 1, 1), end=utc(2024, 1, 5))
    limits = RunLimits(pipeline_run_limit=2)
    claimed = [claim_next_run(runs, "s", lambda _c: limits).claimed for _ in range(4)]
    assert [c is not None for c in claimed] == [True, True, False, False]


def test_cancel_cancels_the_runs_not_started(runs: RunStore, project: Project) -> None:
    pipeline = load_pipeline(project, "etl")
    backfill = create_backfill(runs, pipeline, start=utc(2024, 1, 1), end=utc(2024, 1, 3))
    started = claim_next_run(runs, "s", lambda _c: RunLimits()).claimed
    assert started is not None
    runs.transition_pipeline_run(started.id, RunStatus.RUNNING)
    cancelled = cancel_backfill(runs, backfill.id)
    assert (cancelled.status, cancelled.run_counts) == ("cancelled", {"cancelled": 2, "running": 1})
    assert {r.error for r in runs.list_pipeline_runs(status=RunStatus.CANCELLED)} == {
        f"cancelled with backfill {backfill.id}"
    }
    everything = cancel_backfill(runs, backfill.id, include_running=True)
    assert everything.run_counts == {"cancelled": 3}


def test_status_follows_the_runs(runs: RunStore, project: Project) -> None:
    pipeline = load_pipeline(project, "etl")
    backfill = create_backfill(runs, pipeline, start=utc(2024, 1, 1), end=utc(2024, 1, 2))
    first, second = runs.list_pipeline_runs()
    for run in (first, second):
        runs.transition_pipeline_run(run.id, RunStatus.RUNNING)
    runs.transition_pipeline_run(first.id, RunStatus.COMPLETED)
    assert get_backfill(runs, backfill.id).status == "running"
    runs.transition_pipeline_run(second.id, RunStatus.FAILED)
    assert get_backfill(runs, backfill.id).status == "failed"


def test_unknown_backfill(runs: RunStore) -> None:
    with pytest.raises(BackfillNotFoundError, match="no backfill with id 4"):
        get_backfill(runs, 4)
    with pytest.raises(BackfillNotFoundError):
        cancel_backfill(runs, 4)
