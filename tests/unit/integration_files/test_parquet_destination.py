"""ParquetDestination: manifest commits, REPLACE swaps, merges, partitions, orphans, locks."""

from __future__ import annotations

import fcntl
import sqlite3

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from weir.integration import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    ConnectorConfigError,
    DestinationError,
    LoadBatch,
    SchemaChangeError,
    SourceError,
    SyncFailedError,
    TableSpec,
    UniqueConflictMethod,
    WriteDisposition,
    run_sync,
)
from weir.integration.columns import Column, ColumnKind, arrow_schema
from weir.integration.destinations import parquet as parquet_module
from weir.integration.destinations.parquet import LOCK_FILE, MANIFEST_FILE, ParquetDestination
from weir.integration.sources.sqlite import SQLiteSource

from .helpers import incremental, select_all


def make_orders(tmp_path, count=40):
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT NOT NULL, day DATE, "
            "amount NUMERIC(8,2), updated INTEGER)"
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            [
                (i, ["north", "south", "east/west"][i % 3], f"2024-01-{1 + i % 4:02d}", i * 1.5, i)
                for i in range(1, count + 1)
            ],
        )
    conn.close()
    return path


def execute(path, *statements):
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def by_id(lake, table="orders"):
    return {r["id"]: r for r in lake.read_table(table).to_pylist()}


def parquet_files_on_disk(folder):
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix != ".json" and p.name != LOCK_FILE
    )


def test_full_table_writes_a_manifest_and_replaces_atomically(tmp_path):
    path = make_orders(tmp_path)
    source = SQLiteSource(path)
    lake = ParquetDestination(tmp_path / "lake")
    lake.check()
    first = run_sync(source, lake, select_all(source), batch_size_rows=15)
    table = lake.read_table("orders")
    assert table.num_rows == 40
    assert table.schema.names == [
        "id",
        "region",
        "day",
        "amount",
        "updated",
        SYNCED_AT_COLUMN,
        TABLE_VERSION_COLUMN,
    ]
    version = first.stream("orders").bookmark["version"]
    assert set(table.column(TABLE_VERSION_COLUMN).to_pylist()) == {version}
    assert len(set(table.column(SYNCED_AT_COLUMN).to_pylist())) == 1  # one load, one stamp
    assert len(lake.files("orders")) == 3  # one file per batch
    old_dir = lake.files("orders")[0].parent
    execute(path, "DELETE FROM orders WHERE id > 10")
    second = run_sync(source, lake, select_all(source))
    assert sorted(by_id(lake)) == list(range(1, 11))
    assert not old_dir.exists()  # the old version's folder is gone after the swap
    assert second.stream("orders").bookmark["version"] > version
    manifest = orjson.loads((tmp_path / "lake" / "orders" / MANIFEST_FILE).read_bytes())
    assert manifest["bookmarks"] == {"default/orders": second.stream("orders").bookmark}
    assert lake.read_bookmark("default", "orders") == second.stream("orders").bookmark


class DyingSource(SQLiteSource):
    """Fails after `after` batches, as if the source went away."""

    def __init__(self, path, after=2):
        super().__init__(path)
        self.after = after

    def read(self, stream, *, bookmark, batch_size_rows):
        batches = super().read(stream, bookmark=bookmark, batch_size_rows=batch_size_rows)
        for index, batch in enumerate(batches):
            if index == self.after:
                raise SourceError("connection reset", stream=stream.stream, retriable=True)
            yield batch


def test_a_failed_full_table_load_keeps_the_old_table_and_its_files_are_swept(tmp_path):
    path = make_orders(tmp_path)
    lake = ParquetDestination(tmp_path / "lake")
    catalog = select_all(SQLiteSource(path))
    run_sync(SQLiteSource(path), lake, catalog)
    before = lake.read_table("orders")
    execute(path, "UPDATE orders SET region = 'changed'")
    with pytest.raises(SyncFailedError, match="connection reset"):
        run_sync(DyingSource(path), lake, catalog, batch_size_rows=5)
    assert lake.read_table("orders") == before
    folder = tmp_path / "lake" / "orders"
    assert len(parquet_files_on_disk(folder)) == 1 + 2  # the committed file, two staged ones
    run_sync(SQLiteSource(path), lake, catalog)
    assert {r["region"] for r in lake.read_table("orders").to_pylist()} == {"changed"}
    assert parquet_files_on_disk(folder) == sorted(lake.files("orders"))


def test_incremental_update_and_ignore_merge_on_keys(tmp_path):
    path = make_orders(tmp_path, count=12)
    source = SQLiteSource(path)
    update = incremental(select_all(source), "orders", "updated")
    lake = ParquetDestination(tmp_path / "lake")
    run_sync(source, lake, update, batch_size_rows=4)
    execute(
        path,
        "UPDATE orders SET region = 'moved', updated = 100 WHERE id IN (2, 7)",
        "INSERT INTO orders VALUES (13, 'new', '2024-02-01', 1.25, 101), (14, 'new', NULL, NULL, 101)",
    )
    result = run_sync(source, lake, update, batch_size_rows=3)
    assert result.stream("orders").rows == 4
    rows = by_id(lake)
    assert sorted(rows) == list(range(1, 15))
    assert (rows[2]["region"], rows[7]["region"], rows[13]["region"]) == ("moved", "moved", "new")
    # IGNORE keeps what is there.
    ignore = incremental(
        select_all(source), "orders", "updated", unique_conflict_method=UniqueConflictMethod.IGNORE
    )
    other = ParquetDestination(tmp_path / "other")
    execute(path, "UPDATE orders SET updated = 0")
    run_sync(source, other, ignore)
    execute(path, "UPDATE orders SET region = 'ignored', updated = 200 WHERE id = 1")
    run_sync(source, other, ignore)
    assert by_id(other)[1]["region"] == "south"
    assert len(by_id(other)) == 14


def test_append_without_keys_commits_each_batch_with_its_bookmark(tmp_path):
    path = make_orders(tmp_path, count=9)
    execute(
        path,
        "CREATE TABLE log AS SELECT id, region, updated FROM orders",  # no primary key
    )
    source = SQLiteSource(path)
    catalog = incremental(select_all(source, ["log"]), "log", "updated")
    lake = ParquetDestination(tmp_path / "lake")
    seen = []
    run_sync(source, lake, catalog, batch_size_rows=2, on_progress=lambda p: seen.append(p.rows))
    assert seen == [2, 4, 6, 8, 9]
    manifest = orjson.loads((tmp_path / "lake" / "log" / MANIFEST_FILE).read_bytes())
    assert manifest["generation"] == 5
    assert manifest["bookmarks"]["default/log"]["replication_key_value"] == 9
    assert len(lake.read_table("log")) == 9


def test_schema_evolution_adds_widens_and_refuses(tmp_path):
    lake = ParquetDestination(tmp_path / "lake")
    narrow = [Column("id", ColumnKind.INTEGER, False), Column("name", ColumnKind.TEXT)]

    def spec(columns):
        return TableSpec("t", "t", tuple(columns), ("id",), WriteDisposition.MERGE_UPDATE, "s")

    def batch(columns, rows):
        return [LoadBatch(pa.RecordBatch.from_pylist(rows, schema=arrow_schema(columns)))]

    lake.write(spec(narrow), batch(narrow, [{"id": 1, "name": "a"}]))
    wide = [
        Column("id", ColumnKind.BIGINT, False),
        Column("name", ColumnKind.TEXT),
        Column("n", ColumnKind.DOUBLE),
    ]
    lake.write(spec(wide), batch(wide, [{"id": 2**40, "name": "b", "n": 0.5}]))
    table = lake.read_table("t")
    assert table.schema.field("id").type == pa.int64()
    assert table.to_pylist()[0] == {
        "id": 1,
        "name": "a",
        SYNCED_AT_COLUMN: table.to_pylist()[0][SYNCED_AT_COLUMN],
        "n": None,
    }
    assert sorted(table.column("id").to_pylist()) == [1, 2**40]
    clash = [Column("id", ColumnKind.BIGINT, False), Column("name", ColumnKind.DATE)]
    before = (tmp_path / "lake" / "t" / MANIFEST_FILE).read_bytes()
    with pytest.raises(SchemaChangeError, match="'name' TEXT -> DATE"):
        lake.write(spec(clash), batch(clash, []))
    assert (tmp_path / "lake" / "t" / MANIFEST_FILE).read_bytes() == before


def test_partitioned_layout_is_hive_style_and_readable_by_duckdb(tmp_path):
    path = make_orders(tmp_path, count=30)
    source = SQLiteSource(path)
    lake = ParquetDestination(tmp_path / "lake", partition_by={"orders": ["region", "day"]})
    run_sync(source, lake, select_all(source), batch_size_rows=100)
    folder = tmp_path / "lake" / "orders"
    partitions = {p.relative_to(folder).parts[1:3] for p in lake.files("orders")}
    assert partitions == {
        (f"region={r}", f"day=2024-01-0{d}")
        for r in ("north", "south", "east%2Fwest")
        for d in range(1, 5)
    }
    some_file = lake.files("orders")[0]
    assert "region" not in pq.read_schema(some_file).names  # Hive: the value lives in the path
    rows = by_id(lake)
    assert rows[3]["region"] == "north"
    assert rows[5]["region"] == "east/west"
    assert str(rows[5]["day"]) == "2024-01-02"
    files = [str(p) for p in lake.files("orders")]
    with duckdb.connect() as conn:
        counted = conn.execute(
            "SELECT region, count(*) FROM read_parquet(?, hive_partitioning = true) "
            "GROUP BY region ORDER BY region",
            [files],
        ).fetchall()
    assert counted == [("east/west", 10), ("north", 10), ("south", 10)]


def test_merge_rewrites_only_the_partitions_the_batch_touches(tmp_path):
    path = make_orders(tmp_path, count=30)
    execute(path, "CREATE TABLE o2 (id INTEGER, region TEXT, v INTEGER, PRIMARY KEY (region, id))")
    execute(path, "INSERT INTO o2 SELECT id, region, updated FROM orders")
    source = SQLiteSource(path)
    catalog = incremental(select_all(source, ["o2"]), "o2", "v")
    lake = ParquetDestination(tmp_path / "lake", partition_by={"o2": ["region"]})
    run_sync(source, lake, catalog)
    before = {p.parent.name: p for p in lake.files("o2")}
    execute(path, "UPDATE o2 SET v = 99 WHERE id = 3")  # a north row
    run_sync(source, lake, catalog)
    after = {}
    for p in lake.files("o2"):
        after.setdefault(p.parent.name, []).append(p)
    assert after["region=south"] == [before["region=south"]]  # untouched
    assert after["region=east%2Fwest"] == [before["region=east%2Fwest"]]
    assert before["region=north"] not in after["region=north"]  # rewritten
    rows = lake.read_table("o2").to_pylist()
    assert len(rows) == 30
    assert [r["v"] for r in rows if r["id"] == 3] == [99]


def test_orphans_of_a_crash_are_never_read_and_are_deleted_by_the_next_write(tmp_path, monkeypatch):
    path = make_orders(tmp_path, count=20)
    source = SQLiteSource(path)
    catalog = incremental(select_all(source), "orders", "updated")
    lake = ParquetDestination(tmp_path / "lake")
    commits = []
    real_commit = parquet_module.commit_manifest

    def dies_on_third(folder, manifest):
        commits.append(manifest.generation)
        if len(commits) == 3:
            raise OSError("disk vanished")  # after the batch's files were renamed in place
        real_commit(folder, manifest)

    monkeypatch.setattr(parquet_module, "commit_manifest", dies_on_third)
    with pytest.raises(SyncFailedError, match="disk vanished"):
        run_sync(source, lake, catalog, batch_size_rows=5)
    monkeypatch.setattr(parquet_module, "commit_manifest", real_commit)
    folder = tmp_path / "lake" / "orders"
    assert sorted(r["id"] for r in lake.read_table("orders").to_pylist()) == list(range(1, 11))
    assert lake.read_bookmark("default", "orders")["replication_key_value"] == 10
    on_disk = parquet_files_on_disk(folder)
    assert len(on_disk) == 3  # two committed, one orphan
    (folder / ".stray.parquet.tmp").write_bytes(b"half a file")
    (folder / "v9-deadbeef").mkdir()
    (folder / "v9-deadbeef" / "part.parquet").write_bytes(b"old version")
    result = run_sync(source, lake, catalog, batch_size_rows=5)
    assert result.stream("orders").rows == 10
    assert sorted(r["id"] for r in lake.read_table("orders").to_pylist()) == list(range(1, 21))
    assert parquet_files_on_disk(folder) == sorted(lake.files("orders"))
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [
        lake.files("orders")[0].parent.name
    ]


def test_one_writer_per_table(tmp_path):
    lake = ParquetDestination(tmp_path / "lake")
    columns = (Column("id", ColumnKind.BIGINT),)
    spec = TableSpec("t", "t", columns, (), WriteDisposition.APPEND, "s")
    (tmp_path / "lake" / "t").mkdir(parents=True)
    with (tmp_path / "lake" / "t" / LOCK_FILE).open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(DestinationError, match="another sync") as caught:
            lake.write(spec, [])
        assert caught.value.retriable
    assert lake.write(spec, [LoadBatch(pa.record_batch([pa.array([1])], names=["id"]))]) == 1


def test_configuration_errors(tmp_path):
    with pytest.raises(TypeError, match="partition_by"):
        ParquetDestination(tmp_path, partition_by="day")  # type: ignore[arg-type]
    columns = (Column("id", ColumnKind.BIGINT), Column("at", ColumnKind.TIMESTAMP))
    lake = ParquetDestination(tmp_path / "lake", partition_by={"t": ["at"]})
    spec = TableSpec("t", "t", columns, (), WriteDisposition.APPEND, "s")
    with pytest.raises(ConnectorConfigError, match="cannot partition by"):
        lake.write(spec, [])
    one = pa.RecordBatch.from_pylist([{"id": 1, "at": None}], schema=arrow_schema(columns))
    ParquetDestination(tmp_path / "lake").write(spec, [LoadBatch(one)])
    with pytest.raises(ConnectorConfigError, match="partitioned by"):
        ParquetDestination(tmp_path / "lake", partition_by={"t": "id"}).write(spec, [])
    stamped = (*columns, Column(SYNCED_AT_COLUMN, ColumnKind.TIMESTAMP))
    with pytest.raises(ConnectorConfigError, match="deselect"):
        lake.write(TableSpec("u", "u", stamped, (), WriteDisposition.APPEND, "s"), [])
    with pytest.raises(ConnectorConfigError, match="folder name"):
        lake.write(TableSpec("u", "../u", columns, (), WriteDisposition.APPEND, "s"), [])
    (tmp_path / "file").write_text("")
    with pytest.raises(ConnectorConfigError, match="cannot write"):
        ParquetDestination(tmp_path / "file" / "lake").check()
    assert ParquetDestination(tmp_path / "nothing").read_bookmark("s", "t") is None


def test_bookmarks_are_kept_per_state_id_and_found_under_another_table_name(tmp_path):
    lake = ParquetDestination(tmp_path / "lake")
    columns = (Column("id", ColumnKind.BIGINT),)
    rows = pa.record_batch([pa.array([1])], names=["id"])
    for state_id in ("a", "b"):
        spec = TableSpec("events", "ev_table", columns, (), WriteDisposition.APPEND, state_id)
        lake.write(spec, [LoadBatch(rows, {"replication_key_value": state_id})])
    assert lake.read_bookmark("a", "events") == {"replication_key_value": "a"}
    assert lake.read_bookmark("b", "events") == {"replication_key_value": "b"}
    assert lake.read_bookmark("c", "events") is None
