"""Whole syncs between the embedded connectors: SQLite, DuckDB and files into DuckDB and Parquet."""

from __future__ import annotations

import sqlite3

import duckdb
import pytest

from weir.integration import DuckDBDestination, run_sync
from weir.integration.destinations.parquet import ParquetDestination
from weir.integration.sources.duckdb import DuckDBSource
from weir.integration.sources.files import FileSource
from weir.integration.sources.sqlite import SQLiteSource

from .helpers import chinook_rows, data_rows, incremental, select_all
from .test_sqlite_source import CHINOOK_COUNTS


def duck_rows(path, table, schema="raw"):
    with duckdb.connect(str(path)) as conn:
        return conn.sql(f'SELECT * FROM {schema}."{table}"').to_arrow_table().to_pylist()


def test_chinook_sqlite_to_duckdb_then_duckdb_to_parquet(chinook, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    result = run_sync(
        SQLiteSource(chinook),
        DuckDBDestination(warehouse, schema="raw"),
        select_all(SQLiteSource(chinook)),
        batch_size_rows=1000,
    )
    assert {s.stream: s.rows for s in result.streams} == CHINOOK_COUNTS
    for table in CHINOOK_COUNTS:
        assert data_rows(duck_rows(warehouse, table)) == chinook_rows(chinook, table), table
    # ... and on from that DuckDB file into Parquet files.
    lake = ParquetDestination(tmp_path / "lake")
    source = DuckDBSource(warehouse, schema="raw")
    result = run_sync(source, lake, select_all(source), batch_size_rows=700)
    assert {s.stream: s.rows for s in result.streams} == CHINOOK_COUNTS
    for table in CHINOOK_COUNTS:
        assert data_rows(lake.read_table(table).to_pylist()) == chinook_rows(chinook, table)


def test_chinook_incremental_catches_inserts_and_updates(chinook, tmp_path):
    source = SQLiteSource(chinook)
    catalog = incremental(select_all(source, ["Track"]), "Track", "TrackId")
    lake = ParquetDestination(tmp_path / "lake")
    assert run_sync(source, lake, catalog, batch_size_rows=500).stream("Track").rows == 3503
    with sqlite3.connect(chinook) as conn:
        conn.execute(
            "INSERT INTO Track (TrackId, Name, MediaTypeId, Milliseconds, UnitPrice) "
            "SELECT TrackId + 10000, Name || ' (live)', MediaTypeId, Milliseconds, 1.29 "
            "FROM Track WHERE TrackId <= 1000"
        )
        # Updates are only seen by an incremental sync when their key moves past the bookmark:
        # move 100 tracks to new ids (delete + insert), as an append-only table would.
        conn.execute(
            "UPDATE Track SET TrackId = TrackId + 20000, Name = 'moved' WHERE TrackId <= 100"
        )
    conn.close()
    result = run_sync(source, lake, catalog, batch_size_rows=300)
    assert result.stream("Track").rows == 1100
    copied = {r["TrackId"]: r for r in lake.read_table("Track").to_pylist()}
    assert len(copied) == 3503 + 1100  # the old ids 1..100 stay: incremental never deletes
    assert copied[20001]["Name"] == "moved"
    assert copied[11000]["Name"].endswith("(live)")
    assert result.stream("Track").bookmark["replication_key_value"] == 20100


@pytest.mark.parametrize("batch_size_rows", [1, 3, 64])
@pytest.mark.parametrize("primary_key", [True, False], ids=["keyed", "keyless"])
@pytest.mark.parametrize("target", ["parquet", "duckdb"])
def test_ties_whatever_the_batch_size(tmp_path, batch_size_rows, primary_key, target):
    """Ten rows per replication-key value, inserted out of order; then new rows."""
    path = tmp_path / "ev.sqlite"
    key = "PRIMARY KEY" if primary_key else ""
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE ev (id INTEGER {key}, grp INTEGER, v TEXT)")
        conn.executemany(
            "INSERT INTO ev VALUES (?, ?, ?)", [(i, i // 10, f"v{i}") for i in range(80, 0, -1)]
        )
    conn.close()
    source = SQLiteSource(path)
    catalog = incremental(select_all(source), "ev", "grp")
    lake = ParquetDestination(tmp_path / "lake")
    warehouse = tmp_path / "warehouse.duckdb"
    destination = lake if target == "parquet" else DuckDBDestination(warehouse, schema="raw")
    run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO ev VALUES (81, 9, 'new'), (82, 10, 'newer')")
    conn.close()
    run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    if target == "duckdb":
        assert sorted(r["id"] for r in duck_rows(warehouse, "ev")) == list(range(1, 83))
        return
    assert sorted(r["id"] for r in lake.read_table("ev").to_pylist()) == list(range(1, 83))
    assert sorted(f.name for f in (tmp_path / "lake" / "ev").rglob("*.parquet")) == sorted(
        p.name for p in lake.files("ev")
    )


def test_titanic_and_generated_files_into_duckdb_and_parquet(titanic, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text("".join(f'{{"id": {i}, "doc": {{"n": {i}}}}}\n' for i in range(50)))
    source = FileSource({"titanic": str(titanic), "events": str(events)})
    catalog = select_all(source)
    warehouse = tmp_path / "warehouse.duckdb"
    lake = ParquetDestination(tmp_path / "lake", partition_by={"titanic": ["Pclass", "Sex"]})
    for destination in (DuckDBDestination(warehouse, schema="raw"), lake):
        result = run_sync(source, destination, catalog, batch_size_rows=200)
        assert {s.stream: s.rows for s in result.streams} == {"titanic": 891, "events": 50}
    in_duck = duck_rows(warehouse, "titanic")
    in_lake = lake.read_table("titanic").to_pylist()
    assert data_rows(in_duck) == data_rows(in_lake)
    assert sum(r["Fare"] for r in in_lake) == pytest.approx(28693.9493)
    partitions = {
        p.relative_to(tmp_path / "lake" / "titanic").parts[1:3] for p in lake.files("titanic")
    }
    assert partitions == {
        (f"Pclass={c}", f"Sex={s}") for c in (1, 2, 3) for s in ("female", "male")
    }
    assert duck_rows(warehouse, "events")[3]["doc"] == '{"n":3}'
