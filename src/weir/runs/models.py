"""ORM tables of the metadata database: `pipeline_run` and `block_run`, named as in Mage.

These classes are private to `weir.runs`: the store returns frozen records
(`weir.runs.records`) and is the only writer of the `status` columns. The schema itself is
owned by the Alembic migrations in `weir/runs/migrations/versions/`; a test checks that the
migrated schema and these models agree, so a change here needs a new migration.

All datetimes are stored in UTC (naive `DATETIME` text on SQLite, `timestamptz` on PostgreSQL)
and read back as timezone-aware UTC `datetime`s on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

from weir.runs.status import RunStatus

__all__ = ["Base", "BlockRun", "JSONType", "PipelineRun", "StatusType", "UTCDateTime"]

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
    """One execution of a pipeline (Mage's `pipeline_run`)."""

    __tablename__ = "pipeline_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_uuid: Mapped[str] = mapped_column(String(255), index=True)
    pipeline_schedule_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[RunStatus] = mapped_column(StatusType(), index=True)
    execution_date: Mapped[datetime] = mapped_column(UTCDateTime())
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType())

    block_runs: Mapped[list[BlockRun]] = relationship(
        back_populates="pipeline_run",
        order_by="BlockRun.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


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
