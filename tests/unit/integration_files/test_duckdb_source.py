"""DuckDBSource against DuckDB files made here (DuckDB is embedded: no service)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from weir.integration import (
    CatalogError,
    ColumnKind,
    ConnectorConfigError,
    DuckDBDestination,
    run_sync,
    stream_columns,
)
from weir.integration.columns import arrow_schema
from weir.integration.sources.duckdb import DuckDBSource

from .helpers import MemoryDestination, incremental, read_rows, select_all

K = ColumnKind


def make_db(tmp_path, script: str, name="src.duckdb"):
    path = tmp_path / name
    with duckdb.connect(str(path)) as conn:
        conn.execute(script)
    return path


ALL_TYPES = """
CREATE TABLE t (
    id INTEGER PRIMARY KEY, small TINYINT, big UBIGINT, huge HUGEINT, amount DECIMAL(10, 2),
    ratio FLOAT, "at" TIMESTAMP, atz TIMESTAMPTZ, atn TIMESTAMP_NS, day DATE, tod TIME, doc JSON,
    uid UUID, list INTEGER[], rec STRUCT(x INTEGER, y VARCHAR), mood ENUM('sad', 'ok'),
    raw BLOB, span INTERVAL, name VARCHAR);
INSERT INTO t VALUES (
    1, 7, 18446744073709551615, 170141183460469231731687303715884105727, 12.34, 0.5,
    '2024-01-02 03:04:05', '2024-01-02 05:04:05+02', '2024-01-02 03:04:05.123456789',
    '2024-01-02', '10:11:12.5', '{"a": [1]}', '00000000-0000-0000-0000-000000000001',
    [1, 2], {'x': 1, 'y': 'z'}, 'ok', 'ab'::BLOB, INTERVAL 2 DAY, 'it''s');
CREATE VIEW v AS SELECT id, name FROM t;
CREATE TABLE _weir_state (state_id VARCHAR);
"""


def test_discovers_tables_and_views_with_the_documented_kinds(tmp_path):
    source = DuckDBSource(make_db(tmp_path, ALL_TYPES))
    source.check()
    catalog = source.discover()
    assert [e.stream for e in catalog.streams] == ["t", "v"]  # Weir's own tables left out
    entry = catalog.get("t")
    assert entry.key_properties == ("id",)
    assert catalog.get("v").key_properties == ()
    assert catalog.get("v").field_metadata()["is-view"] is True
    kinds = {c.name: (c.kind, c.precision, c.scale) for c in stream_columns(entry)}
    assert kinds == {
        "id": (K.INTEGER, None, None),
        "small": (K.SMALLINT, None, None),
        "big": (K.DECIMAL, 20, 0),
        "huge": (K.NUMERIC, None, None),
        "amount": (K.DECIMAL, 10, 2),
        "ratio": (K.DOUBLE, None, None),
        "at": (K.TIMESTAMP, None, None),
        "atz": (K.TIMESTAMP, None, None),
        "atn": (K.TIMESTAMP, None, None),
        "day": (K.DATE, None, None),
        "tod": (K.TIME, None, None),
        "doc": (K.JSON, None, None),
        "uid": (K.UUID, None, None),
        "list": (K.JSON, None, None),
        "rec": (K.JSON, None, None),
        "mood": (K.TEXT, None, None),
        "raw": (K.TEXT, None, None),
        "span": (K.TEXT, None, None),
        "name": (K.TEXT, None, None),
    }
    assert entry.field_metadata("amount")["sql-datatype"] == "DECIMAL(10,2)"


def test_reads_native_arrow_batches_in_the_stream_schema(tmp_path):
    source = DuckDBSource(make_db(tmp_path, ALL_TYPES))
    catalog = select_all(source)
    batches = list(source.read(catalog.get("t"), bookmark=None, batch_size_rows=10))
    assert batches[0].schema == arrow_schema(stream_columns(catalog.get("t")))
    (row,) = batches[0].to_pylist()
    at = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert row["big"] == Decimal(18446744073709551615)
    assert row["huge"] == "170141183460469231731687303715884105727"
    assert row["amount"] == Decimal("12.34")
    assert (row["at"], row["atz"]) == (at, at)
    assert row["atn"] == at.replace(microsecond=123457)  # rounded to the microsecond
    assert (row["day"], row["tod"]) == (date(2024, 1, 2), time(10, 11, 12, 500000))
    assert row["doc"] == '{"a": [1]}'
    assert row["uid"] == "00000000-0000-0000-0000-000000000001"
    assert (row["list"], row["rec"]) == ("[1,2]", '{"x":1,"y":"z"}')
    assert (row["mood"], row["span"], row["name"]) == ("ok", "2 days", "it's")


def make_events(tmp_path, count=300, per_value=9, primary_key=True):
    key = "PRIMARY KEY" if primary_key else ""
    return make_db(
        tmp_path,
        f'CREATE TABLE events (id BIGINT {key}, "at" TIMESTAMPTZ, v VARCHAR);'
        f"INSERT INTO events SELECT i, TIMESTAMPTZ '2024-01-01 00:00:00+00' "
        f"+ (i // {per_value}) * INTERVAL 1 SECOND, i::VARCHAR FROM range({count}, 0, -1) r(i);"
        "INSERT INTO events VALUES (0, NULL, 'no key');",
    )


@pytest.mark.parametrize("batch_size_rows", [1, 4, 9, 1000])
@pytest.mark.parametrize("keys", [("id",), ()], ids=["keyed", "keyless"])
def test_incremental_reads_each_row_once_whatever_the_batch_size(tmp_path, keys, batch_size_rows):
    path = make_events(tmp_path, primary_key=bool(keys))
    source = DuckDBSource(path)
    catalog = incremental(select_all(source), "events", "at", keys=keys)
    destination = MemoryDestination()
    run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    assert sorted(r["id"] for r in destination.tables["events"]) == list(range(1, 301))
    assert all(b.num_rows <= batch_size_rows for b in destination.batches) or not keys
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "INSERT INTO events VALUES (500, TIMESTAMPTZ '2024-01-01 00:00:33+00', 'tie'),"
            " (501, TIMESTAMPTZ '2024-01-01 00:00:34+00', 'new')"
        )
    run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    ids = sorted(r["id"] for r in destination.tables["events"])
    assert ids == [*range(1, 301), *([500] if keys else []), 501]


def test_resumes_after_the_bookmarked_row(tmp_path):
    source = DuckDBSource(make_events(tmp_path))
    catalog = incremental(select_all(source), "events", "at", keys=("id",))
    bookmark = {
        "replication_key": "at",
        "replication_key_value": "2024-01-01T00:00:05+00:00",
        "key_values": {"id": 47},
    }
    rows, _ = read_rows(source, catalog, "events", bookmark=bookmark, batch_size_rows=5)
    assert [r["id"] for r in rows[:5]] == [48, 49, 50, 51, 52]  # 00:00:05 holds 45..53
    assert len(rows) == 300 - 53 + 6


def test_syncs_into_the_duckdb_destination(tmp_path):
    source = DuckDBSource(make_db(tmp_path, ALL_TYPES))
    target = tmp_path / "warehouse.duckdb"
    result = run_sync(source, DuckDBDestination(target, schema="raw"), select_all(source))
    assert result.rows == 2
    with duckdb.connect(str(target)) as conn:
        copied = conn.sql('SELECT id, amount, "at", doc, name FROM raw.t').to_arrow_table()
    assert copied.to_pylist() == [
        {
            "id": 1,
            "amount": Decimal("12.34"),
            "at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            "doc": '{"a": [1]}',
            "name": "it's",
        }
    ]
    assert copied.schema.field("amount").type == pa.decimal128(10, 2)


def test_errors_name_the_file_schema_and_table(tmp_path):
    with pytest.raises(ConnectorConfigError, match="missing"):
        DuckDBSource(tmp_path / "missing.duckdb").check()
    path = make_db(tmp_path, ALL_TYPES)
    with pytest.raises(ConnectorConfigError, match="no schema 'nope'"):
        DuckDBSource(path, schema="nope").check()
    source = DuckDBSource(path)
    catalog = select_all(source)
    with duckdb.connect(str(path)) as conn:
        conn.execute("DROP VIEW v")
    with pytest.raises(CatalogError, match=r"no table main\.v"):
        read_rows(source, catalog, "v")
