"""Create scheduler_heartbeat: each scheduler process's last sign of life.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04

One row per scheduler (`name`, its identity as in `pipeline_run.claimed_by`) with `beat_at`,
written by the scheduler's loop and read by the API's `/metrics`, so every scheduler on the
database shows, wherever it runs. It replaces the `<data_dir>/scheduler.heartbeat` file, which
only schedulers started by `weir start` on the same machine wrote. Types are spelled out (see
0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `scheduler_heartbeat` and its index on `beat_at`."""
    op.create_table(
        "scheduler_heartbeat",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_scheduler_heartbeat"),
    )
    op.create_index("ix_scheduler_heartbeat_beat_at", "scheduler_heartbeat", ["beat_at"])


def downgrade() -> None:
    """Drop `scheduler_heartbeat`."""
    op.drop_table("scheduler_heartbeat")
