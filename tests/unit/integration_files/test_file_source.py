"""FileSource on the Titanic CSV and generated JSON lines and Parquet files."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from weir.integration import (
    CatalogError,
    ColumnKind,
    ConnectorConfigError,
    SourceError,
    run_sync,
    stream_columns,
)
from weir.integration.sources import files as files_module
from weir.integration.sources.files import FileSource

from .helpers import MemoryDestination, incremental, read_rows, select_all


def titanic_rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_discovers_the_titanic_csv_types(titanic):
    source = FileSource({"titanic": str(titanic)})
    source.check()
    entry = source.discover().get("titanic")
    kinds = {c.name: c.kind for c in stream_columns(entry)}
    assert kinds["PassengerId"] is ColumnKind.BIGINT
    assert kinds["Age"] is ColumnKind.DOUBLE
    assert kinds["Name"] is ColumnKind.TEXT
    assert list(kinds) == list(titanic_rows(titanic)[0])
    assert entry.key_properties == ()
    assert entry.field_metadata()["file-format"] == "csv"
    assert entry.field_metadata("Age")["arrow-datatype"] == "double"


def test_reads_every_titanic_row_in_bounded_batches(titanic):
    source = FileSource({"titanic": str(titanic)})
    rows, sizes = read_rows(source, select_all(source), "titanic", batch_size_rows=100)
    assert sizes == [100] * 8 + [91]
    expected = titanic_rows(titanic)
    assert len(rows) == len(expected) == 891
    for got, want in zip(rows, expected, strict=True):
        assert got["PassengerId"] == int(want["PassengerId"])
        assert got["Name"] == want["Name"]
        assert got["Age"] == (float(want["Age"]) if want["Age"] else None)
        assert got["Cabin"] == (want["Cabin"] or None)  # an unquoted empty field is NULL


def test_reading_is_streamed_block_by_block(titanic, monkeypatch):
    monkeypatch.setattr(files_module, "READ_BLOCK_BYTES", 4096)
    source = FileSource({"titanic": str(titanic)})
    seen = []
    original = files_module.conform

    def spy(batch, columns):
        seen.append(batch.num_rows)
        return original(batch, columns)

    monkeypatch.setattr(files_module, "conform", spy)
    rows, _ = read_rows(source, select_all(source), "titanic", batch_size_rows=10_000)
    assert len(rows) == 891
    assert len(seen) > 10  # the file was parsed 4 KB at a time, never as one block
    assert max(seen) < 100


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_json_lines_nested_values_become_json_text(tmp_path):
    write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"id": 1, "at": "2024-01-01T00:00:00Z", "doc": {"tags": ["x"]}, "n": None},
            {"id": 2, "at": "2024-01-02T00:00:00Z", "doc": None, "n": 2.5},
        ],
    )
    source = FileSource({"events": str(tmp_path / "*.jsonl")})
    catalog = select_all(source)
    kinds = {c.name: c.kind for c in stream_columns(catalog.get("events"))}
    assert kinds == {
        "id": ColumnKind.BIGINT,
        "at": ColumnKind.TIMESTAMP,
        "doc": ColumnKind.JSON,
        "n": ColumnKind.DOUBLE,
    }
    rows, _ = read_rows(source, catalog, "events")
    assert rows[0]["doc"] == '{"tags":["x"]}'
    assert rows[1]["at"] == datetime(2024, 1, 2, tzinfo=UTC)


def test_parquet_glob_unifies_schemas(tmp_path):
    folder = tmp_path / "orders"
    folder.mkdir()
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1, 2], pa.int32()),
                "day": pa.array([date(2024, 1, 1)] * 2),
                "ts": pa.array([datetime(2024, 1, 1, 12)] * 2, pa.timestamp("ns")),
                "cat": pa.array(["a", "b"]).dictionary_encode(),
            }
        ),
        folder / "part-1.parquet",
    )
    pq.write_table(
        pa.table({"id": pa.array([3], pa.int64()), "extra": ["x"], "cat": [None]}),
        folder / "part-2.parquet",
    )
    source = FileSource({"orders": str(folder / "*.parquet")})
    catalog = select_all(source)
    entry = catalog.get("orders")
    assert entry.field_metadata()["row-count"] == 3
    kinds = {c.name: c.kind for c in stream_columns(entry)}
    assert kinds == {
        "id": ColumnKind.BIGINT,
        "day": ColumnKind.DATE,
        "ts": ColumnKind.TIMESTAMP,
        "cat": ColumnKind.TEXT,
        "extra": ColumnKind.TEXT,
    }
    rows, _ = read_rows(source, catalog, "orders")
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert rows[0]["ts"] == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert [r["cat"] for r in rows] == ["a", "b", None]
    assert [r["extra"] for r in rows] == [None, None, "x"]


def test_conflicting_types_across_files_become_text(tmp_path):
    write_jsonl(tmp_path / "1.jsonl", [{"code": 7}])
    write_jsonl(tmp_path / "2.jsonl", [{"code": "A7"}])
    source = FileSource({"codes": str(tmp_path / "*.jsonl")})
    catalog = select_all(source)
    assert stream_columns(catalog.get("codes"))[0].kind is ColumnKind.TEXT
    rows, _ = read_rows(source, catalog, "codes")
    assert [r["code"] for r in rows] == ["7", "A7"]


def make_scores(tmp_path, fmt):
    """Three files, rows out of order, eight rows per score value, some without a score."""
    rows = [{"id": i, "score": (i * 37 % 60) // 8, "name": f"n{i}"} for i in range(1, 61)]
    rows.append({"id": 61, "score": None, "name": "no score"})
    for part in range(3):
        chunk = rows[part::3]
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pylist(chunk), tmp_path / f"s{part}.parquet")
        else:
            write_jsonl(tmp_path / f"s{part}.jsonl", chunk)
    return FileSource({"scores": str(tmp_path / f"s*.{fmt}")})


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
@pytest.mark.parametrize("batch_size_rows", [1, 5, 8, 1000])
@pytest.mark.parametrize("keys", [("id",), ()], ids=["keyed", "keyless"])
def test_incremental_filters_and_sorts_each_row_once(tmp_path, fmt, batch_size_rows, keys):
    source = make_scores(tmp_path, fmt)
    catalog = incremental(select_all(source), "scores", "score", keys=keys)
    destination = MemoryDestination()
    run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    got = [(r["score"], r["id"]) for r in destination.tables["scores"]]
    assert sorted(i for _, i in got) == list(range(1, 61))
    assert [s for s, _ in got] == sorted(s for s, _ in got)
    if keys:
        assert got == sorted(got)
    # A re-scan reads nothing new; a row appended with the last value is read only with keys.
    run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    assert len(destination.tables["scores"]) == 60
    extra = {"id": 99, "score": 7, "name": "late"}
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist([extra]), tmp_path / "s9.parquet")
    else:
        write_jsonl(tmp_path / "s9.jsonl", [extra])
    run_sync(source, destination, catalog, batch_size_rows=batch_size_rows)
    assert len(destination.tables["scores"]) == (61 if keys else 60)


def test_incremental_resumes_after_the_bookmarked_row(tmp_path):
    source = make_scores(tmp_path, "parquet")
    catalog = incremental(select_all(source), "scores", "score", keys=("id",))
    bookmark = {"replication_key": "score", "replication_key_value": 6, "key_values": {"id": 30}}
    rows, _ = read_rows(source, catalog, "scores", bookmark=bookmark, batch_size_rows=4)
    got = [(r["score"], r["id"]) for r in rows]
    assert got[0][0] == 6
    assert got[0][1] > 30
    assert all(pair > (6, 30) for pair in got)
    every, _ = read_rows(source, catalog, "scores")
    assert len(got) == sum(1 for r in every if (r["score"], r["id"]) > (6, 30))


def test_incremental_titanic_by_age_with_passenger_keys(titanic):
    source = FileSource({"titanic": str(titanic)})
    catalog = incremental(select_all(source), "titanic", "Age", keys=("PassengerId",))
    destination = MemoryDestination()
    result = run_sync(source, destination, catalog, batch_size_rows=1)
    with_age = [r for r in titanic_rows(titanic) if r["Age"]]
    assert result.stream("titanic").rows == len(with_age) == 714
    bookmark = result.stream("titanic").bookmark
    oldest = max(with_age, key=lambda r: (float(r["Age"]), int(r["PassengerId"])))
    assert bookmark["replication_key_value"] == float(oldest["Age"])
    assert bookmark["key_values"] == {"PassengerId": int(oldest["PassengerId"])}


def test_a_late_value_that_breaks_the_inferred_type_fails_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(files_module, "INFER_BLOCK_BYTES", 64)
    monkeypatch.setattr(files_module, "READ_BLOCK_BYTES", 64)
    path = tmp_path / "n.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(100)) + "oops\n")
    source = FileSource({"n": str(path)})
    catalog = select_all(source)
    assert stream_columns(catalog.get("n"))[0].kind is ColumnKind.BIGINT
    with pytest.raises(SourceError, match=r"n\.csv"):
        read_rows(source, catalog, "n")
    # The same error, raised while DuckDB sorts an INCREMENTAL stream, comes out as itself.
    with pytest.raises(SourceError, match=r"^stream 'n': reading file .*n\.csv failed"):
        read_rows(source, incremental(catalog, "n", "n"), "n")


def test_configuration_errors(tmp_path):
    with pytest.raises(ConnectorConfigError, match="no files match"):
        FileSource({"a": str(tmp_path / "*.csv")}).check()
    assert FileSource({"a": str(tmp_path / "*.csv")}).discover().streams == ()
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ConnectorConfigError, match="csv, jsonl or parquet"):
        FileSource({"a": str(tmp_path / "a.txt")}).check()
    FileSource({"a": str(tmp_path / "a.txt")}, file_format="csv").check()
    with pytest.raises(ValueError, match="file_format"):
        FileSource({}, file_format="xml")  # type: ignore[arg-type]
    (tmp_path / "b.csv").write_text("id\n1\n")
    source = FileSource({"b": str(tmp_path / "b.csv")})
    catalog = incremental(select_all(source), "b", "nope")
    with pytest.raises(CatalogError, match="replication_key"):
        read_rows(source, catalog, "b")
