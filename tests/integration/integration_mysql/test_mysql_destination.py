"""MySQLDestination specifics on the real MariaDB: the REPLACE bookmark's two steps, values
MySQL refuses, key columns, creating the database, and what a write leaves behind."""

from __future__ import annotations

import pyarrow as pa
import pytest

from weir.integration import (
    Column,
    ColumnKind,
    DestinationError,
    LoadBatch,
    TableSpec,
    WriteDisposition,
)
from weir.integration.destinations import mysql as mysql_destination
from weir.integration.destinations.mysql import MySQLDestination

from .conftest import connector_kwargs, mysql_connect, query

COLUMNS = (
    Column("id", ColumnKind.BIGINT, nullable=False),
    Column("name", ColumnKind.TEXT),
    Column("ratio", ColumnKind.DOUBLE),
)


def batch(ids, names=None, ratios=None) -> pa.RecordBatch:
    names = names or [f"n{i}" for i in ids]
    ratios = ratios or [i / 2 for i in ids]
    return pa.RecordBatch.from_arrays(
        [pa.array(ids, pa.int64()), pa.array(names, pa.string()), pa.array(ratios, pa.float64())],
        names=["id", "name", "ratio"],
    )


def spec(disposition=WriteDisposition.REPLACE, version=1, keys=("id",), columns=COLUMNS):
    return TableSpec("items", "items", columns, keys, disposition, "sid", version)


def table_rows(database, sql="SELECT id, name, ratio FROM items ORDER BY id"):
    conn = mysql_connect(database)
    try:
        return query(conn, sql)
    finally:
        conn.close()


class KilledError(BaseException):
    """Stands for the process dying at a chosen point."""


@pytest.fixture
def destination(mysql_database) -> MySQLDestination:
    return MySQLDestination(**connector_kwargs(mysql_database))


def test_replace_killed_after_the_swap_reports_the_new_bookmark(
    destination, mysql_database, monkeypatch
):
    destination.write(spec(version=1), [LoadBatch(batch([1, 2]), {"version": 1})])
    real = mysql_destination._finish_pending

    def die_before_promoting(conn, spec, load_id, *, promote):
        if promote:
            raise KilledError
        real(conn, spec, load_id, promote=promote)

    monkeypatch.setattr(mysql_destination, "_finish_pending", die_before_promoting)
    with pytest.raises(KilledError):
        destination.write(spec(version=2), [LoadBatch(batch([1, 2, 3]), {"version": 2})])
    # The swap happened: the table and the bookmark both say version 2.
    assert [r[0] for r in table_rows(mysql_database)] == [1, 2, 3]
    assert destination.read_bookmark("sid", "items") == {"version": 2}
    stored = table_rows(mysql_database, "SELECT bookmark, pending_load FROM _weir_state")
    assert stored[0][0] == '{"version":1}'
    assert stored[0][1] is not None  # still pending: promoted by the next write
    monkeypatch.setattr(mysql_destination, "_finish_pending", real)
    destination.write(spec(disposition=WriteDisposition.APPEND), [LoadBatch(batch([4]))])
    stored = table_rows(mysql_database, "SELECT bookmark, pending_load FROM _weir_state")
    assert stored == [('{"version":2}', None)]


def test_replace_killed_before_the_swap_keeps_table_and_bookmark(
    destination, mysql_database, monkeypatch
):
    destination.write(spec(version=1), [LoadBatch(batch([1, 2]), {"version": 1})])

    def die(self, stage, old):
        raise KilledError

    monkeypatch.setattr(mysql_destination._Writer, "_swap", die)
    with pytest.raises(KilledError):
        destination.write(spec(version=2), [LoadBatch(batch([7, 8, 9]), {"version": 2})])
    assert [r[0] for r in table_rows(mysql_database)] == [1, 2]
    assert destination.read_bookmark("sid", "items") == {"version": 1}
    assert table_rows(mysql_database, "SHOW TABLES") == [("_weir_state",), ("items",)]


def test_a_value_mysql_cannot_store_fails_the_batch_and_keeps_nothing(destination, mysql_database):
    incremental = spec(disposition=WriteDisposition.MERGE_UPDATE)
    destination.write(incremental, [LoadBatch(batch([1]), {"at": 1})])
    bad = batch([2, 3], ratios=[1.0, float("inf")])
    with pytest.raises(DestinationError, match="ratio") as caught:
        destination.write(incremental, [LoadBatch(bad, {"at": 3})])
    assert not caught.value.retriable
    assert [r[0] for r in table_rows(mysql_database)] == [1]
    assert destination.read_bookmark("sid", "items") == {"at": 1}
    with pytest.raises(DestinationError):
        destination.write(spec(version=5), [LoadBatch(bad, {"version": 5})])
    assert [r[0] for r in table_rows(mysql_database)] == [1]  # REPLACE left the old table
    assert table_rows(mysql_database, "SHOW TABLES") == [("_weir_state",), ("items",)]


def test_too_long_text_key_fails_loudly(destination):
    keyed = (Column("code", ColumnKind.TEXT, nullable=False), Column("v", ColumnKind.INTEGER))
    table = TableSpec("codes", "codes", keyed, ("code",), WriteDisposition.MERGE_UPDATE, "sid")
    records = pa.RecordBatch.from_arrays(
        [pa.array(["x" * 256]), pa.array([1], pa.int32())], names=["code", "v"]
    )
    with pytest.raises(DestinationError, match="code"):
        destination.write(table, [LoadBatch(records)])


@pytest.mark.parametrize("method", ["load_data", "insert"])
def test_append_writes_awkward_text_exactly(mysql_database, method):
    destination = MySQLDestination(**connector_kwargs(mysql_database), load_method=method)
    names = ["NULL", "", None, 'a "quoted", comma\nand newline', "back\\slash\\N", "tab\there"]
    ids = list(range(len(names)))
    destination.write(
        spec(disposition=WriteDisposition.APPEND, keys=()), [LoadBatch(batch(ids, names=names))]
    )
    assert [r[1] for r in table_rows(mysql_database)] == names
    synced = table_rows(mysql_database, "SELECT COUNT(*) FROM items WHERE _weir_synced_at IS NULL")
    assert synced == [(0,)]


def test_merge_keys_on_an_existing_table_get_a_unique_index(destination, mysql_database):
    destination.write(spec(disposition=WriteDisposition.APPEND, keys=()), [LoadBatch(batch([1]))])
    destination.write(
        spec(disposition=WriteDisposition.MERGE_UPDATE, keys=("name",)),
        [LoadBatch(batch([2, 3], names=["n1", "other"]))],
    )
    assert table_rows(mysql_database) == [(2, "n1", 1.0), (3, "other", 1.5)]
    name_type = table_rows(
        mysql_database,
        "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = 'items' AND COLUMN_NAME = 'name'",
    )
    assert name_type == [("varchar",)]


def test_check_creates_the_database(second_mysql_database):
    conn = mysql_connect(None)
    try:
        query(conn, f"DROP DATABASE `{second_mysql_database}`")
        MySQLDestination(**connector_kwargs(second_mysql_database)).check()
        tables = query(
            conn,
            "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s",
            (second_mysql_database,),
        )
    finally:
        conn.close()
    assert tables == [("_weir_state", "utf8mb4_nopad_bin")]


def test_unknown_bookmark_and_missing_database_read_as_none(destination):
    assert destination.read_bookmark("sid", "items") is None
    gone = MySQLDestination(**connector_kwargs("weir_does_not_exist"))
    assert gone.read_bookmark("sid", "items") is None
