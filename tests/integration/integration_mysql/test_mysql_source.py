"""MySQLSource against the real MariaDB: discovery, every type, batches, keyset reads, errors."""

from __future__ import annotations

import time as clock
from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pyarrow as pa
import pytest

from weir.integration import (
    CatalogError,
    ColumnKind,
    ConnectorConfigError,
    SourceError,
    stream_columns,
)
from weir.integration.singer import ReplicationMethod
from weir.integration.sources.mysql import MySQLSource

from .conftest import connector_kwargs, execute

TYPES_DDL = [
    """
    CREATE TABLE types (
        id BIGINT PRIMARY KEY,
        flag BOOLEAN, tiny TINYINT, utiny TINYINT UNSIGNED, small SMALLINT,
        usmall SMALLINT UNSIGNED, medium MEDIUMINT, regular INT NOT NULL, uint INT UNSIGNED,
        ubig BIGINT UNSIGNED, yr YEAR, amount DECIMAL(12, 2), wide DECIMAL(50, 10),
        ratio DOUBLE, approx FLOAT, bit1 BIT(1), bits BIT(10),
        label TEXT, code VARCHAR(8), fixed CHAR(3), latin VARCHAR(10) CHARACTER SET latin1,
        mood ENUM('sad', 'happy'), tags SET('x', 'y'),
        at DATETIME(6), stamp TIMESTAMP(3) NULL, day DATE, clock TIME(6),
        doc JSON, uid UUID, raw VARBINARY(8), blobby BLOB, place POINT
    )
    """,
    """
    INSERT INTO types VALUES
    (1, TRUE, -7, 200, -300, 60000, -8000000, 70, 4000000000, 18446744073709551615, 2024,
     1234567890.12, 12345678901234567890123456789012345678.0123456789, 0.1, 0.5, b'1',
     b'1000000001', 'comma, "quote" and\nnewline and \\\\ backslash', 'ab', 'xy', 'caf\xe9',
     'happy', 'x,y', '2024-03-01 12:00:00.123456', '2024-03-01 12:00:00.5', '2024-03-01',
     '23:59:59.5', '{"a": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', x'00ff', 'blob',
     POINT(1, 2)),
    (2, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL)
    """,
    "CREATE VIEW small_types AS SELECT id, small FROM types",
]


@pytest.fixture
def source(my, mysql_kwargs):
    execute(my, *TYPES_DDL)
    return MySQLSource(**mysql_kwargs)


def test_discover_maps_types_keys_and_metadata(source, mysql_database):
    catalog = source.discover()
    assert [e.tap_stream_id for e in catalog.streams] == ["small_types", "types"]
    entry = catalog.get("types")
    assert not entry.is_selected
    assert entry.key_properties == ("id",)
    kinds = {c.name: c.kind for c in stream_columns(entry.with_selected())}
    assert kinds == {
        "id": ColumnKind.BIGINT,
        "flag": ColumnKind.BOOLEAN,
        "tiny": ColumnKind.SMALLINT,
        "utiny": ColumnKind.SMALLINT,
        "small": ColumnKind.SMALLINT,
        "usmall": ColumnKind.INTEGER,
        "medium": ColumnKind.INTEGER,
        "regular": ColumnKind.INTEGER,
        "uint": ColumnKind.BIGINT,
        "ubig": ColumnKind.DECIMAL,
        "yr": ColumnKind.SMALLINT,
        "amount": ColumnKind.DECIMAL,
        "wide": ColumnKind.NUMERIC,
        "ratio": ColumnKind.DOUBLE,
        "approx": ColumnKind.DOUBLE,
        "bit1": ColumnKind.BOOLEAN,
        "bits": ColumnKind.BIGINT,
        "label": ColumnKind.TEXT,
        "code": ColumnKind.TEXT,
        "fixed": ColumnKind.TEXT,
        "latin": ColumnKind.TEXT,
        "mood": ColumnKind.TEXT,
        "tags": ColumnKind.TEXT,
        "at": ColumnKind.TIMESTAMP,
        "stamp": ColumnKind.TIMESTAMP,
        "day": ColumnKind.DATE,
        "clock": ColumnKind.TIME,
        "doc": ColumnKind.JSON,
        "uid": ColumnKind.UUID,
        "raw": ColumnKind.TEXT,
        "blobby": ColumnKind.TEXT,
        "place": ColumnKind.TEXT,
    }
    columns = {c.name: c for c in stream_columns(entry.with_selected())}
    assert (columns["amount"].precision, columns["amount"].scale) == (12, 2)
    assert (columns["ubig"].precision, columns["ubig"].scale) == (20, 0)
    assert not columns["regular"].nullable
    assert columns["small"].nullable
    assert entry.properties["amount"]["multipleOf"] == 0.01
    assert entry.field_metadata("id")["inclusion"] == "automatic"
    assert entry.field_metadata("code")["sql-datatype"] == "varchar(8)"
    root = entry.field_metadata()
    assert root["table-key-properties"] == ["id"]
    assert root["schema-name"] == mysql_database
    assert root["is-view"] is False
    assert "doc" not in root["valid-replication-keys"]
    assert "at" in root["valid-replication-keys"]
    assert catalog.get("small_types").field_metadata()["is-view"] is True
    assert catalog.get("small_types").key_properties == ()


def test_discover_limits_to_named_streams(source):
    assert [e.stream for e in source.discover(streams=["types", "nope"]).streams] == ["types"]


def test_composite_primary_key_in_key_order(my, mysql_kwargs):
    execute(my, "CREATE TABLE pairs (a INT, b INT, v INT, PRIMARY KEY (b, a))")
    entry = MySQLSource(**mysql_kwargs).discover().get("pairs")
    assert entry.key_properties == ("b", "a")


def test_weir_stamp_columns_are_discovered_but_not_selected_by_default(my, mysql_kwargs):
    execute(
        my,
        "CREATE TABLE copied (id INT PRIMARY KEY, _weir_synced_at DATETIME(6), _weir_table_version BIGINT)",
    )
    entry = MySQLSource(**mysql_kwargs).discover().get("copied")
    assert list(entry.properties) == ["id", "_weir_synced_at", "_weir_table_version"]
    assert entry.with_selected().selected_fields == ("id",)


def test_read_converts_every_type(source):
    entry = source.discover(streams=["types"]).get("types").with_selected()
    batches = list(source.read(entry, bookmark=None, batch_size_rows=10))
    assert len(batches) == 1
    table = pa.Table.from_batches(batches)
    assert table.schema == pa.schema([(c.name, c.arrow_type) for c in stream_columns(entry)])
    first, second = table.sort_by("id").to_pylist()
    assert first == {
        "id": 1,
        "flag": True,
        "tiny": -7,
        "utiny": 200,
        "small": -300,
        "usmall": 60000,
        "medium": -8000000,
        "regular": 70,
        "uint": 4000000000,
        "ubig": Decimal("18446744073709551615"),
        "yr": 2024,
        "amount": Decimal("1234567890.12"),
        "wide": "12345678901234567890123456789012345678.0123456789",
        "ratio": 0.1,
        "approx": 0.5,
        "bit1": True,
        "bits": 513,
        "label": 'comma, "quote" and\nnewline and \\ backslash',
        "code": "ab",
        "fixed": "xy",
        "latin": "café",
        "mood": "happy",
        "tags": "x,y",
        "at": datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "stamp": datetime(2024, 3, 1, 12, 0, 0, 500000, tzinfo=UTC),
        "day": date(2024, 3, 1),
        "clock": time(23, 59, 59, 500000),
        "doc": '{"a": [1, 2]}',
        "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "raw": "00ff",
        "blobby": "626c6f62",
        "place": "POINT(1 2)",
    }
    assert second["label"] == ""  # an empty string stays empty, not NULL
    assert [k for k, v in second.items() if v is None] == [
        k for k in first if k not in ("id", "regular", "label")
    ]


def test_timestamps_are_read_in_utc_whatever_the_server_zone(my, mysql_kwargs):
    execute(
        my,
        "CREATE TABLE moments (id INT PRIMARY KEY, stamp TIMESTAMP NULL, naive DATETIME)",
        "SET time_zone = '+05:00'",
        "INSERT INTO moments VALUES (1, '2024-06-01 12:00:00', '2024-06-01 12:00:00')",
    )
    source = MySQLSource(**mysql_kwargs)
    entry = source.discover().get("moments").with_selected()
    [row] = pa.Table.from_batches(source.read(entry, bookmark=None, batch_size_rows=5)).to_pylist()
    assert row["stamp"] == datetime(2024, 6, 1, 7, 0, tzinfo=UTC)  # the instant, in UTC
    assert row["naive"] == datetime(2024, 6, 1, 12, 0, tzinfo=UTC)  # DATETIME taken as UTC


def test_zero_dates_read_as_null(my, mysql_kwargs):
    execute(
        my,
        "SET SESSION sql_mode = ''",
        "CREATE TABLE zeros (id INT PRIMARY KEY, day DATE, at DATETIME)",
        "INSERT INTO zeros VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), "
        "(2, '2024-00-10', '2024-05-00 10:00:00'), (3, '2024-05-10', '2024-05-10 10:00:00')",
    )
    source = MySQLSource(**mysql_kwargs)
    entry = source.discover().get("zeros").with_selected()
    table = pa.Table.from_batches(source.read(entry, bookmark=None, batch_size_rows=5))
    assert table.sort_by("id").to_pylist() == [
        {"id": 1, "day": None, "at": None},
        {"id": 2, "day": None, "at": None},
        {"id": 3, "day": date(2024, 5, 10), "at": datetime(2024, 5, 10, 10, tzinfo=UTC)},
    ]


def test_a_row_whose_only_field_is_null_is_kept(my, mysql_kwargs):
    execute(my, "CREATE TABLE single (v INT)", "INSERT INTO single VALUES (1), (NULL), (NULL)")
    source = MySQLSource(**mysql_kwargs)
    entry = source.discover().get("single").with_selected()
    batches = list(source.read(entry, bookmark=None, batch_size_rows=2))
    assert [b.num_rows for b in batches] == [2, 1]
    assert sorted(pa.Table.from_batches(batches).column("v").to_pylist(), key=str) == [
        1,
        None,
        None,
    ]


def test_read_selected_fields_only_in_batches_of_the_asked_size(my, source):
    execute(
        my,
        "INSERT INTO types (id, regular) SELECT seq, seq FROM seq_3_to_24",
    )
    entry = source.discover(streams=["types"]).get("types").with_selected()
    entry = entry.with_field_selected("doc", False).with_field_selected("label", False)
    batches = list(source.read(entry, bookmark=None, batch_size_rows=5))
    assert [b.num_rows for b in batches] == [5, 5, 5, 5, 4]
    assert "doc" not in batches[0].schema.names
    assert "label" not in batches[0].schema.names


def test_stopping_early_does_not_read_the_rest(my, mysql_kwargs):
    execute(
        my,
        "CREATE TABLE big (id INT PRIMARY KEY, v TEXT)",
        "INSERT INTO big SELECT seq, REPEAT('x', 200) FROM seq_1_to_300000",
    )
    source = MySQLSource(**mysql_kwargs)
    entry = source.discover().get("big").with_selected()
    start = clock.perf_counter()
    batches = source.read(entry, bookmark=None, batch_size_rows=100)
    assert next(batches).num_rows == 100
    batches.close()
    # Reading the 60 MB left would take seconds; abandoning the result takes milliseconds.
    assert clock.perf_counter() - start < 1.0


def _incremental(source, key="regular", keys=None):
    entry = source.discover(streams=["types"]).get("types").with_selected()
    changes = {"replication_method": ReplicationMethod.INCREMENTAL, "replication_key": key}
    if keys is not None:
        changes["key_properties"] = keys
    return replace(entry, **changes)


def _ids(source, entry, bookmark, batch_size_rows=3):
    batches = source.read(entry, bookmark=bookmark, batch_size_rows=batch_size_rows)
    return [row["id"] for b in batches for row in b.select(["id"]).to_pylist()]


def test_incremental_reads_in_keyset_order_after_the_bookmark(my, source):
    execute(
        my,
        "UPDATE types SET regular = 5",
        "INSERT INTO types (id, regular) SELECT seq, IF(seq < 8, 5, 9) FROM seq_3_to_10",
    )
    entry = _incremental(source)
    assert _ids(source, entry, None) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    after_4 = {"replication_key": "regular", "replication_key_value": 5, "key_values": {"id": 4}}
    assert _ids(source, entry, after_4) == [5, 6, 7, 8, 9, 10]
    foreign = {"replication_key_value": 9}  # a Singer/Mage bookmark: inclusive, no keys
    assert _ids(source, entry, foreign) == [8, 9, 10]
    other_key = {"replication_key": "small", "replication_key_value": 99}
    assert _ids(source, entry, other_key) == list(range(1, 11))


def test_incremental_on_a_timestamp_with_an_offset_in_the_bookmark(my, source):
    execute(
        my,
        "INSERT INTO types (id, regular, at) VALUES (3, 0, '2024-03-01 12:00:00.123456'), "
        "(4, 0, '2024-03-01 12:00:01')",
    )
    entry = _incremental(source, key="at")
    bookmark = {
        "replication_key": "at",
        "replication_key_value": "2024-03-01T14:00:00.123456+02:00",
        "key_values": {"id": 1},
    }
    assert _ids(source, entry, bookmark) == [3, 4]


def test_incremental_skips_null_replication_keys(source):
    assert _ids(source, _incremental(source, key="small"), None) == [1]


def test_incremental_many_rows_on_one_value_batch_size_one(my, mysql_kwargs):
    execute(
        my,
        "CREATE TABLE events (id INT PRIMARY KEY, rk INT)",
        "INSERT INTO events SELECT seq, seq DIV 50 FROM seq_1_to_200",
    )
    source = MySQLSource(**mysql_kwargs)
    entry = replace(
        source.discover().get("events").with_selected(),
        replication_method=ReplicationMethod.INCREMENTAL,
        replication_key="rk",
    )
    seen: list[int] = []
    bookmark = None
    while True:  # resume after every single row, as a sync killed after each batch would
        batches = source.read(entry, bookmark=bookmark, batch_size_rows=1)
        batch = next(batches, None)
        batches.close()
        if batch is None:
            break
        [row] = batch.to_pylist()
        seen.append(row["id"])
        bookmark = {
            "replication_key": "rk",
            "replication_key_value": row["rk"],
            "key_values": {"id": row["id"]},
        }
    assert seen == list(range(1, 201))


def test_unknown_table_and_column_are_catalog_errors(my, source):
    entry = _incremental(source)
    execute(my, "ALTER TABLE types DROP COLUMN code")
    with pytest.raises(CatalogError, match=r"columns \['code'\]"):
        list(source.read(entry, bookmark=None, batch_size_rows=10))
    execute(my, "DROP VIEW small_types", "DROP TABLE types")
    with pytest.raises(CatalogError, match="does not exist"):
        list(source.read(entry, bookmark=None, batch_size_rows=10))


def test_a_value_the_kind_cannot_hold_names_the_column(my, mysql_kwargs):
    execute(my, "CREATE TABLE flags (id INT PRIMARY KEY, f TINYINT(1))")
    execute(my, "INSERT INTO flags VALUES (1, 1), (2, 5)")
    source = MySQLSource(**mysql_kwargs)
    entry = source.discover().get("flags").with_selected()
    with pytest.raises(SourceError, match="column 'f'") as caught:
        list(source.read(entry, bookmark=None, batch_size_rows=10))
    assert not caught.value.retriable


def test_check_and_discover_report_bad_settings(mysql_database):
    MySQLSource(**connector_kwargs(mysql_database)).check()
    with pytest.raises(ConnectorConfigError, match="no database 'weir_nope'"):
        MySQLSource(**connector_kwargs("weir_nope")).check()
    wrong_port = {**connector_kwargs(mysql_database), "port": 1}
    with pytest.raises(ConnectorConfigError, match="cannot connect"):
        MySQLSource(**wrong_port).check()
    assert "password" not in repr(MySQLSource(**connector_kwargs(mysql_database), password="pw"))
