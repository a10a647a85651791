"""ORM tables of the metadata database, named as in Mage.

- `pipeline_run` and `block_run`: runs. `RunStore` (`weir.runs.store`) is the only writer of
  their `status` columns and returns frozen records (`weir.runs.records`); `weir.orchestration`
  may read them with queries of its own.
- `pipeline_schedule` (triggers) and `backfill`: written by `weir.orchestration`, which owns
  their meaning; they carry no run status.
- `scheduler_heartbeat`: one row per scheduler process, its last sign of life (written by
  `RunStore.record_scheduler_beat`, read for `/metrics`).

The schema itself is owned by the Alembic migrations in `weir/runs/migrations/versions/`; a test
checks that the migrated schema and these models agree, so a change here needs a new migration.

All datetimes are stored in UTC (naive `DATETIME` text on SQLite, `timestamptz` on PostgreSQL)
and read back as timezone-aware UTC `datetime`s on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

from weir.runs.records import BlockRunRecord, ClaimCandidate, PipelineRunRecord
from weir.runs.status import RunStatus

__all__ = [
    "Backfill",
    "Base",
    "BlockRun",
    "JSONType",
    "PipelineRun",
    "PipelineSchedule",
    "SchedulerHeartbeat",
    "StatusType",
    "UTCDateTime",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names are fixed so later migrations (and SQLite batch mode) can refer to them."""


class JSONType(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL.

    Chosen per dialect at first use, so a SQLite-only process never imports SQLAlchemy's
    PostgreSQL dialect (about 60 ms of `weir run` start-up).
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """JSONB for PostgreSQL, the generic JSON type elsewhere."""
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and always returned timezone-aware in UTC.

    Raises:
        ValueError: on binding a naive datetime; Weir never guesses a timezone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; SQLite gets naive UTC since its DATETIME text drops the offset."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to naive values (SQLite) and convert aware ones (session time zone) to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StatusType(TypeDecorator[RunStatus]):
    """A `RunStatus` stored as its value in a `VARCHAR(32)` (no native enum type to migrate)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: RunStatus | None, dialect: Dialect) -> str | None:
        """Store the enum's value; a plain string must already be a valid status."""
        return None if value is None else RunStatus(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> RunStatus | None:
        """Read the value back as a `RunStatus`."""
        return None if value is None else RunStatus(value)


class Base(DeclarativeBase):
    """Declarative base holding the metadata of the run tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PipelineRun(Base):
    """One execution of a pipeline (Mage's `pipeline_run`).

    `uq_pipeline_run_execution_date` makes the database refuse a second run of one trigger for
    one execution date (runs without a trigger have a NULL `pipeline_schedule_id`, and NULLs
    never collide). The scheduling columns (revision 0002): `backfill_id`, `attempt` (1 for the
    first execution, +1 per run-level retry), `start_after` (not claimed before then; a retry's
    delay), `claimed_by`/`claimed_at` (the scheduler that took the queued run for execution),
    `passed_sla` (Mage's name: the run missed its trigger's SLA and that was reported).
    """

    __tablename__ = "pipeline_run"
    __table_args__ = (
        Index(
            "uq_pipeline_run_execution_date",
            "pipeline_uuid",
            "pipeline_schedule_id",
            "execution_date",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_uuid: Mapped[str] = mapped_column(String(255), index=True)
    pipeline_schedule_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[RunStatus] = mapped_column(StatusType(), index=True)
    execution_date: Mapped[datetime] = mapped_column(UTCDateTime())
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType())
    backfill_id: Mapped[int | None] = mapped_column(Integer, index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    start_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    passed_sla: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    block_runs: Mapped[list[BlockRun]] = relationship(
        back_populates="pipeline_run",
        order_by="BlockRun.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def to_record(self) -> PipelineRunRecord:
        """A frozen copy of the row with its block runs (loads them if not loaded yet)."""
        return PipelineRunRecord(
            id=self.id,
            pipeline_uuid=self.pipeline_uuid,
            pipeline_schedule_id=self.pipeline_schedule_id,
            status=self.status,
            execution_date=self.execution_date,
            variables=dict(self.variables),
            created_at=self.created_at,
            started_at=self.started_at,
            completed_at=self.completed_at,
            heartbeat_at=self.heartbeat_at,
            error=self.error,
            metrics=dict(self.metrics),
            block_runs=tuple(block_run.to_record() for block_run in self.block_runs),
            backfill_id=self.backfill_id,
            attempt=self.attempt,
            start_after=self.start_after,
            claimed_by=self.claimed_by,
            claimed_at=self.claimed_at,
            passed_sla=self.passed_sla,
        )

    def to_candidate(self) -> ClaimCandidate:
        """The fields a claim policy decides on."""
        return ClaimCandidate(
            run_id=self.id,
            pipeline_uuid=self.pipeline_uuid,
            pipeline_schedule_id=self.pipeline_schedule_id,
            backfill_id=self.backfill_id,
            execution_date=self.execution_date,
        )

    def last_sign_of_life(self) -> datetime:
        """The latest of `heartbeat_at`, `claimed_at` and `started_at`; else `created_at`."""
        signs = [t for t in (self.heartbeat_at, self.claimed_at, self.started_at) if t is not None]
        return max(signs) if signs else self.created_at

    def attempt_summary(self) -> dict[str, Any]:
        """The ended attempt, as kept in `metrics["previous_attempts"]` by a run-level retry."""
        return {
            "attempt": self.attempt,
            "status": self.status.value,
            "error": self.error,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "failed_blocks": {
                b.block_uuid: b.error for b in self.block_runs if b.status is RunStatus.FAILED
            },
        }


class BlockRun(Base):
    """One execution of one block within a pipeline run (Mage's `block_run`)."""

    __tablename__ = "block_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_run_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_run.id", ondelete="CASCADE"), index=True
    )
    block_uuid: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[RunStatus] = mapped_column(StatusType())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType())
    log_path: Mapped[str | None] = mapped_column(String(1024))

    pipeline_run: Mapped[PipelineRun] = relationship(back_populates="block_runs")

    def to_record(self) -> BlockRunRecord:
        """A frozen copy of the row (call inside the session that loaded it)."""
        return BlockRunRecord(
            id=self.id,
            pipeline_run_id=self.pipeline_run_id,
            block_uuid=self.block_uuid,
            status=self.status,
            started_at=self.started_at,
            completed_at=self.completed_at,
            attempts=self.attempts,
            error=self.error,
            traceback=self.traceback,
            metrics=dict(self.metrics),
            log_path=self.log_path,
        )


class PipelineSchedule(Base):
    """A trigger (Mage's `pipeline_schedule`): when and how a pipeline runs.

    Written by `weir.orchestration.triggers.TriggerStore`, which validates the values:
    `schedule_type` is `time|api|event`, `status` is `active|inactive`, `sla` is seconds,
    `timezone` an IANA name, `token_hash` the SHA-256 of an API trigger's secret (the secret
    itself is never stored), `envs` the environments the trigger applies in (empty: all).
    """

    __tablename__ = "pipeline_schedule"
    __table_args__ = (
        Index("uq_pipeline_schedule_pipeline_uuid_name", "pipeline_uuid", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    pipeline_uuid: Mapped[str] = mapped_column(String(255), index=True)
    schedule_type: Mapped[str] = mapped_column(String(32))
    schedule_interval: Mapped[str | None] = mapped_column(String(255))
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    status: Mapped[str] = mapped_column(String(32))
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType())
    sla: Mapped[int | None] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType())
    envs: Mapped[list[str]] = mapped_column(JSONType())
    description: Mapped[str | None] = mapped_column(Text)
    token_hash: Mapped[str | None] = mapped_column(String(128))
    last_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Backfill(Base):
    """A backfill (Mage's `backfill`): one run per interval between two datetimes.

    Written by `weir.orchestration.backfill`. `interval_type` is Mage's unit (`minute`, `hour`,
    `day`, `week`, `month`, `year`), `interval_units` how many of them one interval spans;
    `status` is `running` or `cancelled` (whether its runs are done is read from the runs).
    """

    __tablename__ = "backfill"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    pipeline_uuid: Mapped[str] = mapped_column(String(255), index=True)
    start_datetime: Mapped[datetime] = mapped_column(UTCDateTime())
    end_datetime: Mapped[datetime] = mapped_column(UTCDateTime())
    interval_type: Mapped[str] = mapped_column(String(32))
    interval_units: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    status: Mapped[str] = mapped_column(String(32))
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SchedulerHeartbeat(Base):
    """A scheduler process's last sign of life (revision 0004).

    `name` is the scheduler's identity (`Scheduler.name`, as in `pipeline_run.claimed_by`);
    `beat_at` the last time its loop went round. Rows of schedulers long gone are pruned when a
    new scheduler first beats.
    """

    __tablename__ = "scheduler_heartbeat"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
