"""Worker processes: each executes one claimed run with `execute_recorded_run`.

A worker is forked from the scheduler (it inherits the loaded modules, so it starts in
milliseconds) and made the leader of a new session, so:
- a block that crashes, leaks or hangs takes down its worker, never the scheduler;
- the scheduler stops a run at its timeout by killing the worker's whole process group
  (subprocesses a block started included);
- a worker outlives a scheduler killed with SIGKILL and finishes its run: the run recovers on
  its own. If the worker dies too, its heartbeat stops and another scheduler fails or retries the
  run (see `weir.orchestration.recovery`).

The worker executes the run in-process (`isolate=False`): it already is the isolation. Besides
the engine's heartbeat (every 10 s) it beats every `heartbeat_seconds`, so a scheduler may use a
shorter `stale_after`. It never touches the database connections it inherited from the
scheduler (it opens its own) and leaves with `os._exit`, so nothing of the parent's is closed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from weir.runs.status import RunStatus
from weir.runs.store import RunStore

__all__ = ["Worker", "start_worker"]

_EXIT_CODES = {RunStatus.COMPLETED: 0, RunStatus.FAILED: 1, RunStatus.CANCELLED: 130}
_CRASHED = 3


@dataclass
class Worker:
    """A running worker process, as the scheduler tracks it.

    Attributes:
        run_id: the pipeline run it executes.
        process: the process (its `sentinel` becomes ready when it exits).
        started: `time.monotonic()` when it was started.
        deadline: `time.monotonic()` after which the run is stopped, or None.
    """

    run_id: int
    process: multiprocessing.process.BaseProcess
    started: float
    deadline: float | None = None

    @property
    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.process.is_alive()

    def kill(self) -> None:
        """SIGKILL the worker's process group (the worker and anything a block started)."""
        pid = self.process.pid
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:  # no such group yet (killed right after the fork) or gone already
            if self.alive:
                self.process.kill()

    def terminate(self) -> None:
        """SIGTERM the worker: the engine cancels the run and the worker exits."""
        if self.alive:
            self.process.terminate()


def start_worker(
    project_root: Path,
    run_id: int,
    database_url: str,
    *,
    heartbeat_seconds: float,
    timeout: float | None = None,
) -> Worker:
    """Fork a worker that executes the claimed run `run_id`.

    Args:
        project_root: the project folder.
        run_id: a run claimed by this scheduler (status `queued`).
        database_url: the metadata database.
        heartbeat_seconds: how often the worker records a heartbeat.
        timeout: seconds after which the scheduler should stop the run, if any.

    Returns:
        The started worker.
    """
    context = multiprocessing.get_context("fork")
    process = context.Process(
        target=_worker_main,
        args=(project_root, run_id, database_url, heartbeat_seconds),
        name=f"weir-run-{run_id}",
    )
    process.start()
    started = time.monotonic()
    return Worker(run_id, process, started, started + timeout if timeout else None)


def _worker_main(project_root: Path, run_id: int, url: str, heartbeat_seconds: float) -> None:
    os.setsid()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the scheduler decides what Ctrl-C means
    code = _CRASHED
    try:
        code = _execute(project_root, run_id, url, heartbeat_seconds)
    except KeyboardInterrupt:
        code = _EXIT_CODES[RunStatus.CANCELLED]
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _execute(project_root: Path, run_id: int, url: str, heartbeat_seconds: float) -> int:
    from weir.engine.runner import execute_recorded_run

    stop = threading.Event()
    with RunStore(url) as beats:
        beater = threading.Thread(
            target=_beat, args=(beats, run_id, heartbeat_seconds, stop), daemon=True
        )
        beater.start()
        try:
            record = execute_recorded_run(project_root, run_id, isolate=False, database_url=url)
        finally:
            stop.set()
            beater.join()
    return _EXIT_CODES.get(record.status, 1)


def _beat(runs: RunStore, run_id: int, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            runs.heartbeat(run_id)
        except Exception:  # a missed beat is harmless; a dead worker is what stale means
            continue


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
