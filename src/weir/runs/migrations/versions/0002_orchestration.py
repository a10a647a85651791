"""Orchestration: triggers, backfills, and the scheduling columns of pipeline_run.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01

- `pipeline_schedule` (Mage's name for a trigger) and `backfill`, with Mage's column names plus
  `timezone`, `envs` and `token_hash` (an API trigger's secret is stored only as its SHA-256).
- `pipeline_run` gains `backfill_id`, `attempt`, `start_after`, `claimed_by`, `claimed_at` and
  `passed_sla`, an index on `pipeline_schedule_id`, and the unique index
  `uq_pipeline_run_execution_date` on (pipeline_uuid, pipeline_schedule_id, execution_date): the
  database, not only the code, refuses two runs of one trigger for one execution date.

Only `ADD COLUMN` and `CREATE [UNIQUE] INDEX` touch the existing table, so SQLite needs no batch
copy of `pipeline_run`. Types are spelled out, not imported from the models (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _when(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _create_pipeline_schedule() -> None:
    op.create_table(
        "pipeline_schedule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("pipeline_uuid", sa.String(255), nullable=False),
        sa.Column("schedule_type", sa.String(32), nullable=False),
        sa.Column("schedule_interval", sa.String(255), nullable=True),
        _when("start_time"),
        sa.Column("timezone", sa.String(64), server_default="UTC", nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("variables", _json(), nullable=False),
        sa.Column("sla", sa.Integer(), nullable=True),
        sa.Column("settings", _json(), nullable=False),
        sa.Column("envs", _json(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("token_hash", sa.String(128), nullable=True),
        _when("last_enabled_at"),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_schedule"),
    )
    op.create_index("ix_pipeline_schedule_pipeline_uuid", "pipeline_schedule", ["pipeline_uuid"])
    op.create_index(
        "uq_pipeline_schedule_pipeline_uuid_name",
        "pipeline_schedule",
        ["pipeline_uuid", "name"],
        unique=True,
    )


def _create_backfill() -> None:
    op.create_table(
        "backfill",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("pipeline_uuid", sa.String(255), nullable=False),
        _when("start_datetime", nullable=False),
        _when("end_datetime", nullable=False),
        sa.Column("interval_type", sa.String(32), nullable=False),
        sa.Column("interval_units", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("variables", _json(), nullable=False),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_backfill"),
    )
    op.create_index("ix_backfill_pipeline_uuid", "backfill", ["pipeline_uuid"])


def _extend_pipeline_run() -> None:
    op.add_column("pipeline_run", sa.Column("backfill_id", sa.Integer(), nullable=True))
    op.add_column(
        "pipeline_run", sa.Column("attempt", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("pipeline_run", _when("start_after"))
    op.add_column("pipeline_run", sa.Column("claimed_by", sa.String(255), nullable=True))
    op.add_column("pipeline_run", _when("claimed_at"))
    op.add_column(
        "pipeline_run",
        sa.Column("passed_sla", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index("ix_pipeline_run_backfill_id", "pipeline_run", ["backfill_id"])
    op.create_index(
        "ix_pipeline_run_pipeline_schedule_id", "pipeline_run", ["pipeline_schedule_id"]
    )
    op.create_index(
        "uq_pipeline_run_execution_date",
        "pipeline_run",
        ["pipeline_uuid", "pipeline_schedule_id", "execution_date"],
        unique=True,
    )


def upgrade() -> None:
    """Create `pipeline_schedule` and `backfill`; add the scheduling columns to `pipeline_run`."""
    _create_pipeline_schedule()
    _create_backfill()
    _extend_pipeline_run()


def downgrade() -> None:
    """Drop the orchestration tables and columns (triggers and backfills are lost)."""
    op.drop_index("uq_pipeline_run_execution_date", table_name="pipeline_run")
    op.drop_index("ix_pipeline_run_pipeline_schedule_id", table_name="pipeline_run")
    op.drop_index("ix_pipeline_run_backfill_id", table_name="pipeline_run")
    with op.batch_alter_table("pipeline_run") as batch:
        for column in (
            "passed_sla",
            "claimed_at",
            "claimed_by",
            "start_after",
            "attempt",
            "backfill_id",
        ):
            batch.drop_column(column)
    op.drop_table("backfill")
    op.drop_table("pipeline_schedule")
