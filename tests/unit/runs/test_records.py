from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from weir.runs.records import BlockRunRecord, PipelineRunRecord
from weir.runs.status import RunStatus

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def block(uuid: str = "load", **changes: object) -> BlockRunRecord:
    fields: dict[str, object] = {
        "id": 1,
        "pipeline_run_id": 1,
        "block_uuid": uuid,
        "status": RunStatus.INITIAL,
        "started_at": None,
        "completed_at": None,
        "attempts": 0,
        "error": None,
        "traceback": None,
        "metrics": {},
        "log_path": None,
    }
    fields.update(changes)
    return BlockRunRecord(**fields)  # type: ignore[arg-type]


def run(*blocks: BlockRunRecord, **changes: object) -> PipelineRunRecord:
    fields: dict[str, object] = {
        "id": 1,
        "pipeline_uuid": "etl",
        "pipeline_schedule_id": None,
        "status": RunStatus.INITIAL,
        "execution_date": T0,
        "variables": {},
        "created_at": T0,
        "started_at": None,
        "completed_at": None,
        "heartbeat_at": None,
        "error": None,
        "metrics": {},
        "block_runs": blocks,
    }
    fields.update(changes)
    return PipelineRunRecord(**fields)  # type: ignore[arg-type]


def test_duration_is_none_until_ended() -> None:
    assert block().duration_seconds is None
    assert block(started_at=T0).duration_seconds is None
    assert block(completed_at=T0).duration_seconds is None
    assert run(started_at=T0).duration_seconds is None


def test_duration_in_seconds() -> None:
    ended = T0 + timedelta(seconds=90, milliseconds=500)
    assert block(started_at=T0, completed_at=ended).duration_seconds == 90.5
    assert run(started_at=T0, completed_at=ended).duration_seconds == 90.5


def test_is_terminal() -> None:
    assert not block(status=RunStatus.RUNNING).is_terminal
    assert block(status=RunStatus.UPSTREAM_FAILED).is_terminal
    assert run(status=RunStatus.CANCELLED).is_terminal


def test_records_are_frozen() -> None:
    record = block()
    with pytest.raises(AttributeError):
        record.status = RunStatus.RUNNING  # type: ignore[misc]


def test_block_run_lookup() -> None:
    record = run(block("load"), block("clean", id=2))
    assert record.block_run("clean").id == 2
    with pytest.raises(KeyError, match="no block run for block 'export'"):
        record.block_run("export")
