"""Fixtures for orchestration tests: a clock the test moves, a SQLite metadata database, stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.project_builder import BlockDef, write_project
from weir.orchestration.clock import ManualClock
from weir.orchestration.triggers import TriggerSpec, TriggerStore
from weir.project.project import Project, load_project
from weir.runs.store import RunStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

LOAD = "@data_loader\ndef load(*args, **kwargs):\n    return 1\n"
ADD = "@transformer\ndef add(value, *args, **kwargs):\n    return value + 1\n"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'weir.db'}"


@pytest.fixture
def runs(database_url: str, clock: ManualClock) -> Iterator[RunStore]:
    with RunStore(database_url, clock=clock) as store:
        yield store


@pytest.fixture
def triggers(runs: RunStore, clock: ManualClock) -> Iterator[TriggerStore]:
    with TriggerStore(runs.engine, clock=clock) as store:
        yield store


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = write_project(
        tmp_path / "project",
        "etl",
        [
            BlockDef("load", LOAD, type="data_loader"),
            BlockDef("add", ADD, upstream=["load"]),
        ],
        variables={"source": "pipeline", "level": 1},
    )
    return load_project(root)


def spec(name: str = "t", **fields: object) -> TriggerSpec:
    data: dict[str, object] = {
        "name": name,
        "pipeline_uuid": "etl",
        "schedule_type": "time",
        "schedule_interval": "@hourly",
    }
    data.update(fields)
    return TriggerSpec.model_validate(data)
