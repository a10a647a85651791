"""The scheduler that `weir start` runs beside the API, in a child process of its own.

It is `weir.orchestration.Scheduler`, run until SIGTERM or SIGINT, which stop it gracefully
(running runs are cancelled, as `weir scheduler` does). Its liveness needs nothing from here:
every scheduler's loop records a heartbeat row in the metadata database
(`RunStore.record_scheduler_beat`), which the API's `/metrics` reports as
`weir_scheduler_heartbeat_age_seconds`, whether the scheduler was started by `weir start`, by
`weir scheduler`, or on another machine.

Run as `python -m weir.server.scheduler_process PROJECT` with `WEIR_DATABASE_URL` set.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["main"]


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
    scheduler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
