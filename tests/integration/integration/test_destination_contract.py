"""One contract every destination passes, run against PostgreSQL and DuckDB.

The source is always the real PostgreSQL; each destination is read back through its own driver
and compared value by value with the source table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from weir.integration import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    Destination,
    DuckDBDestination,
    PostgresDestination,
    PostgresSource,
    ReplicationMethod,
    SchemaChangeError,
    SourceError,
    SyncFailedError,
    UniqueConflictMethod,
    run_sync,
)

from .conftest import DEST_SCHEMA, SOURCE_SCHEMA

COLUMNS = ["id", "grp", "name", "amount", "big", "ratio", "flag", "at", "day", "doc", "uid"]


@dataclass
class Target:
    destination: Destination
    read: Callable[[str], list[dict[str, Any]]]
    columns: Callable[[str], dict[str, str]]
    tables: Callable[[], list[str]]


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        plain = value
        if key == "doc" and isinstance(value, str):
            plain = json.loads(value)
        if isinstance(value, uuid.UUID):
            plain = str(value)
        out[key] = plain
    return out


@pytest.fixture(params=["postgres", "duckdb"])
def target(request, pg, conninfo, tmp_path: Path) -> Target:
    if request.param == "postgres":

        def read(table: str) -> list[dict[str, Any]]:
            with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
                cur.execute(f'SELECT * FROM {DEST_SCHEMA}."{table}" ORDER BY 1')
                names = [d.name for d in cur.description]
                return [_normalise(dict(zip(names, r, strict=True))) for r in cur.fetchall()]

        def columns(table: str) -> dict[str, str]:
            return dict(
                pg.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s",
                    (DEST_SCHEMA, table),
                ).fetchall()
            )

        def tables() -> list[str]:
            found = pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (DEST_SCHEMA,)
            )
            return [r[0] for r in found.fetchall()]

        return Target(PostgresDestination(conninfo, schema=DEST_SCHEMA), read, columns, tables)

    path = tmp_path / "warehouse.duckdb"

    def read_duck(table: str) -> list[dict[str, Any]]:
        # Through Arrow: DuckDB's own datetime conversion needs pytz.
        with duckdb.connect(str(path)) as conn:
            result = conn.sql(f'SELECT * FROM {DEST_SCHEMA}."{table}" ORDER BY 1')
            return [_normalise(r) for r in result.to_arrow_table().to_pylist()]

    def columns_duck(table: str) -> dict[str, str]:
        with duckdb.connect(str(path)) as conn:
            return dict(
                conn.execute(
                    "SELECT column_name, data_type FROM duckdb_columns() "
                    "WHERE schema_name = ? AND table_name = ?",
                    [DEST_SCHEMA, table],
                ).fetchall()
            )

    def tables_duck() -> list[str]:
        with duckdb.connect(str(path)) as conn:
            found = conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? ORDER BY 1",
                [DEST_SCHEMA],
            )
            return [r[0] for r in found.fetchall()]

    destination = DuckDBDestination(path, schema=DEST_SCHEMA)
    return Target(destination, read_duck, columns_duck, tables_duck)


def make_items(pg, count: int = 12) -> None:
    pg.execute(
        f"""
        CREATE TABLE {SOURCE_SCHEMA}.items (
            id bigint PRIMARY KEY, grp smallint, name text, amount numeric(12, 2),
            big numeric, ratio double precision, flag boolean, at timestamptz, day date,
            doc jsonb, uid uuid);
        INSERT INTO {SOURCE_SCHEMA}.items
        SELECT g, g % 4, CASE WHEN g = 3 THEN '' WHEN g = 4 THEN NULL ELSE 'it''s "' || g || '"' END,
               g * 10.05, (10::numeric ^ 30) + g, g / 8.0, g % 2 = 0,
               '2024-02-29 23:00:00+00'::timestamptz + g * interval '1 minute',
               '2024-01-01'::date + g, jsonb_build_object('n', g, 'tags', jsonb_build_array('a')),
               ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid
        FROM generate_series(1, {count}) g;
        """
    )


def source_rows(pg, columns=COLUMNS) -> list[dict[str, Any]]:
    cur = pg.execute(f"SELECT {', '.join(columns)} FROM {SOURCE_SCHEMA}.items ORDER BY id")
    names = [d.name for d in cur.description]
    return [_normalise(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def data_only(rows, columns=COLUMNS):
    return [
        {k: (str(v) if k == "big" and v is not None else v) for k, v in r.items() if k in columns}
        for r in rows
    ]


def catalog(source, **changes):
    cat = source.discover(streams=["items"]).with_selected(["items"])
    return cat.replace_entry(replace(cat.get("items"), **changes))


def incremental(source, key="id", **changes):
    return catalog(
        source, replication_method=ReplicationMethod.INCREMENTAL, replication_key=key, **changes
    )


def test_full_table_copies_every_value(pg, conninfo, target):
    make_items(pg)
    source = PostgresSource(conninfo, schema=SOURCE_SCHEMA)
    result = run_sync(source, target.destination, catalog(source), batch_size_rows=5)
    copied = target.read("items")
    assert data_only(copied) == data_only(source_rows(pg))
    version = result.stream("items").bookmark["version"]
    assert {r[TABLE_VERSION_COLUMN] for r in copied} == {version}
    assert all(r[SYNCED_AT_COLUMN] is not None for r in copied)
    assert target.destination.read_bookmark("default", "items") == {"version": version}


def test_full_table_failure_keeps_the_previous_table(pg, conninfo, target):
    make_items(pg)
    source = PostgresSource(conninfo, schema=SOURCE_SCHEMA)
    run_sync(source, target.destination, catalog(source))
    before = target.read("items")
    pg.execute(f"UPDATE {SOURCE_SCHEMA}.items SET name = 'x'")
    with pytest.raises(SyncFailedError, match="connection reset"):
        run_sync(_DyingSource(conninfo), target.destination, catalog(source), batch_size_rows=3)
    assert target.read("items") == before
    assert target.tables() == ["_weir_state", "items"]  # no staging table left behind


class _DyingSource(PostgresSource):
    """Fails after two batches, as if the connection dropped."""

    def __init__(self, conninfo):
        super().__init__(conninfo, schema=SOURCE_SCHEMA)

    def read(self, stream, *, bookmark, batch_size_rows):
        batches = super().read(stream, bookmark=bookmark, batch_size_rows=batch_size_rows)
        for index, batch in enumerate(batches):
            if index == 2:
                raise SourceError("connection reset", stream=stream.stream, retriable=True)
            yield batch


def test_incremental_merges_updates_and_inserts(pg, conninfo, target):
    make_items(pg)
    source = PostgresSource(conninfo, schema=SOURCE_SCHEMA)
    cat = incremental(source, key="at")
    run_sync(source, target.destination, cat, batch_size_rows=1)
    pg.execute(
        f"UPDATE {SOURCE_SCHEMA}.items SET name = 'new', at = '2031-01-01' WHERE id IN (2, 5)"
    )
    pg.execute(
        f"INSERT INTO {SOURCE_SCHEMA}.items (id, grp, at) VALUES (13, 1, '2031-01-02'), (14, 1, '2031-01-02')"
    )
    result = run_sync(source, target.destination, cat, batch_size_rows=2)
    assert result.stream("items").rows == 4
    assert data_only(target.read("items")) == data_only(source_rows(pg))


def test_incremental_ignore_keeps_first_version(pg, conninfo, target):
    make_items(pg, count=3)
    source = PostgresSource(conninfo, schema=SOURCE_SCHEMA)
    cat = incremental(source, key="at", unique_conflict_method=UniqueConflictMethod.IGNORE)
    run_sync(source, target.destination, cat)
    pg.execute(f"UPDATE {SOURCE_SCHEMA}.items SET name = 'new', at = '2031-01-01' WHERE id = 1")
    run_sync(source, target.destination, cat)
    assert [r["name"] for r in target.read("items")] == ['it\'s "1"', 'it\'s "2"', ""]


def test_incremental_append_without_keys(pg, conninfo, target):
    make_items(pg, count=6)
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.items DROP CONSTRAINT items_pkey")
    source = PostgresSource(conninfo, schema=SOURCE_SCHEMA)
    cat = incremental(source, key="grp")
    result = run_sync(source, target.destination, cat, batch_size_rows=1)
    assert result.stream("items").rows == 6
    assert result.stream("items").bookmark["replication_key_value"] == 3
    pg.execute(f"INSERT INTO {SOURCE_SCHEMA}.items (id, grp) VALUES (7, 3), (8, 4)")
    assert run_sync(source, target.destination, cat).stream("items").rows == 1  # grp 3 was done
    assert sorted(r["id"] for r in target.read("items")) == [1, 2, 3, 4, 5, 6, 8]


def test_schema_evolution_adds_widens_and_refuses(pg, conninfo, target):
    make_items(pg, count=3)
    source = PostgresSource(conninfo, schema=SOURCE_SCHEMA)
    cat = incremental(source)
    run_sync(source, target.destination, cat)
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.items ADD COLUMN extra text")
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.items ALTER COLUMN grp TYPE bigint")
    pg.execute(f"INSERT INTO {SOURCE_SCHEMA}.items (id, grp, extra) VALUES (4, 5000000000, 'x')")
    run_sync(source, target.destination, cat)
    types = target.columns("items")
    assert types["grp"].lower() == "bigint"
    assert types["extra"].lower() in ("text", "varchar")
    assert data_only(target.read("items"), [*COLUMNS, "extra"]) == data_only(
        source_rows(pg, [*COLUMNS, "extra"]), [*COLUMNS, "extra"]
    )
    before = target.read("items")
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.items ALTER COLUMN day TYPE text")
    pg.execute(f"INSERT INTO {SOURCE_SCHEMA}.items (id, day) VALUES (5, 'soon')")
    with pytest.raises(SyncFailedError) as caught:
        run_sync(source, target.destination, cat)
    error = caught.value.result.stream("items").error
    assert isinstance(error, SchemaChangeError)
    assert "'day' DATE -> TEXT" in str(error)
    assert target.read("items") == before
