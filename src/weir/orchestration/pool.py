"""The scheduler's pool of worker processes (see `weir.orchestration.worker`).

At most `size` workers exist; each executes one run at a time. The pool reuses an idle worker
for the next run, starts a new one when none is idle, retires a worker after `max_runs` runs
or `idle_seconds` without work, and reports each run that ended: normally (the worker said so)
or because its worker died, with the reason.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from weir.orchestration.worker import Worker, start_worker

__all__ = ["Ended", "WorkerPool"]


@dataclass(frozen=True, slots=True)
class Ended:
    """A run whose worker is done with it.

    Attributes:
        run_id: the run.
        death: why its worker died before reporting (for the run's error), or None when the
            worker reported it finished (its status is then whatever the engine recorded).
    """

    run_id: int
    death: str | None = None


class WorkerPool:
    """Worker processes for one project's runs.

    Args:
        project_root: the project folder.
        database_url: the metadata database.
        size: at most this many workers (runs at once).
        heartbeat_seconds: how often a worker beats for its run.
        max_runs: runs a worker executes before it is replaced (1: a process per run).
        idle_seconds: an idle worker older than this is retired.
    """

    def __init__(
        self,
        project_root: Path,
        database_url: str,
        *,
        size: int,
        heartbeat_seconds: float,
        max_runs: int,
        idle_seconds: float = 60.0,
    ) -> None:
        self._root = project_root
        self._url = database_url
        self._size = size
        self._beat = heartbeat_seconds
        self._max_runs = max_runs
        self._idle_seconds = idle_seconds
        self._workers: list[Worker] = []

    @property
    def running(self) -> dict[int, Worker]:
        """Run id -> the worker executing it."""
        return {w.run_id: w for w in self._workers if w.run_id is not None}

    @property
    def free_slots(self) -> int:
        """How many more runs could start now."""
        return self._size - len(self.running)

    def assign(self, run_id: int, timeout: float | None) -> None:
        """Give the run to an idle worker, or to a new one.

        Raises:
            OSError: no process could be started (or the idle one's pipe is broken).
        """
        worker = next((w for w in self._workers if w.run_id is None and w.alive), None)
        if worker is None:
            worker = start_worker(
                self._root, self._url, heartbeat_seconds=self._beat, siblings=self._workers
            )
            self._workers.append(worker)
        worker.assign(run_id, timeout)

    def collect(self) -> list[Ended]:
        """The runs that ended since the last call; drops dead, worn-out and idle workers."""
        ended: list[Ended] = []
        now = time.monotonic()
        for worker in list(self._workers):
            run_id = worker.finished_run()
            if run_id is not None:
                ended.append(Ended(run_id))
            if not worker.alive:
                if worker.run_id is not None:
                    ended.append(Ended(worker.run_id, _death_reason(worker.process.exitcode)))
                self._drop(worker)
            elif worker.run_id is None and (
                worker.runs_done >= self._max_runs or now - worker.started > self._idle_seconds
            ):
                worker.retire()
                self._drop(worker)
        return ended

    def expired(self) -> list[tuple[int, float]]:
        """Kill the workers of runs past their deadline; returns (run id, timeout seconds)."""
        now = time.monotonic()
        late: list[tuple[int, float]] = []
        for worker in list(self._workers):
            if worker.run_id is None or worker.deadline is None or now < worker.deadline:
                continue
            late.append((worker.run_id, worker.deadline - worker.started))
            worker.kill()
            self._drop(worker)
        return late

    def kill_run(self, run_id: int) -> None:
        """Kill the worker executing `run_id` (its end is then reported by `collect`)."""
        worker = self.running.get(run_id)
        if worker is not None:
            worker.kill()

    def seconds_to_a_timeout(self) -> float:
        """Seconds until the nearest run deadline (infinity when none)."""
        now = time.monotonic()
        deadlines = [w.deadline - now for w in self._workers if w.deadline is not None]
        return max(0.0, min(deadlines, default=float("inf")))

    def wait(self, timeout: float, *extra: Any) -> list[Any]:
        """Block until a worker reports or exits, an `extra` waitable is ready, or time is up.

        Returns:
            The waitables that are ready (empty after `timeout` seconds).
        """
        waitables: list[Any] = [w.process.sentinel for w in self._workers]
        waitables += [w.connection for w in self._workers if w.run_id is not None]
        return wait([*waitables, *extra], timeout=timeout)

    def close(self, grace: float) -> list[Ended]:
        """Stop every worker; busy ones are cancelled (SIGTERM), killed after `grace` seconds.

        Returns:
            The runs that ended meanwhile (see `collect`).
        """
        for worker in self._workers:
            if worker.run_id is None:
                worker.retire()
            else:
                worker.terminate()
        ended: list[Ended] = []
        deadline = time.monotonic() + grace
        while self._workers and time.monotonic() < deadline:
            self.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            ended += self.collect()
            for worker in [w for w in self._workers if w.run_id is None]:
                worker.retire()
                self._drop(worker)
        for worker in self._workers:
            worker.kill()
        for worker in list(self._workers):
            worker.process.join()
            if worker.run_id is not None:
                ended.append(Ended(worker.run_id, _death_reason(worker.process.exitcode)))
            self._drop(worker)
        return ended

    def _drop(self, worker: Worker) -> None:
        self._workers.remove(worker)
        worker.close()


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return (
            f"the run's worker process was killed by {name} (signal {-exitcode}) before the "
            "run finished; block runs still running were failed"
        )
    return (
        f"the run's worker process exited with code {exitcode} before the run finished (a "
        "block called os._exit() or the interpreter crashed); block runs still running were "
        "failed"
    )
