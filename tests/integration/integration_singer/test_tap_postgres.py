"""PostgreSQL -> Weir through the real pipelinewise-tap-postgres (installed from PyPI)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from weir.integration import (
    ColumnKind,
    ConnectorConfigError,
    PostgresDestination,
    ReplicationMethod,
    SourceError,
    SyncFailedError,
    run_sync,
    stream_columns,
)
from weir.integration.sources.singer_tap import SingerTapSource

from .conftest import SOURCE_SCHEMA

# The first test may install the connectors (a minute or two on a cold cache).
pytestmark = pytest.mark.timeout(900)

DEST_SCHEMA = "raw"
# What survives the tap exactly: it sends dates as date-times and uuids as plain strings.
COMPARED = "id, grp, name, amount, ratio, flag, at, day::date, doc, uid::text, clock"


def make_items(pg, count: int = 10) -> None:
    """`count` rows; every three rows share one value of `at` (ties for the bookmark)."""
    pg.execute(
        f"""
        CREATE TABLE {SOURCE_SCHEMA}.items (
            id bigint PRIMARY KEY, grp smallint, name text, amount numeric(12, 2),
            ratio double precision, flag boolean, at timestamptz, day date, doc jsonb,
            uid uuid, clock time);
        INSERT INTO {SOURCE_SCHEMA}.items
        SELECT g, g % 4, CASE WHEN g = 3 THEN '' WHEN g = 4 THEN NULL ELSE 'it''s "' || g || '"' END,
               g * 10.05, g / 8.0, g % 2 = 0,
               '2024-02-29 23:00:00.123456+00'::timestamptz + (g / 3) * interval '1 hour',
               '2024-01-01'::date + g, jsonb_build_object('n', g, 'tags', jsonb_build_array('a')),
               ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
               '12:34:56.5'::time + g * interval '1 second'
        FROM generate_series(1, {count}) g;
        """
    )


def differences(pg) -> tuple[int, int]:
    """(rows only in the source, rows only in the destination), comparing `COMPARED`."""
    a = f"SELECT {COMPARED} FROM {SOURCE_SCHEMA}.items"
    b = f"SELECT {COMPARED} FROM {DEST_SCHEMA}.items"
    only_a = pg.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b}) x").fetchone()[0]
    only_b = pg.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a}) x").fetchone()[0]
    return only_a, only_b


def tap(tap_postgres: Path, pg_settings, tmp_path: Path, **config) -> SingerTapSource:
    settings = {**pg_settings, "filter_schemas": SOURCE_SCHEMA, **config}
    return SingerTapSource([str(tap_postgres)], settings, work_dir=tmp_path / "tap")


def catalog(source: SingerTapSource, **changes):
    cat = source.discover().with_selected(["app-items"])
    return cat.replace_entry(replace(cat.get("app-items"), **changes))


def test_discovery_maps_the_tables_columns(pg, tap_postgres, pg_settings, tmp_path):
    make_items(pg)
    entry = tap(tap_postgres, pg_settings, tmp_path).discover().get("app-items")
    assert entry.stream == "items"
    assert entry.effective_key_properties == ("id",)
    kinds = {c.name: c.kind for c in stream_columns(entry)}
    assert kinds == {
        "id": ColumnKind.BIGINT, "grp": ColumnKind.SMALLINT, "name": ColumnKind.TEXT,
        "amount": ColumnKind.DECIMAL, "ratio": ColumnKind.DOUBLE, "flag": ColumnKind.BOOLEAN,
        "at": ColumnKind.TIMESTAMP, "day": ColumnKind.TIMESTAMP, "doc": ColumnKind.JSON,
        "uid": ColumnKind.TEXT, "clock": ColumnKind.TIME,
    }  # fmt: skip
    amount = next(c for c in stream_columns(entry) if c.name == "amount")
    assert (amount.precision, amount.scale) == (12, 2)


def test_full_table_copies_every_value(pg, conninfo, tap_postgres, pg_settings, tmp_path):
    make_items(pg)
    source = tap(tap_postgres, pg_settings, tmp_path)
    destination = PostgresDestination(conninfo, schema=DEST_SCHEMA)
    result = run_sync(source, destination, catalog(source), batch_size_rows=4)
    assert result.stream("items").rows == 10
    assert differences(pg) == (0, 0)
    assert source.last_state["bookmarks"]["app-items"]["last_replication_method"] == "FULL_TABLE"


class _DiesAfter:
    """Delegates to a source, but its reads fail after `batches` batches (a lost connection)."""

    def __init__(self, source: SingerTapSource, batches: int) -> None:
        self.source, self.batches = source, batches

    def discover(self, **kwargs):
        return self.source.discover(**kwargs)

    def check(self):
        self.source.check()

    def read(self, stream, *, bookmark, batch_size_rows):
        reader = self.source.read(stream, bookmark=bookmark, batch_size_rows=batch_size_rows)
        for index, batch in enumerate(reader):
            if index == self.batches:
                reader.close()
                raise SourceError("connection lost", stream=stream.stream, retriable=True)
            yield batch


def test_incremental_resumes_exactly_after_a_failure(
    pg, conninfo, tap_postgres, pg_settings, tmp_path
):
    make_items(pg)
    # Rows the table holds out of `at` order, so the tap (no ORDER BY on a first sync) sends
    # them unordered and Weir must sort them.
    pg.execute(f"UPDATE {SOURCE_SCHEMA}.items SET name = 'moved' WHERE id IN (1, 2)")
    source = tap(tap_postgres, pg_settings, tmp_path)
    cat = catalog(source, replication_method=ReplicationMethod.INCREMENTAL, replication_key="at")
    destination = PostgresDestination(conninfo, schema=DEST_SCHEMA)

    with pytest.raises(SyncFailedError, match="connection lost"):
        run_sync(_DiesAfter(source, 2), destination, cat, batch_size_rows=2)
    bookmark = destination.read_bookmark("default", "items")
    # Rows 1-4 in (at, id) order: the bookmark sits inside the tie group of rows 3, 4, 5.
    assert bookmark["key_values"] == {"id": 4}
    assert pg.execute(f"SELECT count(*) FROM {DEST_SCHEMA}.items").fetchone()[0] == 4

    pg.execute(
        f"""
        UPDATE {SOURCE_SCHEMA}.items SET name = 'late', at = at + interval '1 day' WHERE id = 2;
        INSERT INTO {SOURCE_SCHEMA}.items (id, at) SELECT 11, at FROM {SOURCE_SCHEMA}.items
            WHERE id = 5;
        """
    )
    result = run_sync(source, destination, cat, batch_size_rows=2)
    # Exactly the rows after the bookmark: 5, 6..10, 11 (same `at` as 5) and the moved 2.
    assert result.stream("items").rows == 8
    assert differences(pg) == (0, 0)
    at_max = pg.execute(f"SELECT max(at) FROM {SOURCE_SCHEMA}.items").fetchone()[0]
    final = result.stream("items").bookmark
    assert datetime.fromisoformat(final["replication_key_value"]) == at_max
    assert source.last_state["bookmarks"]["app-items"]["replication_key"] == "at"


def test_a_tap_that_cannot_connect_reports_its_exit_code_and_stderr(
    pg, tap_postgres, pg_settings, tmp_path
):
    source = tap(tap_postgres, pg_settings, tmp_path, dbname="no_such_database")
    with pytest.raises(ConnectorConfigError) as caught:
        source.check()
    message = str(caught.value)
    assert "'tap-postgres' exited with code 1" in message
    assert 'database "no_such_database" does not exist' in message


def test_a_tap_failing_mid_read_fails_the_stream_with_its_stderr(
    pg, conninfo, tap_postgres, pg_settings, tmp_path
):
    make_items(pg)
    source = tap(tap_postgres, pg_settings, tmp_path)
    cat = catalog(source)  # discovered while the table exists; cached for the sync
    pg.execute(f"DROP TABLE {SOURCE_SCHEMA}.items")
    destination = PostgresDestination(conninfo, schema=DEST_SCHEMA)
    with pytest.raises(SyncFailedError) as caught:
        run_sync(source, destination, cat)
    error = caught.value.result.stream("items").error
    assert isinstance(error, SourceError)
    assert "Singer tap 'tap-postgres' exited with code 1" in str(error)
    # tap-postgres looks the table up again on its own and fails on the missing stream.
    assert "KeyError: 'app-items'" in str(error)
