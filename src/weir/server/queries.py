"""Read-only queries on the run tables that `RunStore` does not offer.

Filtered pages of runs with their total, single block runs, and the aggregates behind
`/metrics`. Writes never happen here: every status change goes through `weir.runs.RunStore`.
These read the tables directly because an API page needs filters (trigger, date range) and a
total count that the store's `list_pipeline_runs` does not take, and because the list view must
stay cheap with 10,000s of runs: one query for the page, one `count(*)`, one grouped query for
the page's block-run counts by status, in plain SQL per dialect (see `list_runs`); block runs
themselves are only loaded for a single run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from sqlalchemy import ColumnElement, Connection, Engine, Float, case, cast, extract, func, select
from sqlalchemy.orm import Session

from weir.errors import RunNotFoundError
from weir.runs.models import BlockRun, PipelineRun
from weir.runs.records import BlockRunRecord
from weir.runs.status import RunStatus

__all__ = [
    "DURATION_BUCKETS",
    "BlockDurationHistogram",
    "RunFilter",
    "RunPage",
    "block_duration_histograms",
    "count_runs_by_status",
    "get_block_run",
    "list_runs",
]

DURATION_BUCKETS: Final = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Upper bounds (seconds) of the block run duration histogram's buckets; +Inf is implied."""


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs to list.

    Attributes:
        pipeline_uuid: only this pipeline's runs.
        statuses: only runs in one of these statuses (empty: any).
        pipeline_schedule_id: only runs started by this trigger.
        since: only runs whose `execution_date` is at or after this (aware datetime).
        until: only runs whose `execution_date` is before this (aware datetime).
    """

    pipeline_uuid: str | None = None
    statuses: tuple[RunStatus, ...] = ()
    pipeline_schedule_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of runs, newest first, and how many runs match in all.

    Attributes:
        runs: one JSON-ready dict per run, with the keys and order of `schemas.RunOut`:
            timestamps are ISO-8601 UTC strings ending in `Z` (no fraction when it is zero, as
            pydantic writes them), `variables` an `orjson.Fragment` of the stored JSON (encode
            with orjson), `status` the status's value, `block_runs_by_status` a dict
            {status value: count}.
        total: how many runs match the filter.
    """

    runs: list[dict[str, Any]]
    total: int


@dataclass(frozen=True, slots=True)
class _Dialect:
    """How one database spells the list query's parts (see `list_runs`)."""

    placeholder: str
    utc_text: str
    """SQL giving a timestamp column `{0}` as ISO-8601 UTC text ending in Z (NULL stays NULL)."""
    json_text: str
    """SQL giving a JSON column `{0}` as its text."""
    bind_time: Callable[[datetime], object]


def _sqlite_time(value: datetime) -> str:
    # The text SQLAlchemy stores for `UTCDateTime` on SQLite; it compares in time order.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


_SQLITE = _Dialect(
    placeholder="?",
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC.
    utc_text="replace(replace({0}, ' ', 'T'), '.000000', '') || 'Z'",
    json_text="{0}",
    bind_time=_sqlite_time,
)
_POSTGRES = _Dialect(
    placeholder="%s",
    utc_text=(
        "replace(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
        " || 'Z'"
    ),
    json_text="{0}::text",
    bind_time=lambda value: value,
)

_TIMESTAMPS: Final = frozenset({"execution_date", "created_at", "started_at", "completed_at"})
_LISTED: Final = (
    "id",
    "pipeline_uuid",
    "pipeline_schedule_id",
    "status",
    "execution_date",
    "variables",
    "created_at",
    "started_at",
    "completed_at",
    "error",
    "backfill_id",
    "attempt",
    "passed_sla",
)
"""The columns of `pipeline_run` a listing shows, in `schemas.RunOut`'s order."""


def _select_list(dialect: _Dialect) -> str:
    columns = []
    for name in _LISTED:
        if name in _TIMESTAMPS:
            columns.append(dialect.utc_text.format(name))
        elif name == "variables":
            columns.append(dialect.json_text.format(name))
        else:
            columns.append(name)
    return ", ".join(columns)


_SELECT_LISTS: Final = {id(d): _select_list(d) for d in (_SQLITE, _POSTGRES)}


def _dialect(engine: Engine) -> _Dialect:
    return _POSTGRES if engine.dialect.name == "postgresql" else _SQLITE


def _where(runs: RunFilter, dialect: _Dialect) -> tuple[str, list[object]]:
    mark = dialect.placeholder
    conditions: list[str] = []
    params: list[object] = []
    if runs.pipeline_uuid is not None:
        conditions.append(f"pipeline_uuid = {mark}")
        params.append(runs.pipeline_uuid)
    if runs.statuses:
        conditions.append(f"status IN ({', '.join([mark] * len(runs.statuses))})")
        params.extend(RunStatus(status).value for status in runs.statuses)
    if runs.pipeline_schedule_id is not None:
        conditions.append(f"pipeline_schedule_id = {mark}")
        params.append(runs.pipeline_schedule_id)
    if runs.since is not None:
        conditions.append(f"execution_date >= {mark}")
        params.append(dialect.bind_time(runs.since))
    if runs.until is not None:
        conditions.append(f"execution_date < {mark}")
        params.append(dialect.bind_time(runs.until))
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), params


def list_runs(engine: Engine, runs: RunFilter, *, limit: int, offset: int) -> RunPage:
    """A page of pipeline runs, newest (highest id) first, and the number matching in all.

    Listing is the API's hottest path, so this skips SQLAlchemy's statement building and type
    processing: plain SQL per dialect (SQLite, PostgreSQL) that has the database format the
    timestamps and hand over the JSON text, in one read transaction of three queries (the
    page by the primary key or an index that ends in it, `count(*)` with the same filter, the
    page's block-run counts). The result is the same as reading the ORM rows (a test compares).

    Args:
        engine: the metadata database.
        runs: the filters.
        limit: at most this many runs (>= 0).
        offset: skip this many of the newest (>= 0).

    Returns:
        The page (see `RunPage` for the shape of each run).

    Raises:
        ValueError: `limit` or `offset` is negative.
    """
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must be >= 0, got limit={limit}, offset={offset}")
    dialect = _dialect(engine)
    where, params = _where(runs, dialect)
    mark = dialect.placeholder
    page = (
        f"SELECT {_SELECT_LISTS[id(dialect)]} FROM pipeline_run{where}"
        f" ORDER BY id DESC LIMIT {mark} OFFSET {mark}"
    )
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(page, (*params, limit, offset)).all()
        if offset == 0 and len(rows) < limit:
            total = len(rows)  # the whole match is on this page: no need to count
        else:
            count = f"SELECT count(*) FROM pipeline_run{where}"
            total = connection.exec_driver_sql(count, tuple(params)).scalar_one()
        counts = _block_counts(connection, dialect, [row[0] for row in rows])
    return RunPage([_listed(row, counts) for row in rows], total)


def _listed(row: Sequence[Any], counts: dict[int, dict[str, int]]) -> dict[str, Any]:
    listed = dict(zip(_LISTED, row, strict=True))
    listed["variables"] = orjson.Fragment(listed["variables"])
    listed["passed_sla"] = bool(listed["passed_sla"])
    listed["block_runs_by_status"] = counts.get(row[0], {})
    return listed


def _block_counts(
    connection: Connection, dialect: _Dialect, run_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    if not run_ids:
        return {}
    mark = dialect.placeholder
    low, high = min(run_ids), max(run_ids)
    params: tuple[int, ...]
    if high - low < 4 * len(run_ids):
        # A page of consecutive runs (or nearly): a range scan is cheaper than a long IN list.
        where, params = f"pipeline_run_id BETWEEN {mark} AND {mark}", (low, high)
    else:
        where, params = f"pipeline_run_id IN ({', '.join([mark] * len(run_ids))})", tuple(run_ids)
    query = (
        f"SELECT pipeline_run_id, status, count(*) FROM block_run WHERE {where}"
        " GROUP BY pipeline_run_id, status"
    )
    wanted = set(run_ids)
    counts: dict[int, dict[str, int]] = {}
    for run_id, status, count in connection.exec_driver_sql(query, params).all():
        if run_id in wanted:
            counts.setdefault(run_id, {})[status] = count
    return counts


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
