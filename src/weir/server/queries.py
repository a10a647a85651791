"""Read-only queries on the run tables that `RunStore` does not offer.

Single block runs and the aggregates behind `/metrics` (pages of runs: `run_listing`). Writes
never happen here: every status change goes through `weir.runs.RunStore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import ColumnElement, Engine, Float, case, cast, extract, func, select
from sqlalchemy.orm import Session

from weir.errors import RunNotFoundError
from weir.runs.models import BlockRun, PipelineRun
from weir.runs.records import BlockRunRecord

__all__ = [
    "DURATION_BUCKETS",
    "BlockDurationHistogram",
    "block_duration_histograms",
    "count_runs_by_status",
    "get_block_run",
]

DURATION_BUCKETS: Final = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Upper bounds (seconds) of the block run duration histogram's buckets; +Inf is implied."""


def get_block_run(engine: Engine, block_run_id: int) -> BlockRunRecord:
    """One block run.

    Raises:
        RunNotFoundError: no block run with that id.
    """
    with Session(engine) as session, session.begin():
        row = session.get(BlockRun, block_run_id)
        if row is None:
            raise RunNotFoundError(f"no block run with id {block_run_id} in the metadata database")
        return row.to_record()


def count_runs_by_status(engine: Engine) -> dict[tuple[str, str], int]:
    """How many pipeline runs each pipeline has in each status: {(pipeline, status): n}."""
    query = select(PipelineRun.pipeline_uuid, PipelineRun.status, func.count()).group_by(
        PipelineRun.pipeline_uuid, PipelineRun.status
    )
    with Session(engine) as session, session.begin():
        return {(uuid, str(status)): count for uuid, status, count in session.execute(query)}


@dataclass(frozen=True, slots=True)
class BlockDurationHistogram:
    """Durations of one pipeline's finished block runs, as Prometheus histogram parts.

    Attributes:
        pipeline_uuid: the pipeline.
        buckets: (upper bound in seconds, cumulative count), one per `DURATION_BUCKETS`.
        count: how many block runs (the +Inf bucket).
        total_seconds: the sum of their durations.
    """

    pipeline_uuid: str
    buckets: tuple[tuple[float, int], ...]
    count: int
    total_seconds: float


def _seconds(engine: Engine) -> ColumnElement[float]:
    if engine.dialect.name == "postgresql":
        return cast(extract("epoch", BlockRun.completed_at - BlockRun.started_at), Float)
    # SQLite stores ISO text; julianday gives days as a float.
    return (func.julianday(BlockRun.completed_at) - func.julianday(BlockRun.started_at)) * 86400.0


def block_duration_histograms(engine: Engine) -> list[BlockDurationHistogram]:
    """Histogram of finished block runs' durations per pipeline, in one grouped query.

    A block run counts once it has both `started_at` and `completed_at`; a retried block
    counts its latest attempt only (the store clears the times on retry).
    """
    seconds = _seconds(engine)
    columns = [
        func.sum(case((seconds <= bound, 1), else_=0)).label(f"le_{index}")
        for index, bound in enumerate(DURATION_BUCKETS)
    ]
    query = (
        select(PipelineRun.pipeline_uuid, func.count(), func.sum(seconds), *columns)
        .join(PipelineRun, BlockRun.pipeline_run_id == PipelineRun.id)
        .where(BlockRun.started_at.is_not(None), BlockRun.completed_at.is_not(None))
        .group_by(PipelineRun.pipeline_uuid)
        .order_by(PipelineRun.pipeline_uuid)
    )
    with Session(engine) as session, session.begin():
        rows = session.execute(query).all()
    return [
        BlockDurationHistogram(
            pipeline_uuid=row[0],
            buckets=tuple(
                (bound, int(row[3 + index] or 0)) for index, bound in enumerate(DURATION_BUCKETS)
            ),
            count=int(row[1]),
            total_seconds=float(row[2] or 0.0),
        )
        for row in rows
    ]
