"""SQLiteSource against the real Chinook file and small hand-made databases."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from weir.integration import (
    CatalogError,
    ColumnKind,
    ConnectorConfigError,
    SourceError,
    run_sync,
    stream_columns,
)
from weir.integration.columns import Column
from weir.integration.sources.sqlite import SQLiteSource

from .helpers import MemoryDestination, incremental, read_rows, select_all

CHINOOK_COUNTS = {
    "Album": 347,
    "Artist": 275,
    "Customer": 59,
    "Employee": 8,
    "Genre": 25,
    "Invoice": 412,
    "InvoiceLine": 2240,
    "MediaType": 5,
    "Playlist": 18,
    "PlaylistTrack": 8715,
    "Track": 3503,
}


def make_db(tmp_path, script: str):
    path = tmp_path / "db.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(script)
    conn.close()
    return path


def test_discovers_the_eleven_chinook_tables_with_keys_and_types(chinook):
    catalog = SQLiteSource(chinook).discover()
    assert [e.stream for e in catalog.streams] == sorted(CHINOOK_COUNTS)
    assert catalog.get("PlaylistTrack").key_properties == ("PlaylistId", "TrackId")
    invoice = catalog.get("Invoice")
    assert invoice.key_properties == ("InvoiceId",)
    kinds = {c.name: c for c in stream_columns(invoice)}
    assert kinds["InvoiceId"] == Column("InvoiceId", ColumnKind.BIGINT, nullable=False)
    assert kinds["InvoiceDate"].kind is ColumnKind.TIMESTAMP
    assert kinds["Total"] == Column("Total", ColumnKind.DECIMAL, False, precision=10, scale=2)
    assert kinds["BillingState"] == Column("BillingState", ColumnKind.TEXT, nullable=True)
    root = invoice.field_metadata()
    assert root["is-view"] is False
    assert "InvoiceDate" in root["valid-replication-keys"]
    assert invoice.field_metadata("Total")["sql-datatype"] == "NUMERIC(10,2)"
    assert invoice.field_metadata("InvoiceId")["inclusion"] == "automatic"
    assert not invoice.is_selected
    assert [e.stream for e in SQLiteSource(chinook).discover(streams=["Genre"]).streams] == [
        "Genre"
    ]


def test_reads_every_chinook_row_with_converted_values(chinook):
    source = SQLiteSource(chinook)
    catalog = select_all(source)
    for stream, count in CHINOOK_COUNTS.items():
        rows, sizes = read_rows(source, catalog, stream, batch_size_rows=1000)
        assert len(rows) == count, stream
        assert all(0 < s <= 1000 for s in sizes)
    rows, _ = read_rows(source, catalog, "Invoice")
    first = rows[0]
    assert first["InvoiceDate"] == datetime(2021, 1, 1, tzinfo=UTC)
    assert first["Total"] == Decimal("1.98")
    with sqlite3.connect(chinook) as conn:
        expected = conn.execute("SELECT round(sum(Total), 2) FROM Invoice").fetchone()[0]
    assert sum(r["Total"] for r in rows) == Decimal(str(expected))


def test_converts_what_sqlite_stores(tmp_path):
    path = make_db(
        tmp_path,
        """
        CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME, day DATE, t TIME, amount NUMERIC(8,2),
                        flag BOOLEAN, raw, note TEXT, doc JSON, n NUMERIC);
        INSERT INTO t VALUES
          (1, '2024-01-02 03:04:05', '2024-01-02', '10:11:12', 1.005, 1, x'00ff', 'a', '{"a":1}', 12),
          (2, '2024-01-02T03:04:05.123456Z', '2024-01-03 00:00:00', '10:11', 2, 0, 5, 7, '[1]', 1.5),
          (3, '2024-01-02 05:04:05+02:00', NULL, NULL, '3.14159', 'true', 2.5, NULL, NULL, NULL),
          (4, 1704164645, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        """,
    )
    source = SQLiteSource(path)
    rows, _ = read_rows(source, select_all(source), "t")
    at = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert [r["at"] for r in rows] == [at, at.replace(microsecond=123456), at, at]
    assert [r["day"] for r in rows[:2]] == [date(2024, 1, 2), date(2024, 1, 3)]
    assert [r["t"] for r in rows[:2]] == [time(10, 11, 12), time(10, 11)]
    assert [r["amount"] for r in rows[:3]] == [Decimal("1.01"), Decimal("2.00"), Decimal("3.14")]
    assert [r["flag"] for r in rows[:3]] == [True, False, True]
    assert [r["raw"] for r in rows[:3]] == ["\\x00ff", "5", "2.5"]
    assert [r["note"] for r in rows[:2]] == ["a", "7"]
    assert [r["doc"] for r in rows[:2]] == ['{"a":1}', "[1]"]
    assert [r["n"] for r in rows[:3]] == ["12", "1.5", None]


def test_a_value_that_does_not_fit_fails_with_the_column_and_value(tmp_path):
    path = make_db(
        tmp_path,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);"
        "INSERT INTO t VALUES (1, 5), (2, 'five');",
    )
    source = SQLiteSource(path)
    with pytest.raises(SourceError, match=r"column 'n' \(BIGINT\) holds 'five'") as caught:
        read_rows(source, select_all(source), "t")
    assert caught.value.stream == "t"
    assert not caught.value.retriable


def test_views_and_without_rowid_tables(tmp_path):
    path = make_db(
        tmp_path,
        """
        CREATE TABLE w (code TEXT PRIMARY KEY, n INT) WITHOUT ROWID;
        WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 25)
        INSERT INTO w SELECT printf('k%03d', value), value FROM n;
        CREATE VIEW v AS SELECT code, n * 2 AS twice FROM w;
        """,
    )
    source = SQLiteSource(path)
    catalog = select_all(source)
    assert catalog.get("v").field_metadata()["is-view"] is True
    assert catalog.get("v").key_properties == ()
    assert catalog.get("w").key_properties == ("code",)
    rows, sizes = read_rows(source, catalog, "w", batch_size_rows=4)
    assert [r["n"] for r in rows] == list(range(1, 26))
    assert sizes == [4, 4, 4, 4, 4, 4, 1]
    rows, sizes = read_rows(source, catalog, "v", batch_size_rows=10)
    # A view's expression column has no declared type: BLOB affinity, read as text.
    assert sorted(int(r["twice"]) for r in rows) == list(range(2, 51, 2))
    assert sizes == [10, 10, 5]


def make_events(tmp_path, count=200, per_value=7, primary_key=True):
    """`count` rows; `per_value` rows share each replication-key value (as text timestamps)."""
    path = tmp_path / "events.sqlite"
    key = "PRIMARY KEY" if primary_key else ""
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE events (id INTEGER {key}, at DATETIME, v TEXT)")
        conn.executemany(
            "INSERT INTO events VALUES (?, ?, ?)",
            [
                (
                    i,
                    f"2024-01-01 00:{(i // per_value) // 60:02d}:{(i // per_value) % 60:02d}",
                    str(i),
                )
                for i in range(count, 0, -1)  # inserted out of order
            ],
        )
        conn.execute("INSERT INTO events VALUES (?, NULL, 'no key')", (count + 1,))
    conn.close()
    return path


@pytest.mark.parametrize("batch_size_rows", [1, 2, 3, 7, 50, 1000])
@pytest.mark.parametrize("keys", [("id",), ()], ids=["keyed", "keyless"])
def test_incremental_reads_each_row_once_whatever_the_batch_size(tmp_path, keys, batch_size_rows):
    path = make_events(tmp_path, primary_key=bool(keys))
    source = SQLiteSource(path)
    catalog = incremental(select_all(source), "events", "at", keys=keys)
    assert catalog.get("events").effective_key_properties == keys
    destination = MemoryDestination()
    run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    ids = [r["id"] for r in destination.tables["events"]]
    assert sorted(ids) == list(range(1, 201))  # none twice, none lost, NULL key skipped
    ordered = [(r["at"], r["id"]) for r in destination.tables["events"]]
    if keys:
        assert ordered == sorted(ordered)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO events VALUES (500, '2024-01-01 00:00:28', 'late tie')")
        conn.execute("INSERT INTO events VALUES (501, '2024-01-01 00:00:29', 'new')")
    conn.close()
    run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    ids = sorted(r["id"] for r in destination.tables["events"])
    # 00:00:28 is the last value read: with keys, id 500 sorts after the bookmark's id and is
    # read; without keys only strictly greater values are (documented).
    assert ids == [*range(1, 201), *([500] if keys else []), 501]


def test_resumes_from_a_bookmark_after_the_rows_it_names(tmp_path):
    source = SQLiteSource(make_events(tmp_path))
    catalog = incremental(select_all(source), "events", "at", keys=("id",))
    bookmark = {
        "replication_key": "at",
        "replication_key_value": "2024-01-01T00:00:05+00:00",
        "key_values": {"id": 37},
    }
    rows, _ = read_rows(source, catalog, "events", bookmark=bookmark, batch_size_rows=3)
    # 00:00:05 holds ids 35..41: those after 37 come first, then every later value.
    assert [r["id"] for r in rows[:4]] == [38, 39, 40, 41]
    assert len(rows) == 200 - 41 + 4
    foreign = {"replication_key_value": "2024-01-01 00:00:05"}  # no key_values: from the value
    rows, _ = read_rows(source, catalog, "events", bookmark=foreign, batch_size_rows=3)
    assert [r["id"] for r in rows[:7]] == [35, 36, 37, 38, 39, 40, 41]


def test_incremental_on_a_view_streams_one_ordered_query(tmp_path):
    path = make_events(tmp_path, count=30, per_value=4)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIEW recent AS SELECT * FROM events")
    conn.close()
    source = SQLiteSource(path)
    catalog = incremental(select_all(source), "recent", "at", keys=("id",))
    rows, sizes = read_rows(source, catalog, "recent", batch_size_rows=4)
    assert [(r["at"], r["id"]) for r in rows] == sorted((r["at"], r["id"]) for r in rows)
    assert len(rows) == 30
    assert sizes == [4] * 7 + [2]


def test_text_keys_order_bytewise_even_with_a_nocase_column(tmp_path):
    path = make_db(
        tmp_path,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE);"
        "INSERT INTO t (name) VALUES ('b'), ('B'), ('a'), ('A'), ('b'), ('c');",
    )
    source = SQLiteSource(path)
    catalog = incremental(select_all(source), "t", "name", keys=())
    destination = MemoryDestination()
    run_sync(source, destination, catalog, batch_size_rows=1)
    assert [r["name"] for r in destination.tables["t"]] == ["A", "B", "a", "b", "b", "c"]


def test_an_unreadable_replication_key_value_is_named(tmp_path):
    path = make_db(
        tmp_path,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME);"
        "INSERT INTO t VALUES (1, '2024-01-01'), (2, 'yesterday');",
    )
    source = SQLiteSource(path)
    catalog = incremental(select_all(source), "t", "at", keys=("id",))
    with pytest.raises(SourceError, match="yesterday"):
        read_rows(source, catalog, "t")


def test_missing_file_table_and_columns_are_config_and_catalog_errors(tmp_path, chinook):
    with pytest.raises(ConnectorConfigError, match=r"nope\.sqlite"):
        SQLiteSource(tmp_path / "nope.sqlite").check()
    source = SQLiteSource(chinook)
    catalog = select_all(source, ["Genre"])
    with sqlite3.connect(chinook) as conn:
        conn.execute("DROP TABLE Genre")
    conn.close()
    with pytest.raises(CatalogError, match="no table Genre"):
        read_rows(source, catalog, "Genre")


def test_the_file_is_opened_read_only(chinook):
    source = SQLiteSource(chinook)
    before = chinook.read_bytes()
    read_rows(source, select_all(source, ["Track"]), "Track")
    assert chinook.read_bytes() == before


def test_decimal_keys_compare_by_their_rounded_value(tmp_path):
    # 0.1 + 0.2 is stored as 0.30000000000000004 and read as 0.30, like 0.3 itself.
    path = make_db(
        tmp_path,
        "CREATE TABLE t (price NUMERIC(6,2), v TEXT);"
        "INSERT INTO t VALUES (0.1 + 0.2, 'a'), (0.3, 'b'), (0.25, 'c'), (0.31, 'd');",
    )
    source = SQLiteSource(path)
    catalog = incremental(select_all(source), "t", "price", keys=())
    destination = MemoryDestination()
    run_sync(source, destination, catalog, batch_size_rows=1)
    assert [r["v"] for r in destination.tables["t"]] == ["c", "a", "b", "d"]
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO t VALUES (0.3, 'late'), (0.32, 'e')")
    conn.close()
    run_sync(source, destination, catalog, batch_size_rows=1)
    assert [r["v"] for r in destination.tables["t"]] == ["c", "a", "b", "d", "e"]
