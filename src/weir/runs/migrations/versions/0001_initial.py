"""Create the run tables: pipeline_run and block_run.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Column names and meanings follow Mage's tables of the same names. Datetimes are
`timestamptz` on PostgreSQL and naive-UTC `DATETIME` on SQLite; JSON is JSONB on PostgreSQL.
Types are spelled out here rather than imported from `weir.runs.models`, so this revision
stays what it was when the models change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _when(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create `pipeline_run` and `block_run` with their indexes."""
    op.create_table(
        "pipeline_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pipeline_uuid", sa.String(255), nullable=False),
        sa.Column("pipeline_schedule_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        _when("execution_date", nullable=False),
        sa.Column("variables", _json(), nullable=False),
        _when("created_at", nullable=False),
        _when("started_at"),
        _when("completed_at"),
        _when("heartbeat_at"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("metrics", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_run"),
    )
    op.create_index("ix_pipeline_run_pipeline_uuid", "pipeline_run", ["pipeline_uuid"])
    op.create_index("ix_pipeline_run_status", "pipeline_run", ["status"])
    op.create_table(
        "block_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pipeline_run_id", sa.Integer(), nullable=False),
        sa.Column("block_uuid", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _when("started_at"),
        _when("completed_at"),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("metrics", _json(), nullable=False),
        sa.Column("log_path", sa.String(1024), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_run_id"],
            ["pipeline_run.id"],
            name="fk_block_run_pipeline_run_id_pipeline_run",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_block_run"),
    )
    op.create_index("ix_block_run_pipeline_run_id", "block_run", ["pipeline_run_id"])
    op.create_index("ix_block_run_block_uuid", "block_run", ["block_uuid"])


def downgrade() -> None:
    """Drop both tables (and with them every recorded run)."""
    op.drop_table("block_run")
    op.drop_table("pipeline_run")
