from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pyarrow as pa
import pytest

from weir.integration import CatalogError, ColumnKind, PostgresSource, stream_columns
from weir.integration.columns import Column
from weir.integration.singer import ReplicationMethod

from .conftest import SOURCE_SCHEMA

TYPES_DDL = f"""
CREATE TYPE {SOURCE_SCHEMA}.mood AS ENUM ('sad', 'happy');
CREATE TABLE {SOURCE_SCHEMA}.types (
    id bigint PRIMARY KEY,
    small smallint, regular integer NOT NULL, amount numeric(12, 2), anynum numeric,
    ratio double precision, flag boolean, label text, code varchar(8), fixed char(3),
    at timestamptz, naive timestamp, day date, clock time, doc jsonb, plain json,
    uid uuid, tags text[], span interval, feeling {SOURCE_SCHEMA}.mood, raw bytea
);
INSERT INTO {SOURCE_SCHEMA}.types VALUES
 (1, 7, 70, 1234567890.12, 3.14159265358979323846264338327950288419716939937510, 0.1, true,
  'comma, "quote" and
newline', 'ab', 'xy', '2024-03-01 12:00:00.123456+02', '2024-03-01 12:00:00', '2024-03-01',
  '23:59:59.5', '{{"a": [1, 2]}}', '[1, "x"]', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  ARRAY['x', 'y'], '1 day 2 hours', 'happy', '\\x00ff'),
 (2, NULL, 0, NULL, NULL, 'Infinity', false, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL);
CREATE VIEW {SOURCE_SCHEMA}.small_types AS SELECT id, small FROM {SOURCE_SCHEMA}.types;
"""


@pytest.fixture
def source(pg, conninfo):
    pg.execute(TYPES_DDL)
    return PostgresSource(conninfo, schema=SOURCE_SCHEMA)


def test_discover_maps_types_keys_and_metadata(source):
    catalog = source.discover()
    assert [e.tap_stream_id for e in catalog.streams] == ["small_types", "types"]
    entry = catalog.get("types")
    assert not entry.is_selected
    assert entry.key_properties == ("id",)
    kinds = {c.name: (c.kind, c.nullable) for c in stream_columns(entry.with_selected())}
    assert kinds == {
        "id": (ColumnKind.BIGINT, False),
        "small": (ColumnKind.SMALLINT, True),
        "regular": (ColumnKind.INTEGER, False),
        "amount": (ColumnKind.DECIMAL, True),
        "anynum": (ColumnKind.NUMERIC, True),
        "ratio": (ColumnKind.DOUBLE, True),
        "flag": (ColumnKind.BOOLEAN, True),
        "label": (ColumnKind.TEXT, True),
        "code": (ColumnKind.TEXT, True),
        "fixed": (ColumnKind.TEXT, True),
        "at": (ColumnKind.TIMESTAMP, True),
        "naive": (ColumnKind.TIMESTAMP, True),
        "day": (ColumnKind.DATE, True),
        "clock": (ColumnKind.TIME, True),
        "doc": (ColumnKind.JSON, True),
        "plain": (ColumnKind.JSON, True),
        "uid": (ColumnKind.UUID, True),
        "tags": (ColumnKind.JSON, True),
        "span": (ColumnKind.TEXT, True),
        "feeling": (ColumnKind.TEXT, True),
        "raw": (ColumnKind.TEXT, True),
    }
    assert entry.properties["amount"]["multipleOf"] == 0.01
    assert entry.field_metadata("id")["inclusion"] == "automatic"
    assert entry.field_metadata("code")["sql-datatype"] == "character varying(8)"
    root = entry.field_metadata()
    assert root["table-key-properties"] == ["id"]
    assert root["is-view"] is False
    assert catalog.get("small_types").field_metadata()["is-view"] is True
    assert catalog.get("small_types").key_properties == ()


def test_discover_limits_to_named_streams(source):
    assert [e.stream for e in source.discover(streams=["types", "nope"]).streams] == ["types"]


def test_read_converts_every_type(source):
    entry = source.discover(streams=["types"]).get("types").with_selected()
    batches = list(source.read(entry, bookmark=None, batch_size_rows=10))
    assert len(batches) == 1
    table = pa.Table.from_batches(batches)
    assert table.schema == pa.schema([(c.name, c.arrow_type) for c in stream_columns(entry)])
    first, second = table.sort_by("id").to_pylist()
    assert first == {
        "id": 1,
        "small": 7,
        "regular": 70,
        "amount": Decimal("1234567890.12"),
        "anynum": "3.14159265358979323846264338327950288419716939937510",
        "ratio": 0.1,
        "flag": True,
        "label": 'comma, "quote" and\nnewline',
        "code": "ab",
        "fixed": "xy ",
        "at": datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC),
        "naive": datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
        "day": date(2024, 3, 1),
        "clock": time(23, 59, 59, 500000),
        "doc": '{"a": [1, 2]}',
        "plain": '[1, "x"]',
        "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "tags": '["x","y"]',
        "span": "1 day 02:00:00",
        "feeling": "happy",
        "raw": "\\x00ff",
    }
    assert second["ratio"] == float("inf")
    assert second["label"] == ""  # empty string stays empty, not NULL
    assert second["code"] is None
    assert [k for k, v in second.items() if v is None] == [
        k for k in first if k not in ("id", "regular", "ratio", "flag", "label")
    ]


def test_read_selected_fields_only_in_batches_of_the_asked_size(pg, source):
    pg.execute(
        f"INSERT INTO {SOURCE_SCHEMA}.types (id, regular) SELECT g, g FROM generate_series(3, 24) g"
    )
    entry = source.discover(streams=["types"]).get("types").with_selected()
    entry = entry.with_field_selected("doc", False).with_field_selected("label", False)
    batches = list(source.read(entry, bookmark=None, batch_size_rows=5))
    assert [b.num_rows for b in batches] == [5, 5, 5, 5, 4]
    assert "doc" not in batches[0].schema.names
    assert "label" not in batches[0].schema.names


def _incremental(source, key="regular"):
    entry = source.discover(streams=["types"]).get("types").with_selected()
    return replace(entry, replication_method=ReplicationMethod.INCREMENTAL, replication_key=key)


def _ids(source, entry, bookmark):
    batches = source.read(entry, bookmark=bookmark, batch_size_rows=3)
    return [row["id"] for b in batches for row in b.select(["id"]).to_pylist()]


def test_incremental_reads_in_keyset_order_after_the_bookmark(pg, source):
    pg.execute(f"UPDATE {SOURCE_SCHEMA}.types SET regular = 5")
    pg.execute(
        f"INSERT INTO {SOURCE_SCHEMA}.types (id, regular) "
        "SELECT g, CASE WHEN g < 8 THEN 5 ELSE 9 END FROM generate_series(3, 10) g"
    )
    entry = _incremental(source)
    assert _ids(source, entry, None) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    weir_bookmark = {
        "replication_key": "regular",
        "replication_key_value": 5,
        "key_values": {"id": 4},
    }
    assert _ids(source, entry, weir_bookmark) == [5, 6, 7, 8, 9, 10]
    # A bookmark without key values (a Singer tap's, Mage's) re-reads the value's rows.
    assert _ids(source, entry, {"replication_key_value": 9}) == [8, 9, 10]
    # A bookmark for another replication key is not applied.
    assert _ids(source, entry, {"replication_key": "small", "replication_key_value": 100}) == list(
        range(1, 11)
    )


def test_incremental_on_a_timestamp_key_resumes_exactly(pg, source):
    entry = _incremental(source, key="at")
    pg.execute(
        f"INSERT INTO {SOURCE_SCHEMA}.types (id, regular, at) "
        "SELECT g, 0, '2024-03-01 10:00:00.123456+00' FROM generate_series(3, 6) g"
    )
    first = next(iter(source.read(entry, bookmark=None, batch_size_rows=2)))
    last = first.to_pylist()[-1]
    bookmark = {
        "replication_key": "at",
        "replication_key_value": last["at"].isoformat(),
        "key_values": {"id": last["id"]},
    }
    assert _ids(source, entry, bookmark) == [4, 5, 6]  # NULL `at` (row 2) is never read


def test_read_reports_missing_table_and_columns(pg, source):
    entry = source.discover(streams=["types"]).get("types").with_selected()
    pg.execute(f"ALTER TABLE {SOURCE_SCHEMA}.types DROP COLUMN label")
    with pytest.raises(CatalogError, match=r"\['label'\].*run discovery again"):
        list(source.read(entry, bookmark=None, batch_size_rows=10))
    pg.execute(f"DROP TABLE {SOURCE_SCHEMA}.types CASCADE")
    with pytest.raises(CatalogError, match=r"stream 'types': table app\.types does not exist"):
        list(source.read(entry, bookmark=None, batch_size_rows=10))


def test_incremental_without_replication_key_is_a_catalog_error(source):
    entry = _incremental(source, key="nope")
    with pytest.raises(CatalogError, match="replication_key"):
        list(source.read(entry, bookmark=None, batch_size_rows=10))


def test_stale_catalog_type_is_reported_as_a_source_error(pg, source):
    from weir.integration import SourceError

    entry = source.discover(streams=["types"]).get("types").with_selected()
    props = dict(entry.properties)
    props["label"] = Column("label", ColumnKind.BIGINT).json_schema()
    stale = replace(entry, schema={"properties": props})
    with pytest.raises(SourceError, match="stream 'types': a value could not be converted"):
        list(source.read(stale, bookmark=None, batch_size_rows=10))


def test_check(source, conninfo):
    from weir.integration import ConnectorConfigError

    source.check()
    with pytest.raises(ConnectorConfigError, match="no schema 'nope'"):
        PostgresSource(conninfo, schema="nope").check()
    with pytest.raises(ConnectorConfigError, match="cannot connect"):
        PostgresSource("postgresql://postgres@127.0.0.1:1/x").check()


def test_rows_whose_selected_columns_are_all_null_are_kept(pg, source):
    pg.execute(f"CREATE TABLE {SOURCE_SCHEMA}.sparse (note text)")
    pg.execute(f"INSERT INTO {SOURCE_SCHEMA}.sparse VALUES ('a'), (NULL), ('c')")
    entry = source.discover(streams=["sparse"]).get("sparse").with_selected()
    batches = list(source.read(entry, bookmark=None, batch_size_rows=100))
    assert [row["note"] for b in batches for row in b.to_pylist()] == ["a", None, "c"]
