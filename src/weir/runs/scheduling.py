"""The scheduling half of `RunStore`: claiming queued runs, run-level retries, stale runs.

Mixed into `weir.runs.store.RunStore` (which provides the sessions, the clock and the locking
helpers declared below for the type checker); see that module for the transaction rules, which
hold here too. Used by `weir.orchestration`:

- `claim_pipeline_run` hands queued runs to exactly one scheduler (`FOR UPDATE SKIP LOCKED`
  plus a per-pipeline advisory lock on PostgreSQL, the database write lock on SQLite);
- `retry_pipeline_run` is the run-level retry intent (a failed run queued again in place, so
  its trigger and execution date stay unique); `retry_block_runs` queues it again in place
  with only some block runs reset (retry from a block);
- `recover_stale_run` fails, once, a run whose process stopped heart-beating;
- `record_scheduler_beat` and `latest_scheduler_beat` tell whether a scheduler is alive
  (`/metrics`);
- `mark_passed_sla` and `delete_pipeline_runs` serve SLA reports and retention.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from weir.errors import RunNotFoundError
from weir.runs.models import BlockRun, PipelineRun, SchedulerHeartbeat
from weir.runs.records import (
    ActiveRuns,
    ClaimAction,
    ClaimDecision,
    ClaimPolicy,
    ClaimResult,
    PipelineRunRecord,
)
from weir.runs.status import TERMINAL_STATUSES, RecordKind, RunStatus, check_retry, check_transition

__all__ = [
    "CLAIM_LOCK_NAMESPACE",
    "SCHEDULER_BEAT_RETENTION",
    "SchedulingMixin",
    "initial_block_runs",
    "reset_block_run",
]

_Group = tuple[str, int | None, int | None]

SCHEDULER_BEAT_RETENTION = timedelta(days=7)
"""Rows of schedulers silent for longer are deleted when a scheduler first beats."""

CLAIM_LOCK_NAMESPACE = 0x5745
"""First key of the PostgreSQL advisory locks a claim takes per pipeline ("WE")."""

_ACTIVE = or_(
    PipelineRun.status == RunStatus.RUNNING,
    and_(PipelineRun.status == RunStatus.QUEUED, PipelineRun.claimed_by.is_not(None)),
)
"""Runs counted against concurrency limits: running, or queued and claimed by a scheduler."""


def _group(row: PipelineRun) -> _Group:
    return (row.pipeline_uuid, row.pipeline_schedule_id, row.backfill_id)


def _in_group(group: _Group) -> ColumnElement[bool]:
    pipeline_uuid, schedule_id, backfill_id = group
    return and_(
        PipelineRun.pipeline_uuid == pipeline_uuid,
        PipelineRun.pipeline_schedule_id.is_not_distinct_from(schedule_id),
        PipelineRun.backfill_id.is_not_distinct_from(backfill_id),
    )


def initial_block_runs(block_uuids: Sequence[str]) -> list[BlockRun]:
    """New `initial` block runs for these blocks, in this order."""
    return [
        BlockRun(block_uuid=uuid, status=RunStatus.INITIAL, attempts=0, metrics={})
        for uuid in block_uuids
    ]


def reset_block_run(row: BlockRun) -> None:
    """The retry transition's effect on a block run (the caller checked it may be retried)."""
    row.status = RunStatus.INITIAL
    row.started_at = row.completed_at = None
    row.error = row.traceback = None


def _queue_again(run: PipelineRun, start_after: datetime | None) -> None:
    # The retry transition of a run (to `initial`), then on to `queued` for any scheduler.
    check_transition(RecordKind.PIPELINE_RUN, RunStatus.INITIAL, RunStatus.QUEUED)
    run.status, run.start_after = RunStatus.QUEUED, start_after
    run.started_at = run.completed_at = run.heartbeat_at = run.claimed_at = None
    run.error, run.claimed_by = None, None


class SchedulingMixin:
    """`RunStore`'s scheduling methods (see the module docstring)."""

    _lock_rows: bool

    if TYPE_CHECKING:  # provided by RunStore

        def _reading(self) -> AbstractContextManager[Session]: ...

        def _writing(self) -> AbstractContextManager[Session]: ...

        def _now(self) -> datetime: ...

        def _lock_pipeline_run(self, session: Session, run_id: int) -> PipelineRun: ...

        def _end_unfinished(
            self, session: Session, run: PipelineRun, to: RunStatus, reason: str
        ) -> None: ...

    def claim_pipeline_run(
        self, claimer: str, policy: ClaimPolicy, *, limit: int = 1, batch_size: int = 50
    ) -> ClaimResult:
        """Take up to `limit` of the oldest claimable queued runs for `claimer`, per `policy`.

        Claimable: `queued`, not claimed, `start_after` unset or past. A read-only query first
        checks there is one, so an idle scheduler never takes the write lock. Candidates are
        then read in id order with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite holds the
        database write lock), so two schedulers never take the same run. Per pipeline, a
        non-blocking advisory lock makes the count of active runs and the claim atomic; a
        pipeline another scheduler is deciding on is passed over. `policy` is asked once per
        group (pipeline, trigger, backfill) and again after a claim changed its counts: a group
        it says wait for is left out of the rest of the scan; a group it says skip has each of
        its candidates cancelled with the policy's reason.

        A claimed run stays `queued` (the engine moves it to `running` when it starts); it is
        marked `claimed_by`/`claimed_at`, and its `heartbeat_at` is set so a dead claimer shows.

        Args:
            claimer: the scheduler's identity, stored in `claimed_by`.
            policy: decides claim, wait or skip for a candidate given its active runs.
            limit: claim at most this many runs (free worker slots).
            batch_size: candidates read per query.

        Returns:
            The claimed runs (oldest first) and the runs skipped on the way.
        """
        if limit < 1 or not self._any_claimable():
            return ClaimResult()
        claimed: list[PipelineRunRecord] = []
        skipped: list[PipelineRunRecord] = []
        decided: dict[_Group, ClaimDecision] = {}
        with self._writing() as session:
            after_id = 0
            while len(claimed) < limit:
                waiting = [group for group, d in decided.items() if d.action is ClaimAction.WAIT]
                rows = session.scalars(self._candidates(after_id, waiting, batch_size)).all()
                if not rows:
                    break
                for row in rows:
                    after_id = row.id
                    decision = self._decide(session, row, policy, decided)
                    if decision is None or decision.action is ClaimAction.WAIT:
                        continue
                    if decision.action is ClaimAction.SKIP:
                        reason = decision.reason or "skipped by the scheduler's limits"
                        self._end_unfinished(session, row, RunStatus.CANCELLED, reason)
                        skipped.append(row.to_record())
                        continue
                    now = self._now()
                    row.claimed_by, row.claimed_at, row.heartbeat_at = claimer, now, now
                    session.flush()
                    claimed.append(row.to_record())
                    # Its pipeline's counts changed: decide its groups afresh.
                    decided = {g: d for g, d in decided.items() if g[0] != row.pipeline_uuid}
                    if len(claimed) == limit:
                        break
        return ClaimResult(tuple(claimed), tuple(skipped))

    def _decide(
        self,
        session: Session,
        row: PipelineRun,
        policy: ClaimPolicy,
        decided: dict[_Group, ClaimDecision],
    ) -> ClaimDecision | None:
        decision = decided.get(_group(row))
        if decision is None:
            if not self._try_lock_pipeline(session, row.pipeline_uuid):
                return None  # another scheduler is deciding on this pipeline
            decision = policy(row.to_candidate(), self._active_runs(session, row))
            decided[_group(row)] = decision
        return decision

    def _any_claimable(self) -> bool:
        with self._reading() as session:
            query = select(PipelineRun.id).where(*self._claimable()).limit(1)
            return session.scalar(query) is not None

    def _claimable(self) -> tuple[ColumnElement[bool], ...]:
        return (
            PipelineRun.status == RunStatus.QUEUED,
            PipelineRun.claimed_by.is_(None),
            or_(PipelineRun.start_after.is_(None), PipelineRun.start_after <= self._now()),
        )

    def _candidates(
        self, after_id: int, waiting: Sequence[_Group], batch_size: int
    ) -> Select[PipelineRun]:
        query = (
            select(PipelineRun)
            .where(
                PipelineRun.id > after_id,
                *self._claimable(),
                *(~_in_group(group) for group in waiting),
            )
            .order_by(PipelineRun.id)
            .limit(batch_size)
        )
        return query.with_for_update(skip_locked=True) if self._lock_rows else query

    def _try_lock_pipeline(self, session: Session, pipeline_uuid: str) -> bool:
        if not self._lock_rows:
            return True
        statement = text("SELECT pg_try_advisory_xact_lock(:namespace, hashtext(:pipeline))")
        params = {"namespace": CLAIM_LOCK_NAMESPACE, "pipeline": pipeline_uuid}
        return bool(session.execute(statement, params).scalar())

    def _active_runs(self, session: Session, row: PipelineRun) -> ActiveRuns:
        count = select(func.count()).select_from(PipelineRun).where(_ACTIVE)
        pipeline = session.scalar(count.where(PipelineRun.pipeline_uuid == row.pipeline_uuid))
        group = 0
        if row.pipeline_schedule_id is not None or row.backfill_id is not None:
            group = session.scalar(count.where(_in_group(_group(row)))) or 0
        return ActiveRuns(pipeline=pipeline or 0, group=group)

    def retry_pipeline_run(
        self, run_id: int, *, start_after: datetime | None = None
    ) -> PipelineRunRecord:
        """Queue a failed or cancelled run again as its next attempt (the run-level retry).

        The run keeps its id, trigger and execution date (so the unique index still holds); its
        block runs are replaced by new `initial` ones for the same blocks, `attempt` goes up by
        one, and a summary of the attempt that ended is appended to `metrics`
        (`previous_attempts`). The run goes back to `initial` (the retry transition) and on to
        `queued`, unclaimed, with `started_at`, `completed_at`, `error` and `heartbeat_at`
        cleared.

        Args:
            run_id: the pipeline run's id.
            start_after: no scheduler claims it before this time (the retry's delay), if given.

        Returns:
            The queued run.

        Raises:
            RunNotFoundError: no run with that id.
            RunStateError: the run is not `failed` or `cancelled`.
        """
        with self._writing() as session:
            run = self._lock_pipeline_run(session, run_id)
            check_retry(
                RecordKind.PIPELINE_RUN,
                run.status,
                record=f"{run.id} (pipeline '{run.pipeline_uuid}')",
            )
            summaries = [*run.metrics.get("previous_attempts", []), run.attempt_summary()]
            block_uuids = [b.block_uuid for b in run.block_runs]
            run.block_runs.clear()
            session.flush()
            run.block_runs.extend(initial_block_runs(block_uuids))
            _queue_again(run, start_after)
            run.attempt += 1
            run.metrics = {**run.metrics, "previous_attempts": summaries}
            session.flush()
            session.expire(run, ["metrics"])
            return run.to_record()

    def retry_block_runs(self, run_id: int, block_uuids: Collection[str]) -> PipelineRunRecord:
        """Queue a failed or cancelled run again in place, running only some of its blocks again.

        The store's half of "retry from a block" (the API passes the block and every block
        downstream of it). In one transaction, each named block run takes the retry transition
        as `RunStore.retry_block_run` does (back to `initial`; `started_at`, `completed_at`,
        `error` and `traceback` cleared; `attempts`, `metrics` and `log_path` kept), and the run
        is queued as `retry_pipeline_run` queues it (back to `initial`, on to `queued`,
        unclaimed, with `started_at`, `completed_at`, `error` and `heartbeat_at` cleared) but
        keeps its other block runs, its `attempt` and its `metrics`. The engine then runs only
        the block runs that are `initial` (see `weir.engine.executor`).

        Args:
            run_id: the pipeline run's id.
            block_uuids: the blocks whose block runs run again; at least one.

        Returns:
            The queued run with all its block runs.

        Raises:
            ValueError: `block_uuids` is empty.
            RunNotFoundError: no run with that id, or it has no block run of a named block.
            RunStateError: the run is not `failed` or `cancelled`, or a named block run is not
                `failed`, `cancelled` or `upstream_failed` (a completed block run is never
                reset: its outputs may have been read downstream).
        """
        if not block_uuids:
            raise ValueError(f"pipeline run {run_id}: name at least one block to run again")
        with self._writing() as session:
            run = self._lock_pipeline_run(session, run_id)
            check_retry(
                RecordKind.PIPELINE_RUN,
                run.status,
                record=f"{run.id} (pipeline '{run.pipeline_uuid}')",
            )
            rows = {row.block_uuid: row for row in run.block_runs}
            for uuid in block_uuids:
                row = rows.get(uuid)
                if row is None:
                    raise RunNotFoundError(f"pipeline run {run_id} has no block run of '{uuid}'")
                check_retry(
                    RecordKind.BLOCK_RUN,
                    row.status,
                    record=f"{row.id} (block '{uuid}' of pipeline run {run_id})",
                )
                reset_block_run(row)
            _queue_again(run, None)
            session.flush()
            return run.to_record()

    def recover_stale_run(
        self, run_id: int, *, stale_before: datetime, reason: str
    ) -> PipelineRunRecord | None:
        """Fail a run whose process went silent, if it still is, in one transaction.

        A run is stale when it is `running`, or `queued` and claimed, and its last sign of life
        (the latest of `heartbeat_at`, `claimed_at`, `started_at`; else `created_at`) is before
        `stale_before`. Of several schedulers calling this for one run, exactly one gets the
        record back; the others get None.

        Args:
            run_id: the pipeline run's id.
            stale_before: signs of life older than this (tz-aware) count as dead.
            reason: stored as the error of the run and of the block runs it ends.

        Returns:
            The run, now `failed` (see `fail_unfinished`), or None if it was not stale.

        Raises:
            RunNotFoundError: no run with that id.
        """
        with self._writing() as session:
            run = self._lock_pipeline_run(session, run_id)
            claimed_queue = run.status is RunStatus.QUEUED and run.claimed_by is not None
            if not (run.status is RunStatus.RUNNING or claimed_queue):
                return None
            if run.last_sign_of_life() >= stale_before:
                return None
            self._end_unfinished(session, run, RunStatus.FAILED, reason)
            return run.to_record()

    def record_scheduler_beat(self, name: str) -> None:
        """Record that the scheduler `name` is alive now (its loop calls this about once a second).

        Updates the scheduler's `scheduler_heartbeat` row, or inserts it on its first beat;
        a first beat also deletes the rows of schedulers silent for more than
        `SCHEDULER_BEAT_RETENTION`, so restarts do not pile rows up.

        Args:
            name: the scheduler's identity (`Scheduler.name`).
        """
        now = self._now()
        with self._writing() as session:
            connection = session.connection()
            updated = connection.execute(
                update(SchedulerHeartbeat)
                .where(SchedulerHeartbeat.name == name)
                .values(beat_at=now)
            )
            if updated.rowcount == 0:
                connection.execute(
                    delete(SchedulerHeartbeat).where(
                        SchedulerHeartbeat.beat_at < now - SCHEDULER_BEAT_RETENTION
                    )
                )
                session.add(SchedulerHeartbeat(name=name, beat_at=now))

    def latest_scheduler_beat(self) -> datetime | None:
        """When any scheduler on this database last beat (aware UTC); None if none ever did."""
        with self._reading() as session:
            latest: datetime | None = session.scalar(select(func.max(SchedulerHeartbeat.beat_at)))
            return latest

    def mark_passed_sla(self, run_id: int) -> bool:
        """Set `passed_sla` on a run, once: True for the one caller that changed it."""
        with self._writing() as session:
            result = session.connection().execute(
                update(PipelineRun)
                .where(PipelineRun.id == run_id, PipelineRun.passed_sla.is_(False))
                .values(passed_sla=True)
            )
            return bool(result.rowcount)

    def delete_pipeline_runs(self, run_ids: Collection[int]) -> list[int]:
        """Delete runs that have ended, with their block runs (`ON DELETE CASCADE`).

        Args:
            run_ids: the runs to delete; ids of runs not ended (or unknown) are left alone.

        Returns:
            The ids deleted, ascending.
        """
        deleted: list[int] = []
        ids = sorted(set(run_ids))
        for start in range(0, len(ids), 500):  # stays under SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            with self._writing() as session:
                result = session.execute(
                    delete(PipelineRun)
                    .where(PipelineRun.id.in_(chunk), PipelineRun.status.in_(TERMINAL_STATUSES))
                    .returning(PipelineRun.id)
                )
                deleted.extend(result.scalars())
        return sorted(deleted)
