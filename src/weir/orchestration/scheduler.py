"""The scheduler: queue due runs, start them in worker processes, watch them to the end.

One `tick` does, in order:
1. at most every `sweep_seconds`: record this scheduler's heartbeat in the database
   (`RunStore.record_scheduler_beat`, shown by the API's `/metrics`); sync `triggers.yaml` files
   that changed (`weir.orchestration.triggers_yaml`); the trigger list is re-read when it changed;
2. collect runs whose worker is done with them: a run left unfinished is failed with the
   reason (its worker died), a failed run is retried per its retry settings, and the hooks hear
   of it;
3. stop runs past their trigger's `timeout` (the worker's process group is killed);
4. at most every `sweep_seconds`: stop workers whose run was cancelled meanwhile, fail (and
   retry) runs whose heartbeat went stale, report SLA misses;
5. queue the runs time triggers are due for (`weir.orchestration.planning`);
6. claim queued runs, as many as there are free workers, and hand each to a worker
   (`weir.orchestration.pool`: warm worker processes, at most `workers` at once).

`run` loops over ticks and sleeps until the next due time, at most one second, and wakes at once
when a worker exits, so a run starts within a second of its due time (well under, in practice)
and an `@always_on` trigger starts again as soon as its run ends. No scheduler is a leader:
several may share one PostgreSQL database; the unique index on execution dates, the claim's row
locks and the heartbeats keep each due run started exactly once and pick up the runs of one
that died.

Clocks: decisions (what is due, SLA, staleness) use `clock`, which tests may control; worker
timeouts use `time.monotonic`, and runs stamp their own times with the real clock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from weir.orchestration import recovery
from weir.orchestration._queries import run_statuses
from weir.orchestration.clock import Clock, utc_now
from weir.orchestration.hooks import EventKind, Hook, HookDispatcher, RunEvent, default_hooks
from weir.orchestration.planning import DuePlanner, PipelineCache
from weir.orchestration.pool import Ended, WorkerPool
from weir.orchestration.queue import RunLimits, claim_next_run
from weir.orchestration.triggers import TriggerRecord, TriggerStore
from weir.orchestration.triggers_yaml import TriggerFileWatcher
from weir.pipeline.spec import ConcurrencyConfig
from weir.project.project import Project, load_project
from weir.runs.database import default_database_url
from weir.runs.records import ClaimCandidate, PipelineRunRecord
from weir.runs.status import RunStatus
from weir.runs.store import RunStore

__all__ = ["Scheduler", "TickReport"]

_log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0
"""On close, how long cancelled workers get to record their cancellation before SIGKILL."""


@dataclass
class TickReport:
    """What one tick (or `drain`) did; run ids in each list.

    Attributes:
        enqueued: runs queued for due trigger dates.
        started: runs claimed and handed to a new worker.
        finished: runs whose worker exited (now in a terminal status).
        retried: failed runs queued again as their next attempt.
        recovered: stale runs of dead processes, failed with the reason.
        skipped: queued runs cancelled by concurrency rules.
        timed_out: runs stopped at their trigger's timeout.
        sla_missed: runs newly reported as past their SLA.
        trigger_errors: per pipeline, why its `triggers.yaml` could not be read.
    """

    enqueued: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    timed_out: list[int] = field(default_factory=list)
    sla_missed: list[int] = field(default_factory=list)
    trigger_errors: dict[str, str] = field(default_factory=dict)


class Scheduler:
    """Runs a project's triggers (see the module docstring).

    Args:
        project: the project, or its folder.
        database_url: the metadata database; default `WEIR_DATABASE_URL` or the project's SQLite.
        clock: the time decisions are made at; tests pass a `ManualClock`.
        workers: at most this many runs execute at once (one worker process each).
        stale_after: seconds without a heartbeat after which a run's process counts as dead;
            keep it above the engine's 10 s heartbeat when other processes (`weir run`) share
            the database.
        late_grace: under catch-up `none`, how late a due point may still start (seconds).
        hooks: called on run end and SLA miss; default `default_hooks()` (the alerts hook).
        name: this scheduler's identity in `claimed_by`; default host:pid:random.
        sweep_seconds: how often trigger files, stale runs, SLAs and cancellations are checked
            (by `clock`).
        max_runs_per_worker: runs a worker process executes before it is replaced; 1 gives
            each run a fresh process (see `weir.orchestration.worker`).
    """

    def __init__(
        self,
        project: Project | str | os.PathLike[str],
        database_url: str | None = None,
        *,
        clock: Clock = utc_now,
        workers: int = 4,
        stale_after: float = 60.0,
        late_grace: float = 60.0,
        hooks: Sequence[Hook] | None = None,
        name: str | None = None,
        sweep_seconds: float = 1.0,
        max_runs_per_worker: int = 50,
    ) -> None:
        if workers < 1 or max_runs_per_worker < 1:
            raise ValueError("workers and max_runs_per_worker must be at least 1")
        self.project = project if isinstance(project, Project) else load_project(os.fspath(project))
        self.database_url = database_url or default_database_url(self.project.data_dir)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._clock = clock
        self._stale_after = stale_after
        self._sweep = timedelta(seconds=sweep_seconds)
        self._runs = RunStore(self.database_url, clock=clock)
        self._triggers = TriggerStore(self._runs.engine, clock=clock)
        self._pipelines = PipelineCache(self.project)
        self._planner = DuePlanner(self._runs, self._pipelines, grace=timedelta(seconds=late_grace))
        self._watcher = TriggerFileWatcher(self.project, self._triggers)
        self._hooks = HookDispatcher(default_hooks() if hooks is None else hooks)
        self._pool = WorkerPool(
            self.project.root,
            self.database_url,
            size=workers,
            heartbeat_seconds=min(10.0, stale_after / 4),
            max_runs=max_runs_per_worker,
        )
        self._known_triggers: dict[int, TriggerRecord] = {}
        self._triggers_version: object = None
        self._last_sweep: datetime | None = None
        self._stopping = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)

    @property
    def runs(self) -> RunStore:
        """The run store the scheduler uses."""
        return self._runs

    @property
    def triggers(self) -> TriggerStore:
        """The trigger store the scheduler uses."""
        return self._triggers

    @property
    def running(self) -> list[int]:
        """Ids of the runs this scheduler's workers are executing."""
        return sorted(self._pool.running)

    # -- the loop -------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Do one round of the scheduler's work (see the module docstring)."""
        report = TickReport()
        now = self._clock()
        sweep = self._last_sweep is None or not now - self._sweep < self._last_sweep <= now
        if sweep:
            self._last_sweep = now
            self._runs.record_scheduler_beat(self.name)
            self._sync_trigger_files(report)
        triggers = self._current_triggers()
        self._collect(triggers, report)
        self._stop_timed_out(triggers, report)
        if sweep:
            self._stop_cancelled()
            self._recover_stale(triggers, report)
            self._report_sla_misses(triggers, report)
        report.enqueued = [run.id for run in self._planner.plan(triggers.values(), now)]
        self._start_runs(triggers, report)
        return report

    def run(self, on_tick: Callable[[TickReport], None] | None = None) -> None:
        """Tick until `stop` is called, sleeping between ticks; then `close`.

        Args:
            on_tick: called with each tick's report (the CLI prints what happened).
        """
        try:
            while not self._stopping:
                report = self.tick()
                if on_tick is not None:
                    on_tick(report)
                self._sleep(self.seconds_to_next_tick())
        finally:
            self.close()

    def seconds_to_next_tick(self) -> float:
        """Seconds until the next due point, a run's timeout, or 1 s, whichever is first."""
        wait_for = 1.0
        next_due = self._planner.next_due()
        if next_due is not None:
            wait_for = min(wait_for, (next_due - self._clock()).total_seconds())
        return max(0.0, min(wait_for, self._pool.seconds_to_a_timeout()))

    def _sleep(self, seconds: float) -> None:
        if self._wake_read in self._pool.wait(seconds, self._wake_read):
            os.read(self._wake_read, 4096)

    def stop(self) -> None:
        """Ask `run` to return after its current tick. Safe from a signal handler or thread."""
        self._stopping = True
        # A full pipe means already woken; a closed one, already closed.
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def drain(self, timeout: float = 60.0) -> TickReport:
        """Wait until this scheduler's runs have ended and collect them (starting nothing new).

        Raises:
            TimeoutError: a run is still going after `timeout` seconds.
        """
        report = TickReport()
        deadline = time.monotonic() + timeout
        while self._pool.running:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"runs {self.running} still running after {timeout:g} s")
            self._pool.wait(min(remaining, self._pool.seconds_to_a_timeout()))
            triggers = self._current_triggers()
            self._collect(triggers, report)
            self._stop_timed_out(triggers, report)
        return report

    def flush_hooks(self) -> None:
        """Wait until the hooks have handled every event so far."""
        self._hooks.flush()

    def close(self) -> None:
        """Stop: cancel running runs (SIGTERM, then SIGKILL after a grace), collect, release."""
        self._stopping = True
        report = TickReport()
        triggers = self._current_triggers()
        for ended in self._pool.close(STOP_GRACE_SECONDS):
            self._ended(ended, triggers, report)
        self._hooks.close()
        self._triggers.close()
        self._runs.close()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- triggers -------------------------------------------------------------------------

    def _sync_trigger_files(self, report: TickReport) -> None:
        for pipeline_uuid, problem in self._watcher.poll().items():
            if isinstance(problem, Exception):
                report.trigger_errors[pipeline_uuid] = str(problem)
                _log.error("%s", problem)

    def _current_triggers(self) -> dict[int, TriggerRecord]:
        version = self._triggers.version()
        if version != self._triggers_version:
            self._known_triggers = {t.id: t for t in self._triggers.list()}
            self._triggers_version = version
        return self._known_triggers

    # -- starting runs --------------------------------------------------------------------

    def _limits(self, candidate: ClaimCandidate, triggers: dict[int, TriggerRecord]) -> RunLimits:
        pipeline = self._pipelines.find(candidate.pipeline_uuid)
        concurrency = pipeline.spec.concurrency_config if pipeline else ConcurrencyConfig()
        trigger = triggers.get(candidate.pipeline_schedule_id or -1)
        return RunLimits.of(concurrency, trigger)

    def _start_runs(self, triggers: dict[int, TriggerRecord], report: TickReport) -> None:
        while self._pool.free_slots > 0 and not self._stopping:
            result = claim_next_run(
                self._runs,
                self.name,
                lambda c: self._limits(c, triggers),
                limit=self._pool.free_slots,
            )
            for skipped in result.skipped:
                report.skipped.append(skipped.id)
                self._notify(EventKind.RUN_ENDED, skipped, triggers)
            if not result.runs:
                return
            for run in result.runs:
                self._start(run, triggers, report)

    def _start(
        self, run: PipelineRunRecord, triggers: dict[int, TriggerRecord], report: TickReport
    ) -> None:
        trigger = triggers.get(run.pipeline_schedule_id or -1)
        try:
            self._pool.assign(run.id, trigger.settings.timeout if trigger else None)
        except OSError as exc:
            failed = self._runs.fail_unfinished(run.id, f"could not start a worker process: {exc}")
            self._finished(failed, triggers, report)
            return
        report.started.append(run.id)

    # -- watching runs --------------------------------------------------------------------

    def _collect(self, triggers: dict[int, TriggerRecord], report: TickReport) -> None:
        for ended in self._pool.collect():
            self._ended(ended, triggers, report)

    def _ended(self, ended: Ended, triggers: dict[int, TriggerRecord], report: TickReport) -> None:
        reason = ended.death or (
            "the run's worker gave up on it without recording its end (see the scheduler's "
            "output for the worker's traceback)"
        )
        self._end(ended.run_id, reason, triggers, report)

    def _stop_timed_out(self, triggers: dict[int, TriggerRecord], report: TickReport) -> None:
        for run_id, seconds in self._pool.expired():
            reason = (
                f"the run took longer than its trigger's timeout of {seconds:g} s "
                "(settings.timeout) and was stopped"
            )
            report.timed_out.append(run_id)
            self._end(run_id, reason, triggers, report)

    def _end(
        self, run_id: int, reason: str, triggers: dict[int, TriggerRecord], report: TickReport
    ) -> None:
        record = self._runs.get_pipeline_run(run_id)
        if not record.is_terminal:
            record = self._runs.fail_unfinished(run_id, reason)
        self._finished(record, triggers, report)

    def _finished(
        self, record: PipelineRunRecord, triggers: dict[int, TriggerRecord], report: TickReport
    ) -> None:
        trigger = triggers.get(record.pipeline_schedule_id or -1)
        deadline = recovery.sla_deadline(record, trigger)
        late = deadline is not None and (record.completed_at or deadline) > deadline
        if late and not record.passed_sla and self._runs.mark_passed_sla(record.id):
            report.sla_missed.append(record.id)
            self._notify(EventKind.SLA_MISSED, record, triggers)
        retry = recovery.retry_config_for(record, trigger, self._pipelines)
        retried = recovery.retry_if_allowed(self._runs, record, retry, self._clock())
        if retried is not None:
            report.retried.append(record.id)
        report.finished.append(record.id)
        self._notify(EventKind.RUN_ENDED, record, triggers, will_retry=retried is not None)

    def _stop_cancelled(self) -> None:
        statuses = run_statuses(self._runs.engine, list(self._pool.running))
        for run_id, status in statuses.items():
            if status is RunStatus.CANCELLED:  # cancelled by the API or a backfill's cancel
                self._pool.kill_run(run_id)

    def _recover_stale(self, triggers: dict[int, TriggerRecord], report: TickReport) -> None:
        now = self._clock()
        own = set(self._pool.running)
        for candidate in recovery.find_stale_runs(self._runs, now, self._stale_after, own):
            record = recovery.recover_stale(self._runs, candidate, now, self._stale_after)
            if record is None:
                continue
            report.recovered.append(record.id)
            if record.claimed_by is None:  # started by hand (`weir run`): fail, do not retry
                report.finished.append(record.id)
                self._notify(EventKind.RUN_ENDED, record, triggers)
            else:
                self._finished(record, triggers, report)

    def _report_sla_misses(self, triggers: dict[int, TriggerRecord], report: TickReport) -> None:
        for run_id, _trigger in recovery.sla_misses(self._runs, triggers, self._clock()):
            report.sla_missed.append(run_id)
            self._notify(EventKind.SLA_MISSED, self._runs.get_pipeline_run(run_id), triggers)

    def _notify(
        self,
        kind: EventKind,
        run: PipelineRunRecord,
        triggers: dict[int, TriggerRecord],
        *,
        will_retry: bool = False,
    ) -> None:
        trigger = triggers.get(run.pipeline_schedule_id or -1)
        event = RunEvent(kind, run, trigger, self.project, self._clock(), will_retry)
        self._hooks.submit(event)
