"""SQLite, DuckDB and file sources synced into the real PostgreSQL, compared value by value."""

from __future__ import annotations

import sqlite3

import duckdb
import pytest

from tests.unit.integration_files.helpers import chinook_rows, data_rows, incremental, select_all
from tests.unit.integration_files.test_sqlite_source import CHINOOK_COUNTS
from weir.integration import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    Catalog,
    PostgresDestination,
    PostgresSource,
    run_sync,
)
from weir.integration.destinations.parquet import ParquetDestination
from weir.integration.sources.duckdb import DuckDBSource
from weir.integration.sources.files import FileSource
from weir.integration.sources.sqlite import SQLiteSource

from .conftest import DEST_SCHEMA, pg_rows


def test_chinook_sqlite_to_postgres_all_eleven_tables(pg, conninfo, chinook):
    source = SQLiteSource(chinook)
    destination = PostgresDestination(conninfo, schema=DEST_SCHEMA)
    result = run_sync(source, destination, select_all(source), batch_size_rows=1000)
    assert {s.stream: s.rows for s in result.streams} == CHINOOK_COUNTS
    for table in CHINOOK_COUNTS:
        assert data_rows(pg_rows(pg, table)) == chinook_rows(chinook, table), table
    types = dict(
        pg.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'Invoice'"
        ).fetchall()
    )
    assert types["Total"] == "numeric"
    assert types["InvoiceDate"] == "timestamp with time zone"


CHANGES = {
    # table: (key, a copied-row INSERT ... SELECT with the new `updated`, rows inserted, updated)
    "Track": (
        "TrackId",
        "INSERT INTO Track (TrackId, Name, MediaTypeId, Milliseconds, UnitPrice, updated) "
        "SELECT TrackId + 10000, Name || ' (live)', MediaTypeId, Milliseconds, 0.99, "
        "'2024-02-01 00:00:00' FROM Track WHERE TrackId <= 1000",
        1000,
        100,
    ),
    "Album": (
        "AlbumId",
        "INSERT INTO Album (AlbumId, Title, ArtistId, updated) SELECT AlbumId + 1000, "
        "Title || ' (deluxe)', ArtistId, '2024-02-01 00:00:00' FROM Album WHERE AlbumId <= 60",
        60,
        10,
    ),
}


@pytest.mark.parametrize(("table", "batch_size_rows"), [("Track", 700), ("Album", 1)])
def test_incremental_with_every_row_on_one_bookmark_value(
    pg, conninfo, chinook, table, batch_size_rows
):
    """Every row shares one `updated` value; then inserts and updates; both sides equal."""
    key, insert, inserted, updated = CHANGES[table]
    with sqlite3.connect(chinook) as conn:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN updated DATETIME")
        conn.execute(f"UPDATE {table} SET updated = '2024-01-01 00:00:00'")
    conn.close()
    source = SQLiteSource(chinook)
    catalog = incremental(select_all(source, [table]), table, "updated")
    destination = PostgresDestination(conninfo, schema=DEST_SCHEMA)
    first = run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    assert first.stream(table).rows == CHINOOK_COUNTS[table]
    with sqlite3.connect(chinook) as conn:
        conn.execute(insert)
        conn.execute(
            f"UPDATE {table} SET updated = '2024-02-01 00:00:00' WHERE {key} IN "
            f"(SELECT {key} FROM {table} WHERE {key} > 100 ORDER BY {key} LIMIT {updated})"
        )
    conn.close()
    second = run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    assert second.stream(table).rows == inserted + updated
    assert data_rows(pg_rows(pg, table)) == chinook_rows(chinook, table)
    assert run_sync(source, destination, catalog).stream(table).rows == 0


def test_duckdb_and_files_to_postgres(pg, conninfo, titanic, tmp_path):
    path = tmp_path / "app.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE TABLE items (id BIGINT PRIMARY KEY, price DECIMAL(12, 2), tags VARCHAR[], "
            "seen TIMESTAMP); INSERT INTO items SELECT i, i * 1.25, ['a', i::VARCHAR], "
            "TIMESTAMP '2024-01-01' + i * INTERVAL 1 HOUR FROM range(1, 501) r(i)"
        )
    destination = PostgresDestination(conninfo, schema=DEST_SCHEMA)
    source = DuckDBSource(path)
    assert run_sync(source, destination, select_all(source), batch_size_rows=128).rows == 500
    row = pg.execute("SELECT price, tags, seen FROM raw.items WHERE id = 7").fetchone()
    assert (str(row[0]), row[1], row[2].isoformat()) == (
        "8.75",
        ["a", "7"],
        "2024-01-01T07:00:00+00:00",
    )
    files = FileSource({"titanic": str(titanic)})
    assert run_sync(files, destination, select_all(files), batch_size_rows=100).rows == 891
    counts = pg.execute(
        'SELECT count(*), count("Age"), count("Cabin"), round(sum("Fare")::numeric, 4)::text '
        "FROM raw.titanic"
    ).fetchone()
    assert counts == (891, 714, 204, "28693.9493")


def test_sqlite_to_postgres_to_partitioned_parquet(pg, conninfo, chinook, tmp_path):
    """A table Weir wrote carries Weir's stamps: deselected, it syncs on unchanged."""
    sqlite = SQLiteSource(chinook)
    run_sync(sqlite, PostgresDestination(conninfo, schema="stage"), select_all(sqlite, ["Invoice"]))
    postgres = PostgresSource(conninfo, schema="stage")
    entry = select_all(postgres, ["Invoice"]).get("Invoice")
    for stamp in (SYNCED_AT_COLUMN, TABLE_VERSION_COLUMN):
        entry = entry.with_field_selected(stamp, False)
    lake = ParquetDestination(tmp_path / "lake", partition_by={"Invoice": ["BillingCountry"]})
    run_sync(postgres, lake, Catalog((entry,)), batch_size_rows=100)
    assert data_rows(lake.read_table("Invoice").to_pylist()) == chinook_rows(chinook, "Invoice")
    assert len({p.parent.name for p in lake.files("Invoice")}) == 24  # countries
