"""The scheduler that `weir start` runs beside the API, in a child process of its own.

It is `weir.orchestration.Scheduler`, plus a heartbeat: after each tick (at least once a
second while it is alive) it writes `<data_dir>/scheduler.heartbeat`, a small JSON file
`{"name", "pid", "beat_at"}`, replaced atomically. The API's `/metrics` reads it to report
`weir_scheduler_heartbeat_age_seconds`, so a scheduler that died or hangs shows as a growing
age. Only schedulers started this way beat (a bare `weir scheduler` does not), and only on
this machine's data directory.

Run as `python -m weir.server.scheduler_process PROJECT` with `WEIR_DATABASE_URL` set; SIGTERM
or SIGINT stops it gracefully (running runs are cancelled, as `weir scheduler` does).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

__all__ = ["HEARTBEAT_FILE", "heartbeat_path", "main", "read_heartbeat", "write_heartbeat"]

HEARTBEAT_FILE: Final = "scheduler.heartbeat"


def heartbeat_path(data_dir: Path) -> Path:
    """Where the scheduler of a project's data directory writes its heartbeat."""
    return data_dir / HEARTBEAT_FILE


def write_heartbeat(path: Path, name: str, now: datetime) -> None:
    """Record that scheduler `name` is alive at `now` (aware), atomically (temp file, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    beat = {"name": name, "pid": os.getpid(), "beat_at": now.astimezone(UTC).isoformat()}
    temporary.write_text(json.dumps(beat), encoding="utf-8")
    temporary.replace(path)


def read_heartbeat(path: Path) -> datetime | None:
    """When the scheduler last beat (aware UTC), or None if it never did or the file is unreadable."""
    try:
        beat = json.loads(path.read_text(encoding="utf-8"))
        return datetime.fromisoformat(beat["beat_at"]).astimezone(UTC)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _beater(path: Path, name: str) -> Callable[[object], None]:
    last: list[datetime] = []

    def beat(_report: object) -> None:
        now = datetime.now(UTC)
        if not last or (now - last[0]).total_seconds() >= 1.0:
            write_heartbeat(path, name, now)
            last[:] = [now]

    return beat


def main(argv: list[str]) -> int:
    """Run the scheduler of the project `argv[0]` until SIGTERM/SIGINT; returns the exit code."""
    from weir.orchestration.scheduler import Scheduler
    from weir.project.project import load_project

    if len(argv) != 1:
        sys.stderr.write("usage: python -m weir.server.scheduler_process PROJECT\n")
        return 2
    project = load_project(argv[0])
    scheduler = Scheduler(project, os.environ.get("WEIR_DATABASE_URL") or None)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: scheduler.stop())
    path = heartbeat_path(project.data_dir)
    beat = _beater(path, scheduler.name)
    beat(None)
    scheduler.run(on_tick=beat)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
