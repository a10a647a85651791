"""Worker processes: each executes claimed runs, one at a time, with `execute_recorded_run`.

A worker is forked from the scheduler (it inherits the loaded modules, so it starts in
milliseconds) and made the leader of a new session, so:
- a block that crashes, leaks or hangs takes down its worker, never the scheduler;
- the scheduler stops a run at its timeout by killing the worker's whole process group
  (subprocesses a block started included);
- a worker outlives a scheduler killed with SIGKILL and finishes its run: the run recovers on
  its own. If the worker dies too, its heartbeat stops and another scheduler fails or retries the
  run (see `weir.orchestration.recovery`).

A worker is kept warm for up to `max_runs` runs (the scheduler sends it run ids over a pipe):
a forked process pays copy-on-write faults on everything it touches, about as much CPU as a
small run itself, so reuse doubles throughput. Before each run it forgets the project's own
modules (`utils/...`), so code edited since the last run is imported afresh, as in a new
process; `max_runs=1` gives every run a process of its own. A worker retires after
`max_runs` runs, when idle too long, or at the scheduler's close.

The worker executes each run in-process (`isolate=False`): it already is the isolation. Besides
the engine's heartbeat (every 10 s) it beats every `heartbeat_seconds`, so a scheduler may use a
shorter `stale_after`. It never touches the database connections it inherited from the
scheduler (it opens its own) and leaves with `os._exit`, so nothing of the parent's is closed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType

from weir.runs.status import RunStatus
from weir.runs.store import RunStore

__all__ = ["Worker", "start_worker"]

_EXIT_CODES = {RunStatus.COMPLETED: 0, RunStatus.FAILED: 1, RunStatus.CANCELLED: 130}
_CRASHED = 3


@dataclass
class Worker:
    """A worker process, as the scheduler tracks it.

    Attributes:
        process: the process (its `sentinel` becomes ready when it exits).
        connection: the scheduler's end of the pipe (run ids out, results in).
        run_id: the run it executes now, or None when idle.
        started: `time.monotonic()` when the current run was handed over (or the worker idled).
        deadline: `time.monotonic()` after which the current run is stopped, or None.
        runs_done: runs it has finished.
    """

    process: multiprocessing.process.BaseProcess
    connection: Connection
    run_id: int | None = None
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None
    runs_done: int = 0

    @property
    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.process.is_alive()

    def assign(self, run_id: int, timeout: float | None) -> None:
        """Hand the claimed run `run_id` over; stop it after `timeout` seconds if given."""
        self.run_id, self.started = run_id, time.monotonic()
        self.deadline = self.started + timeout if timeout else None
        self.connection.send(run_id)

    def finished_run(self) -> int | None:
        """The run it reported finished since last asked (it is idle again), else None."""
        if self.run_id is None or not self.connection.poll():
            return None
        try:
            run_id, _code = self.connection.recv()
        except (EOFError, OSError):
            return None  # it died; the scheduler sees the process end
        self.run_id, self.deadline, self.started = None, None, time.monotonic()
        self.runs_done += 1
        return int(run_id)

    def retire(self) -> None:
        """Ask an idle worker to exit."""
        with contextlib.suppress(OSError):  # already gone
            self.connection.send(None)

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
        """SIGTERM the worker: the engine cancels its run, and the worker exits."""
        if self.alive:
            self.process.terminate()

    def close(self) -> None:
        """Wait for the exited process and release the pipe."""
        self.process.join()
        self.connection.close()


def start_worker(
    project_root: Path,
    database_url: str,
    *,
    heartbeat_seconds: float,
    siblings: Sequence[Worker] = (),
) -> Worker:
    """Fork an idle worker for runs of the project at `project_root`.

    Args:
        project_root: the project folder.
        database_url: the metadata database.
        heartbeat_seconds: how often the worker records a heartbeat of its current run.
        siblings: the scheduler's other workers; the new one closes its copies of their pipes,
            so each worker sees end-of-file when the scheduler dies.

    Returns:
        The idle worker; `Worker.assign` gives it a run.
    """
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    inherited = [ours, *(sibling.connection for sibling in siblings)]
    process = context.Process(
        target=_worker_main,
        args=(theirs, inherited, project_root, database_url, heartbeat_seconds),
        name="weir-worker",
    )
    process.start()
    theirs.close()
    return Worker(process, ours)


def _worker_main(
    connection: Connection, inherited: list[Connection], root: Path, url: str, beat: float
) -> None:
    os.setsid()
    for other in inherited:  # the scheduler's ends: a dead scheduler shows as end-of-file
        other.close()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the scheduler decides what Ctrl-C means
    code = 0
    try:
        while (run_id := connection.recv()) is not None:
            code = _run_one(root, run_id, url, beat)
            connection.send((run_id, code))
            if code == _EXIT_CODES[RunStatus.CANCELLED]:
                break  # cancelled by SIGTERM: the scheduler is stopping
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the scheduler is gone or asked us to stop
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _run_one(root: Path, run_id: int, url: str, beat: float) -> int:
    _forget_project_modules(root)
    try:
        return _execute(root, run_id, url, beat)
    except KeyboardInterrupt:
        return _EXIT_CODES[RunStatus.CANCELLED]
    except Exception:
        traceback.print_exc()
        return _CRASHED


def _forget_project_modules(root: Path) -> None:
    # The project's own modules (utils/...) are imported afresh by each run, as in a new process.
    prefix = str(root.resolve()) + os.sep
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.abspath(path).startswith(prefix):
            del sys.modules[name]


def _execute(root: Path, run_id: int, url: str, beat: float) -> int:
    from weir.engine.runner import execute_recorded_run

    stop = threading.Event()
    beater = threading.Thread(target=_beat, args=(url, run_id, beat, stop), daemon=True)
    beater.start()
    try:
        record = execute_recorded_run(root, run_id, isolate=False, database_url=url)
    finally:
        stop.set()
        beater.join()
    return _EXIT_CODES.get(record.status, 1)


def _beat(url: str, run_id: int, every: float, stop: threading.Event) -> None:
    if stop.wait(every):
        return  # a short run needs no connection of its own
    with RunStore(url) as runs:
        while True:
            # A missed beat is harmless; a dead worker is what stale means.
            with contextlib.suppress(Exception):
                runs.heartbeat(run_id)
            if stop.wait(every):
                return


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
