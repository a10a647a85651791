"""Scheduler liveness: every scheduler's loop writes a `scheduler_heartbeat` row; `/metrics`
reports its age, whoever started the scheduler."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.unit.server.conftest import Api
from weir.orchestration.scheduler import Scheduler
from weir.runs.models import SchedulerHeartbeat
from weir.runs.scheduling import SCHEDULER_BEAT_RETENTION
from weir.runs.store import RunStore
from weir.server import Role
from weir.server.scheduler_process import main

T0 = datetime(2025, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def heartbeat_age(api: Api) -> float | None:
    text = api.client.get("/metrics", headers=api.as_(Role.VIEWER)).text
    found = re.search(r"^weir_scheduler_heartbeat_age_seconds (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def rows(store: RunStore) -> int:
    with store.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(SchedulerHeartbeat)) or 0


def test_beats_insert_once_update_after_and_prune_the_long_gone(api: Api) -> None:
    clock = Clock(T0)
    store = RunStore(api.app.state.weir.runs.engine, clock=clock)
    assert store.latest_scheduler_beat() is None
    store.record_scheduler_beat("gone:1:aa")
    clock.now += SCHEDULER_BEAT_RETENTION + timedelta(seconds=1)
    store.record_scheduler_beat("alive:2:bb")  # first beat: prunes "gone"
    assert rows(store) == 1
    clock.now += timedelta(seconds=3)
    store.record_scheduler_beat("alive:2:bb")
    store.record_scheduler_beat("alive:2:bb")
    assert rows(store) == 1
    assert store.latest_scheduler_beat() == clock.now


def test_a_bare_scheduler_is_visible_in_metrics(api: Api, project: Path) -> None:
    # No `weir start`, no file: the scheduler's own tick records its heartbeat.
    assert heartbeat_age(api) is None
    clock = Clock(datetime.now(UTC))
    with Scheduler(project, api.database_url, clock=clock, workers=1) as scheduler:
        scheduler.tick()
        age = heartbeat_age(api)
        assert age is not None
        assert age < 5
        clock.now += timedelta(seconds=30)  # the next sweep is due: the row moves on
        scheduler.tick()
        assert api.app.state.weir.runs.latest_scheduler_beat() == clock.now
        assert rows(api.app.state.weir.runs) == 1


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
