"""The heartbeat file of the scheduler `weir start` runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from weir.server.scheduler_process import heartbeat_path, main, read_heartbeat, write_heartbeat


def test_heartbeat_round_trip(tmp_path: Path) -> None:
    path = heartbeat_path(tmp_path / ".weir")
    assert read_heartbeat(path) is None
    beat = datetime(2025, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
    write_heartbeat(path, "host:1:abc", beat)
    assert read_heartbeat(path) == beat
    assert sorted(p.name for p in path.parent.iterdir()) == ["scheduler.heartbeat"]


def test_an_unreadable_heartbeat_is_none(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.heartbeat"
    for content in ("", "{", '{"beat_at": "yesterday"}', '{"name": "x"}', "[1]"):
        path.write_text(content)
        assert read_heartbeat(path) is None, content


def test_usage(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
