"""`RunStore`: create, move and read pipeline runs and block runs in the metadata database.

Every status write in Weir goes through a method here. Each method is one short transaction on
its own session: it reads the row's current status with a write lock (`SELECT ... FOR UPDATE`
on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), asks `weir.runs.status` whether the change is
legal, writes it and commits. Two workers racing to move the same record therefore cannot both
succeed, in one process or many. Callers get frozen records, never ORM objects.

Time rules, for both kinds of record:
- `started_at` is set when the record enters `running` and has no `started_at` yet.
- `completed_at` is set when it enters a terminal status.
- the retry transition clears `completed_at` and `error` (and, for a block run, `started_at`
  and `traceback`, so its duration is that of the latest attempt).

Lock order is pipeline run before block run, everywhere, so transactions cannot deadlock.

Scheduling (used by `weir.orchestration`): `create_pipeline_run(queued=True)` queues a run and
raises `RunConflictError` when the trigger has a run for that execution date already (the unique
index decides, not a prior read); claiming, run-level retries, stale runs, SLA marks and
deletion live in `weir.runs.scheduling`, mixed into `RunStore`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from weir.errors import RunConflictError, RunNotFoundError, RunStateError
from weir.runs.database import WRITE_OPTION, connect
from weir.runs.models import BlockRun, PipelineRun
from weir.runs.records import BlockRunRecord, PipelineRunRecord
from weir.runs.scheduling import SchedulingMixin, initial_block_runs, reset_block_run
from weir.runs.status import (
    TERMINAL_STATUSES,
    RecordKind,
    RunStatus,
    check_retry,
    check_transition,
)

__all__ = ["Clock", "RunStore"]

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware. The default is `datetime.now(UTC)`."""

_Row = TypeVar("_Row", PipelineRun, BlockRun)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _is_execution_date_conflict(exc: IntegrityError) -> bool:
    # PostgreSQL names the index; SQLite names its columns.
    message = str(exc.orig)
    return "uq_pipeline_run_execution_date" in message or (
        "pipeline_run.execution_date" in message and "UNIQUE" in message
    )


def _describe_block_run(row: BlockRun) -> str:
    return f"{row.id} (block '{row.block_uuid}' of pipeline run {row.pipeline_run_id})"


def _describe_pipeline_run(row: PipelineRun) -> str:
    return f"{row.id} (pipeline '{row.pipeline_uuid}')"


def _merged(current: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    # Shallow on purpose: a key the engine writes again replaces the old value whole.
    return {**current, **new}


def _apply_times(row: PipelineRun | BlockRun, to: RunStatus, now: datetime) -> None:
    if to is RunStatus.RUNNING and row.started_at is None:
        row.started_at = now
    if to in TERMINAL_STATUSES:
        row.completed_at = now


class RunStore(SchedulingMixin):
    """The metadata store of pipeline runs and block runs.

    Thread-safe: it holds one engine and opens a short session per call. Safe across processes
    sharing the database, by the locking described in the module docstring.

    Args:
        database: a SQLAlchemy URL (the schema is migrated to head, see
            `weir.runs.database.connect`) or an engine already connected that way.
        clock: source of the current time for `created_at`, `started_at`, ...; tests pass a
            fake one. Must return timezone-aware datetimes.

    Raises:
        ConfigError: the URL is malformed or not SQLite/PostgreSQL.
    """

    def __init__(self, database: str | Engine, *, clock: Clock = _utc_now) -> None:
        self._owns_engine = isinstance(database, str)
        self._engine = connect(database) if isinstance(database, str) else database
        self._write_engine = self._engine.execution_options(**{WRITE_OPTION: True})
        self._lock_rows = self._engine.dialect.name == "postgresql"
        self._clock = clock

    @property
    def engine(self) -> Engine:
        """The engine the store uses (shared; do not dispose it while the store is in use)."""
        return self._engine

    def close(self) -> None:
        """Dispose of the engine's connections if the store created the engine itself."""
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- sessions -------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def _locked(self, statement: Select[_Row]) -> Select[_Row]:
        # SQLite has no row locks; BEGIN IMMEDIATE already holds the database write lock.
        return statement.with_for_update() if self._lock_rows else statement

    def _lock_pipeline_run(self, session: Session, run_id: int) -> PipelineRun:
        row = session.scalars(
            self._locked(select(PipelineRun).where(PipelineRun.id == run_id))
        ).one_or_none()
        if row is None:
            raise RunNotFoundError(f"no pipeline run with id {run_id} in the metadata database")
        return row

    def _lock_block_run(self, session: Session, block_run_id: int) -> BlockRun:
        row = session.scalars(
            self._locked(select(BlockRun).where(BlockRun.id == block_run_id))
        ).one_or_none()
        if row is None:
            raise RunNotFoundError(f"no block run with id {block_run_id} in the metadata database")
        return row

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the store's clock returned a naive datetime; return an aware one")
        return now.astimezone(UTC)

    # -- creating -------------------------------------------------------------------------

    def create_pipeline_run(
        self,
        pipeline_uuid: str,
        block_uuids: Sequence[str],
        *,
        variables: Mapping[str, Any],
        execution_date: datetime,
        pipeline_schedule_id: int | None = None,
        backfill_id: int | None = None,
        queued: bool = False,
        start_after: datetime | None = None,
    ) -> PipelineRunRecord:
        """Record a new pipeline run and one block run per block, all `initial`, atomically.

        Args:
            pipeline_uuid: the pipeline's uuid.
            block_uuids: the blocks to run, each once; block runs keep this order (by id).
            variables: the run's variables; must be JSON-serialisable.
            execution_date: the run's logical date; timezone-aware (stored in UTC).
            pipeline_schedule_id: the trigger that asked for the run; None when manual.
            backfill_id: the backfill that asked for the run, if any.
            queued: create the run `queued` (for a scheduler to claim) instead of `initial`.
            start_after: no scheduler claims the run before this time (tz-aware), if given.

        Returns:
            The new run with its block runs.

        Raises:
            ValueError: `execution_date` is naive, or a block uuid is listed twice.
            TypeError: `variables` cannot be serialised as JSON.
            RunConflictError: `pipeline_schedule_id` is set and that trigger has a run of this
                pipeline for `execution_date` already (the database's unique index said so).
        """
        duplicates = sorted(uuid for uuid, count in Counter(block_uuids).items() if count > 1)
        if duplicates:
            raise ValueError(f"pipeline '{pipeline_uuid}': blocks listed twice: {duplicates}")
        if execution_date.tzinfo is None:
            raise ValueError(f"pipeline '{pipeline_uuid}': execution_date must be timezone-aware")
        try:
            json.dumps(variables)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"pipeline '{pipeline_uuid}': variables must be JSON-serialisable ({exc})"
            ) from exc
        status = RunStatus.QUEUED if queued else RunStatus.INITIAL
        try:
            with self._writing() as session:
                row = PipelineRun(
                    pipeline_uuid=pipeline_uuid,
                    pipeline_schedule_id=pipeline_schedule_id,
                    backfill_id=backfill_id,
                    status=status,
                    execution_date=execution_date.astimezone(UTC),
                    variables=dict(variables),
                    created_at=self._now(),
                    start_after=start_after,
                    attempt=1,
                    passed_sla=False,
                    metrics={},
                    block_runs=initial_block_runs(block_uuids),
                )
                session.add(row)
                session.flush()
                # Read JSON back as stored (tuples become lists, keys strings).
                session.expire(row, ["variables"])
                return row.to_record()
        except IntegrityError as exc:
            if not _is_execution_date_conflict(exc):
                raise
            raise RunConflictError(
                f"pipeline '{pipeline_uuid}' has a run of trigger {pipeline_schedule_id} for "
                f"execution date {execution_date.astimezone(UTC).isoformat()} already"
            ) from None

    # -- moving ---------------------------------------------------------------------------

    def transition_pipeline_run(
        self,
        run_id: int,
        to: RunStatus,
        *,
        error: str | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> PipelineRunRecord:
        """Move a pipeline run to status `to`, if the state machine allows it.

        Args:
            run_id: the pipeline run's id.
            to: the new status.
            error: stored as the run's error when given (a failure or cancellation reason).
            metrics: merged into the stored metrics, key by key (shallow).

        Returns:
            The run after the change, with its block runs.

        Raises:
            RunNotFoundError: no run with that id.
            RunStateError: `PIPELINE_RUN_RULES` has no rule from the current status to `to`.
        """
        to = RunStatus(to)
        with self._writing() as session:
            row = self._lock_pipeline_run(session, run_id)
            check_transition(
                RecordKind.PIPELINE_RUN, row.status, to, record=_describe_pipeline_run(row)
            )
            row.status = to
            _apply_times(row, to, self._now())
            if error is not None:
                row.error = error
            if metrics:
                row.metrics = _merged(row.metrics, metrics)
            session.flush()
            if metrics:
                session.expire(row, ["metrics"])
            return row.to_record()

    def transition_block_run(
        self,
        block_run_id: int,
        to: RunStatus,
        *,
        error: str | None = None,
        traceback: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        attempts: int | None = None,
        log_path: str | None = None,
    ) -> BlockRunRecord:
        """Move a block run to status `to`, if the state machine allows it.

        Args:
            block_run_id: the block run's id.
            to: the new status.
            error: stored as the block run's error when given.
            traceback: stored when given (formatted traceback of the user code's exception).
            metrics: merged into the stored metrics, key by key (shallow).
            attempts: replaces the attempt count when given (the engine counts attempts).
            log_path: replaces the log file path when given.

        Returns:
            The block run after the change.

        Raises:
            RunNotFoundError: no block run with that id.
            RunStateError: `BLOCK_RUN_RULES` has no rule from the current status to `to`.
        """
        to = RunStatus(to)
        with self._writing() as session:
            row = self._lock_block_run(session, block_run_id)
            check_transition(RecordKind.BLOCK_RUN, row.status, to, record=_describe_block_run(row))
            row.status = to
            _apply_times(row, to, self._now())
            if error is not None:
                row.error = error
            if traceback is not None:
                row.traceback = traceback
            if attempts is not None:
                row.attempts = attempts
            if log_path is not None:
                row.log_path = log_path
            if metrics:
                row.metrics = _merged(row.metrics, metrics)
            session.flush()
            if metrics:
                session.expire(row, ["metrics"])
            return row.to_record()

    def retry_block_run(self, block_run_id: int) -> BlockRunRecord:
        """Take a failed, cancelled or upstream-failed block run back to `initial`.

        The block run's `started_at`, `completed_at`, `error` and `traceback` are cleared;
        `attempts`, `metrics` and `log_path` are kept. If its pipeline run is `failed` or
        `cancelled`, the pipeline run is retried too (back to `initial`, `completed_at` and
        `error` cleared), so the engine can run it again. This is the only way back to
        `initial`.

        Args:
            block_run_id: the block run's id.

        Returns:
            The block run after the retry.

        Raises:
            RunNotFoundError: no block run with that id.
            RunStateError: the block run is not in a retryable status, or its pipeline run is
                `completed` (or skipped) and cannot be reopened.
        """
        with self._writing() as session:
            run_id = session.scalar(
                select(BlockRun.pipeline_run_id).where(BlockRun.id == block_run_id)
            )
            if run_id is None:
                raise RunNotFoundError(
                    f"no block run with id {block_run_id} in the metadata database"
                )
            run = self._lock_pipeline_run(session, run_id)
            row = self._lock_block_run(session, block_run_id)
            check_retry(RecordKind.BLOCK_RUN, row.status, record=_describe_block_run(row))
            if run.status in TERMINAL_STATUSES:
                check_retry(RecordKind.PIPELINE_RUN, run.status, record=_describe_pipeline_run(run))
                run.status, run.completed_at, run.error = RunStatus.INITIAL, None, None
            reset_block_run(row)
            session.flush()
            return row.to_record()

    def fail_unfinished(self, run_id: int, reason: str) -> PipelineRunRecord:
        """The crash path: end every unfinished record of a run, giving `reason`.

        Each block run not in a terminal status becomes `failed` if it was `running`, else
        `cancelled`; then the pipeline run becomes `failed`, unless it is already terminal, in
        which case its status is left as is. Calling it again changes nothing. The supervisor
        calls this when a worker process dies or stops heart-beating.

        Args:
            run_id: the pipeline run's id.
            reason: stored as `error` on every record this call ends.

        Returns:
            The run after the sweep, with its block runs.

        Raises:
            RunNotFoundError: no run with that id.
        """
        with self._writing() as session:
            run = self._lock_pipeline_run(session, run_id)
            self._end_unfinished(session, run, RunStatus.FAILED, reason)
            return run.to_record()

    def _end_unfinished(
        self, session: Session, run: PipelineRun, to: RunStatus, reason: str
    ) -> None:
        # The sweep behind fail_unfinished, cancel_pipeline_run, recover_stale_run and skips:
        # running block runs end as `to` when failing (else cancelled), pending ones cancelled.
        now = self._now()
        block_runs = session.scalars(
            self._locked(
                select(BlockRun).where(BlockRun.pipeline_run_id == run.id).order_by(BlockRun.id)
            )
        ).all()
        for row in block_runs:
            if row.status in TERMINAL_STATUSES:
                continue
            block_to = RunStatus.CANCELLED
            if row.status is RunStatus.RUNNING and to is RunStatus.FAILED:
                block_to = RunStatus.FAILED
            check_transition(
                RecordKind.BLOCK_RUN, row.status, block_to, record=_describe_block_run(row)
            )
            row.status, row.error = block_to, reason
            _apply_times(row, block_to, now)
        if run.status not in TERMINAL_STATUSES:
            check_transition(
                RecordKind.PIPELINE_RUN, run.status, to, record=_describe_pipeline_run(run)
            )
            run.status, run.error = to, reason
            _apply_times(run, to, now)
        session.flush()

    def heartbeat(self, run_id: int) -> None:
        """Record that the process running `run_id` is alive (`heartbeat_at` = now).

        Raises:
            RunNotFoundError: no run with that id.
        """
        with self._writing() as session:
            result = session.connection().execute(
                update(PipelineRun).where(PipelineRun.id == run_id).values(heartbeat_at=self._now())
            )
            if result.rowcount == 0:
                raise RunNotFoundError(f"no pipeline run with id {run_id} in the metadata database")

    def cancel_pipeline_run(self, run_id: int, reason: str) -> PipelineRunRecord:
        """Cancel a run that has not ended, and every unfinished block run of it, giving `reason`.

        A worker still executing the run finds its next status change refused; the scheduler
        that owns the worker stops it (see `weir.orchestration.scheduler`).

        Raises:
            RunNotFoundError: no run with that id.
            RunStateError: the run has ended already.
        """
        with self._writing() as session:
            run = self._lock_pipeline_run(session, run_id)
            if run.status in TERMINAL_STATUSES:
                raise RunStateError(
                    f"pipeline run {_describe_pipeline_run(run)} has ended ('{run.status}'); "
                    "only a run that has not ended can be cancelled"
                )
            self._end_unfinished(session, run, RunStatus.CANCELLED, reason)
            return run.to_record()

    # -- reading --------------------------------------------------------------------------

    def get_pipeline_run(self, run_id: int) -> PipelineRunRecord:
        """The pipeline run `run_id` with its block runs.

        Raises:
            RunNotFoundError: no run with that id.
        """
        with self._reading() as session:
            row = session.scalars(
                select(PipelineRun)
                .where(PipelineRun.id == run_id)
                .options(selectinload(PipelineRun.block_runs))
            ).one_or_none()
            if row is None:
                raise RunNotFoundError(f"no pipeline run with id {run_id} in the metadata database")
            return row.to_record()

    def list_pipeline_runs(
        self,
        *,
        pipeline_uuid: str | None = None,
        status: RunStatus | Collection[RunStatus] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[PipelineRunRecord]:
        """Pipeline runs, newest first (highest id, i.e. latest created, first).

        Block runs come with them, loaded by one extra query for the whole page.

        Args:
            pipeline_uuid: only this pipeline's runs, when given.
            status: only runs in this status, or in any of these statuses, when given.
            limit: at most this many runs (>= 0).
            offset: skip this many of the newest first (>= 0), for paging.

        Returns:
            Up to `limit` runs, each with its block runs.

        Raises:
            ValueError: `limit` or `offset` is negative.
        """
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be >= 0, got limit={limit}, offset={offset}")
        query = select(PipelineRun).options(selectinload(PipelineRun.block_runs))
        if pipeline_uuid is not None:
            query = query.where(PipelineRun.pipeline_uuid == pipeline_uuid)
        if isinstance(status, str):  # one status (a RunStatus is a str)
            query = query.where(PipelineRun.status == RunStatus(status))
        elif status is not None:
            query = query.where(PipelineRun.status.in_([RunStatus(s) for s in status]))
        query = query.order_by(PipelineRun.id.desc()).limit(limit).offset(offset)
        with self._reading() as session:
            return [row.to_record() for row in session.scalars(query)]

    def latest_block_run(
        self,
        pipeline_uuid: str,
        block_uuid: str,
        *,
        status: RunStatus = RunStatus.COMPLETED,
    ) -> BlockRunRecord | None:
        """The newest block run of `block_uuid` in any run of `pipeline_uuid` with `status`.

        Newest means latest `completed_at` (block runs not ended yet come last), then highest
        id. Used to re-run one block with its upstream blocks' outputs read from disk.

        Returns:
            The block run, or None when there is none.
        """
        query = (
            select(BlockRun)
            .join(PipelineRun, BlockRun.pipeline_run_id == PipelineRun.id)
            .where(
                PipelineRun.pipeline_uuid == pipeline_uuid,
                BlockRun.block_uuid == block_uuid,
                BlockRun.status == status,
            )
            .order_by(BlockRun.completed_at.desc().nulls_last(), BlockRun.id.desc())
            .limit(1)
        )
        with self._reading() as session:
            row = session.scalars(query).one_or_none()
            return None if row is None else row.to_record()
