"""Weir -> PostgreSQL through the real pipelinewise-target-postgres (installed from PyPI)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from weir.integration import (
    DestinationError,
    PostgresSource,
    ReplicationMethod,
    SourceError,
    SyncFailedError,
    run_sync,
)
from weir.integration.destinations.singer_target import SingerTargetDestination
from weir.integration.sources.singer_tap import SingerTapSource

from .conftest import SOURCE_SCHEMA
from .test_tap_postgres import make_items

pytestmark = pytest.mark.timeout(900)

TARGET_SCHEMA = "tgt"
# What pipelinewise-target-postgres keeps exactly: it creates numeric(12, 2) as double precision,
# timestamptz as timestamp (UTC), and date and uuid as varchar; it loads '' as NULL.
SOURCE_SIDE = (
    "id, grp, nullif(name, ''), amount::float8, ratio, flag, (at AT TIME ZONE 'UTC'), day::text, doc, "
    "uid::text, clock"
)
TARGET_SIDE = "id, grp, name, amount, ratio, flag, at, day, doc, uid, clock"


def differences(pg) -> tuple[int, int]:
    """(rows only in the source, rows only in the target's table)."""
    a = f"SELECT {SOURCE_SIDE} FROM {SOURCE_SCHEMA}.items"
    b = f"SELECT {TARGET_SIDE} FROM {TARGET_SCHEMA}.items"
    only_a = pg.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b}) x").fetchone()[0]
    only_b = pg.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a}) x").fetchone()[0]
    return only_a, only_b


def target(target_postgres: Path, pg_settings, tmp_path: Path, **config):
    settings = {**pg_settings, "default_target_schema": TARGET_SCHEMA, **config}
    return SingerTargetDestination([str(target_postgres)], settings, work_dir=tmp_path / "target")


def incremental(source: PostgresSource):
    cat = source.discover(streams=["items"]).with_selected(["items"])
    entry = replace(
        cat.get("items"), replication_method=ReplicationMethod.INCREMENTAL, replication_key="at"
    )
    return cat.replace_entry(entry)


def rows_after(pg, bookmark) -> int:
    """Source rows strictly after a Weir bookmark's (at, id) position."""
    return pg.execute(
        f"SELECT count(*) FROM {SOURCE_SCHEMA}.items WHERE (at, id) > (%s::timestamptz, %s)",
        (bookmark["replication_key_value"], bookmark["key_values"]["id"]),
    ).fetchone()[0]


def test_incremental_sync_round_trips_the_targets_state(
    pg, conninfo, target_postgres, pg_settings, tmp_path
):
    make_items(pg)
    source = PostgresSource(conninfo, schema=SOURCE_SCHEMA)
    destination = target(target_postgres, pg_settings, tmp_path, batch_size_rows=3)
    cat = incremental(source)
    first = run_sync(source, destination, cat, batch_size_rows=3)
    assert first.stream("items").rows == 10
    assert differences(pg) == (0, 0)

    # The committed bookmark is the state the target echoed, kept as a Singer state file.
    committed = first.stream("items").bookmark
    assert committed is not None
    state_file = destination.state_path("default")
    assert json.loads(state_file.read_text()) == {"bookmarks": {"items": committed}}

    pg.execute(
        f"""
        UPDATE {SOURCE_SCHEMA}.items SET name = 'late', at = at + interval '1 day' WHERE id = 2;
        INSERT INTO {SOURCE_SCHEMA}.items (id, at, doc) VALUES (11, '2031-01-01', '[1, "x"]');
        """
    )
    expected = rows_after(pg, committed)
    again = target(target_postgres, pg_settings, tmp_path, batch_size_rows=3)
    assert again.read_bookmark("default", "items") == committed
    second = run_sync(source, again, cat, batch_size_rows=3)
    # It resumed from the target's bookmark: only rows after it were sent.
    assert second.stream("items").rows == expected
    assert differences(pg) == (0, 0)


class _DiesAfter(PostgresSource):
    """Fails after `batches` batches, as if the connection dropped."""

    batches = 2

    def read(self, stream, *, bookmark, batch_size_rows):
        reader = super().read(stream, bookmark=bookmark, batch_size_rows=batch_size_rows)
        for index, batch in enumerate(reader):
            if index == self.batches:
                raise SourceError("connection lost", stream=stream.stream, retriable=True)
            yield batch


def test_a_sync_that_dies_resumes_without_loss_or_duplicates(
    pg, conninfo, target_postgres, pg_settings, tmp_path
):
    make_items(pg, count=20)
    destination = target(target_postgres, pg_settings, tmp_path, batch_size_rows=2)
    cat = incremental(PostgresSource(conninfo, schema=SOURCE_SCHEMA))
    with pytest.raises(SyncFailedError, match="connection lost"):
        run_sync(_DiesAfter(conninfo, schema=SOURCE_SCHEMA), destination, cat, batch_size_rows=4)
    run_sync(PostgresSource(conninfo, schema=SOURCE_SCHEMA), destination, cat, batch_size_rows=4)
    assert differences(pg) == (0, 0)


def test_tap_to_target_end_to_end(pg, tap_postgres, target_postgres, pg_settings, tmp_path):
    make_items(pg)
    source = SingerTapSource(
        [str(tap_postgres)], {**pg_settings, "filter_schemas": SOURCE_SCHEMA}, work_dir=tmp_path
    )
    destination = target(target_postgres, pg_settings, tmp_path)
    cat = source.discover().with_selected(["app-items"])
    result = run_sync(source, destination, cat, batch_size_rows=4)
    assert result.stream("items").rows == 10
    assert result.stream("items").bookmark == {
        "version": result.stream("items").bookmark["version"]
    }
    # The tap sends dates as date-times: the target makes that column a timestamp.
    pg.execute(f"ALTER TABLE {TARGET_SCHEMA}.items ALTER COLUMN day TYPE text USING day::date")
    assert differences(pg) == (0, 0)
    versions = pg.execute(f"SELECT DISTINCT _weir_table_version FROM {TARGET_SCHEMA}.items")
    assert versions.fetchall() == [(result.stream("items").bookmark["version"],)]


def test_a_target_that_cannot_connect_reports_its_exit_code_and_stderr(
    pg, conninfo, target_postgres, pg_settings, tmp_path
):
    make_items(pg, count=3)
    source = PostgresSource(conninfo, schema=SOURCE_SCHEMA)
    destination = target(target_postgres, pg_settings, tmp_path, dbname="no_such_database")
    with pytest.raises(SyncFailedError) as caught:
        run_sync(source, destination, incremental(source))
    error = caught.value.result.stream("items").error
    assert isinstance(error, DestinationError)
    assert "Singer target 'target-postgres' exited with code 1" in str(error)
    assert 'database "no_such_database" does not exist' in str(error)
    assert destination.read_bookmark("default", "items") is None
