"""`list_runs`: pages of pipeline runs, the API's hottest path, encoded by the database.

`GET /api/pipeline_runs` is what a UI polls, and it must stay cheap with 10,000s of runs (issue
4: p99 <= 100 ms under 50 clients). So this skips SQLAlchemy's statement building and type
processing and Python's per-column work: one plain SQL statement per dialect (SQLite,
PostgreSQL, see `_PAGE`) has the database build each run's JSON object, with the keys and order
of `schemas.RunOut`, timestamps formatted as pydantic writes them (ISO-8601 UTC ending in `Z`,
no fraction when it is zero) and the run's block-run counts by status; Python only wraps the
texts in `orjson.Fragment`s. The total, `count(*)` with the same filter, comes in the same
statement (one round trip on PostgreSQL, one snapshot).

The page is ordered by `id DESC`: the primary key serves it unfiltered; a filter on an indexed
column (pipeline, status, trigger) reads that index, which on SQLite is ordered by row id within
a value and on PostgreSQL is followed by a top-N sort of the matches. Tests compare every
listed value with the ORM's reading of the row on both databases
(`tests/unit/server/listing.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import orjson
from sqlalchemy import Engine

from weir.runs.status import RunStatus

__all__ = ["RunFilter", "RunPage", "list_runs"]


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
        runs: one JSON object per run (encode with orjson), with the keys and order of
            `schemas.RunOut`.
        total: how many runs match the filter.
    """

    runs: list[orjson.Fragment]
    total: int


@dataclass(frozen=True, slots=True)
class _Dialect:
    """How one database spells the list query's parts; each `{0}` is a column name."""

    placeholder: str
    json_object: str
    """The function building a JSON object from alternating keys and values."""
    utc_text: str
    """A timestamp column as ISO-8601 UTC text ending in `Z` (NULL stays NULL)."""
    json_value: str
    """A JSON column, embedded as JSON (not as a string)."""
    boolean: str
    """A boolean column as JSON `true`/`false`."""
    group_object: str
    """The aggregate building a JSON object from a key and a value column."""
    counts_value: str
    """The `{0}` column of `counts` (NULL for a run without block runs) as a JSON object."""
    as_text: str
    """The built object, `{0}`, as text the driver returns unparsed."""
    bind_time: Callable[[datetime], object]
    """An aware datetime as the parameter compared with a timestamp column."""
    autocommit: bool
    """Read without a transaction (PostgreSQL; on SQLite Weir manages BEGIN itself)."""


def _sqlite_time(value: datetime) -> str:
    # The text SQLAlchemy stores for `UTCDateTime` on SQLite; it compares in time order.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


_SQLITE: Final = _Dialect(
    placeholder="?",
    json_object="json_object",
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC.
    utc_text="replace(replace({0}, ' ', 'T'), '.000000', '') || 'Z'",
    json_value="json({0})",
    boolean="json(CASE WHEN {0} THEN 'true' ELSE 'false' END)",
    group_object="json_group_object",
    # json(): a JSON value loses its JSON subtype on leaving a subquery.
    counts_value="json(coalesce({0}, '{{}}'))",
    as_text="{0}",
    bind_time=_sqlite_time,
    autocommit=False,
)
_POSTGRES: Final = _Dialect(
    placeholder="%s",
    json_object="json_build_object",
    utc_text=(
        "replace(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
        " || 'Z'"
    ),
    json_value="{0}",
    boolean="{0}",
    group_object="json_object_agg",
    counts_value="coalesce({0}, '{{}}'::json)",
    # psycopg would parse a json value into dicts; the text goes to the client as it is.
    as_text="{0}::text",
    bind_time=lambda value: value,
    autocommit=True,
)

_LISTED: Final = (
    ("id", "{0}"),
    ("pipeline_uuid", "{0}"),
    ("pipeline_schedule_id", "{0}"),
    ("status", "{0}"),
    ("execution_date", "utc_text"),
    ("variables", "json_value"),
    ("created_at", "utc_text"),
    ("started_at", "utc_text"),
    ("completed_at", "utc_text"),
    ("error", "{0}"),
    ("backfill_id", "{0}"),
    ("attempt", "{0}"),
    ("passed_sla", "boolean"),
)
"""The listed columns of `pipeline_run` in `schemas.RunOut`'s order, each with how it is
spelt: a `_Dialect` attribute's name, or `{0}` for the column as it is."""


def _run_object(dialect: _Dialect) -> str:
    pairs = []
    for column, spelling in _LISTED:
        template = spelling if spelling == "{0}" else getattr(dialect, spelling)
        pairs.append(f"'{column}', {template.format(column)}")
    pairs.append(f"'block_runs_by_status', {dialect.counts_value.format('by_status')}")
    return dialect.as_text.format(f"{dialect.json_object}({', '.join(pairs)})")


_PAGE: Final = """
WITH page AS (
  SELECT * FROM pipeline_run{where} ORDER BY id DESC LIMIT {mark} OFFSET {mark}
), counts AS (
  SELECT pipeline_run_id, {group_object}(status, n) AS by_status FROM (
    SELECT pipeline_run_id, status, count(*) AS n FROM block_run
    WHERE pipeline_run_id IN (SELECT id FROM page) GROUP BY pipeline_run_id, status
  ) AS by_run_and_status GROUP BY pipeline_run_id
)
SELECT ({count}), {run_object} FROM page LEFT JOIN counts ON pipeline_run_id = id
ORDER BY id DESC
"""
"""The page (`page`, whose rows alone get objects: PostgreSQL would otherwise build one for
every row the OFFSET skips), its block runs counted by status in one grouped pass (`counts`),
and the total, an uncorrelated subquery evaluated once."""

_DIALECTS: Final = {"sqlite": _SQLITE, "postgresql": _POSTGRES}
"""By SQLAlchemy dialect name: the metadata databases `weir.runs.connect` accepts."""
_RUN_OBJECTS: Final = {name: _run_object(dialect) for name, dialect in _DIALECTS.items()}


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

    Args:
        engine: the metadata database (SQLite or PostgreSQL, schema at head).
        runs: the filters.
        limit: at most this many runs (>= 0).
        offset: skip this many of the newest (>= 0).

    Returns:
        The page: each run as a JSON object (see the module docstring), and the total.

    Raises:
        ValueError: `limit` or `offset` is negative.
    """
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must be >= 0, got limit={limit}, offset={offset}")
    dialect = _DIALECTS[engine.dialect.name]
    where, params = _where(runs, dialect)
    count = f"SELECT count(*) FROM pipeline_run{where}"
    page = _PAGE.format(
        where=where,
        mark=dialect.placeholder,
        group_object=dialect.group_object,
        count=count,
        run_object=_RUN_OBJECTS[engine.dialect.name],
    )
    with engine.connect() as connection:
        if dialect.autocommit:
            # One statement is consistent by itself; no BEGIN and ROLLBACK round trips.
            connection.execution_options(isolation_level="AUTOCOMMIT")
        rows = connection.exec_driver_sql(page, (*params, limit, offset, *params)).all()
        if rows:
            total = rows[0][0]
        elif offset == 0 and limit > 0:
            total = 0
        else:  # an empty page (limit 0, or past the end) has no row to carry the count
            total = connection.exec_driver_sql(count, tuple(params)).scalar_one()
    return RunPage([orjson.Fragment(row[1]) for row in rows], total)
