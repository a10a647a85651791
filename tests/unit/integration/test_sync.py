"""The replication logic against in-memory twins of a source and a destination."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

import weir.integration as integration
from weir.integration import (
    Catalog,
    CatalogEntry,
    CatalogError,
    Column,
    ColumnKind,
    Destination,
    LoadBatch,
    ReplicationMethod,
    Source,
    SourceError,
    State,
    SyncFailedError,
    TableSpec,
    UniqueConflictMethod,
    WriteDisposition,
    run_sync,
    stream_columns,
)
from weir.integration.columns import arrow_schema
from weir.integration.singer import MetadataEntry
from weir.integration.sync import _bookmark_after, _json_value, _prefetch, _whole_value_groups

COLUMNS = (Column("id", ColumnKind.BIGINT, False), Column("rk", ColumnKind.INTEGER))


class TwinSource(Source):
    """Serves a table held in memory; reads honour the bookmark like a real source."""

    def __init__(self, rows: list[dict[str, Any]], keys: tuple[str, ...] = ("id",)) -> None:
        self.rows, self.keys = rows, keys
        self.bookmarks: list[Mapping[str, Any] | None] = []

    def check(self) -> None:
        return None

    def discover(self, *, streams: Collection[str] | None = None) -> Catalog:
        props = {c.name: c.json_schema() for c in COLUMNS}
        root = MetadataEntry((), {"table-key-properties": list(self.keys)})
        entry = CatalogEntry("t", "t", {"type": "object", "properties": props}, (root,), self.keys)
        return Catalog((entry,) if streams is None or "t" in streams else ())

    def read(self, stream, *, bookmark, batch_size_rows) -> Iterator[pa.RecordBatch]:
        self.bookmarks.append(bookmark)
        rows = self.rows
        if stream.effective_replication_method is ReplicationMethod.INCREMENTAL:
            keys = [k for k in stream.effective_key_properties if k != "rk"]
            rows = sorted(rows, key=lambda r: (r["rk"], *(r[k] for k in keys)))
            if bookmark:
                after = (bookmark["replication_key_value"], *bookmark["key_values"].values())
                rows = [r for r in rows if (r["rk"], *(r[k] for k in keys)) > after]
        schema = arrow_schema(stream_columns(stream))
        for start in range(0, len(rows), batch_size_rows):
            yield pa.RecordBatch.from_pylist(rows[start : start + batch_size_rows], schema=schema)


class TwinDestination(Destination):
    """Keeps written batches and bookmarks; can fail after some batches."""

    def __init__(self) -> None:
        self.specs: list[TableSpec] = []
        self.rows: list[dict[str, Any]] = []
        self.bookmarks: dict[tuple[str, str], Mapping[str, Any]] = {}

    def check(self) -> None:
        return None

    def read_bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        return self.bookmarks.get((state_id, stream))

    def write(
        self,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        self.specs.append(spec)
        written = 0
        for batch in batches:
            self.rows.extend(batch.records.to_pylist())
            if batch.bookmark is not None:
                self.bookmarks[(spec.state_id, spec.stream)] = batch.bookmark
            written += batch.records.num_rows
            if on_batch:
                on_batch(batch.records.num_rows)
        return written


def catalog(source: TwinSource, **changes: Any) -> Catalog:
    cat = source.discover().with_selected(["t"])
    return cat.replace_entry(replace(cat.get("t"), **changes))


ROWS = [{"id": i, "rk": i // 3} for i in range(10)]


def test_full_table_replaces_with_a_version_bookmark():
    source, destination = TwinSource(ROWS), TwinDestination()
    result = run_sync(source, destination, catalog(source), batch_size_rows=4)
    spec = destination.specs[0]
    assert spec.disposition is WriteDisposition.REPLACE
    assert spec.merge_keys == ("id",)
    assert result.stream("t").rows == 10
    assert result.state.bookmark("t") == {"version": spec.version}
    assert source.bookmarks == [None]


def test_empty_full_table_still_commits_its_version():
    source, destination = TwinSource([]), TwinDestination()
    result = run_sync(source, destination, catalog(source))
    assert result.stream("t").bookmark == {"version": destination.specs[0].version}


def test_incremental_bookmarks_the_last_row_and_resumes_after_it():
    source, destination = TwinSource(ROWS), TwinDestination()
    cat = catalog(source, replication_method=ReplicationMethod.INCREMENTAL, replication_key="rk")
    seen = []
    run_sync(source, destination, cat, batch_size_rows=4, on_progress=seen.append)
    assert [(p.rows, p.batches) for p in seen] == [(4, 1), (8, 2), (10, 3)]
    assert destination.specs[0].disposition is WriteDisposition.MERGE_UPDATE
    bookmark = {"replication_key": "rk", "replication_key_value": 3, "key_values": {"id": 9}}
    assert destination.bookmarks[("default", "t")] == bookmark
    source.rows = [*ROWS, {"id": 10, "rk": 3}, {"id": 11, "rk": 4}]
    again = run_sync(source, destination, cat)
    assert source.bookmarks[-1] == bookmark
    assert again.stream("t").rows == 2


def test_initial_state_is_used_only_without_a_committed_bookmark():
    source, destination = TwinSource(ROWS), TwinDestination()
    cat = catalog(source, replication_method=ReplicationMethod.INCREMENTAL, replication_key="rk")
    given = {"replication_key": "rk", "replication_key_value": 2, "key_values": {"id": 7}}
    state = State.from_dict({"bookmarks": {"t": given}, "currently_syncing": None})
    result = run_sync(source, destination, cat, state=state)
    assert source.bookmarks == [given]
    assert result.stream("t").rows == 2
    assert result.state.extra == {"currently_syncing": None}
    run_sync(source, destination, cat, state=state)
    assert source.bookmarks[-1]["key_values"] == {"id": 9}


def test_bookmark_for_another_replication_key_is_ignored():
    source, destination = TwinSource(ROWS), TwinDestination()
    destination.bookmarks[("default", "t")] = {"replication_key": "id", "replication_key_value": 5}
    cat = catalog(source, replication_method=ReplicationMethod.INCREMENTAL, replication_key="rk")
    run_sync(source, destination, cat)
    assert source.bookmarks == [None]


@pytest.mark.parametrize(
    ("method", "keys", "expected"),
    [
        (UniqueConflictMethod.IGNORE, ("id",), WriteDisposition.MERGE_IGNORE),
        (None, ("id",), WriteDisposition.MERGE_UPDATE),
        (None, (), WriteDisposition.APPEND),
    ],
)
def test_disposition_follows_mage_conflict_method(method, keys, expected):
    source, destination = TwinSource(ROWS, keys=keys), TwinDestination()
    cat = catalog(
        source,
        replication_method=ReplicationMethod.INCREMENTAL,
        replication_key="rk",
        unique_conflict_method=method,
    )
    run_sync(source, destination, cat)
    assert destination.specs[0].disposition is expected


def test_failures_are_collected_per_stream_with_retriability():
    class Broken(TwinSource):
        def read(self, stream, *, bookmark, batch_size_rows):
            yield from super().read(stream, bookmark=bookmark, batch_size_rows=2)
            raise SourceError("lost connection", stream=stream.stream, retriable=True)

    source, destination = Broken(ROWS), TwinDestination()
    with pytest.raises(SyncFailedError) as caught:
        run_sync(source, destination, catalog(source))
    assert caught.value.retriable
    assert caught.value.result.stream("t").error is not None
    log_based = catalog(source, replication_method=ReplicationMethod.LOG_BASED)
    with pytest.raises(SyncFailedError) as fatal:
        run_sync(TwinSource(ROWS), destination, log_based)
    assert not fatal.value.retriable
    assert isinstance(fatal.value.result.stream("t").error, CatalogError)


def test_unknown_merge_keys_are_a_catalog_error():
    source = TwinSource(ROWS)
    with pytest.raises(SyncFailedError, match=r"key columns \['nope'\]"):
        run_sync(source, TwinDestination(), catalog(source, unique_constraints=("nope",)))


def batches_of(values: list[int], sizes: list[int]) -> list[pa.RecordBatch]:
    out, start = [], 0
    for size in sizes:
        chunk = values[start : start + size]
        out.append(pa.RecordBatch.from_pydict({"rk": chunk, "n": list(range(start, start + size))}))
        start += size
    return out


@pytest.mark.parametrize("sizes", [[1] * 12, [5, 7], [3, 3, 3, 3], [12], [2, 1, 4, 5]], ids=str)
def test_whole_value_groups_never_split_a_value(sizes):
    values = [1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3, 3]
    groups = list(_whole_value_groups(iter(batches_of(values, sizes)), "rk"))
    flat = [v for g in groups for v in g.column("rk").to_pylist()]
    assert flat == values
    assert [n for g in groups for n in g.column("n").to_pylist()] == list(range(12))
    lasts = [g.column("rk")[-1].as_py() for g in groups]
    firsts = [g.column("rk")[0].as_py() for g in groups]
    assert all(last != first for last, first in zip(lasts, firsts[1:], strict=False))


def test_bookmark_values_are_json():
    batch = pa.RecordBatch.from_pydict(
        {
            "at": pa.array(
                [datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)], pa.timestamp("us", "UTC")
            ),
            "amount": pa.array([Decimal("1.50")], pa.decimal128(5, 2)),
            "id": [7],
        }
    )
    assert _bookmark_after(batch, "at", ["amount", "id"]) == {
        "replication_key": "at",
        "replication_key_value": "2024-01-02T03:04:05.000006+00:00",
        "key_values": {"amount": "1.50", "id": 7},
    }
    assert _json_value(date(2024, 1, 2)) == "2024-01-02"


def test_prefetch_keeps_order_and_reraises():
    def items():
        yield 1
        yield 2
        raise ValueError("source broke")

    got: list[int] = []
    with pytest.raises(ValueError, match="source broke"):
        got.extend(_prefetch(items(), 2))
    assert got == [1, 2]


def test_prefetch_runs_bounded_ahead_and_closes_the_source_when_stopped_early():
    produced: list[int] = []
    closed = threading.Event()

    def items():
        try:
            for n in range(1000):
                produced.append(n)
                yield n
        finally:
            closed.set()

    stream = _prefetch(items(), 2)
    assert next(stream) == 0
    time.sleep(0.2)
    assert len(produced) <= 4  # one consumed, two queued, one waiting to be queued
    stream.close()
    assert closed.wait(5)
    assert len(produced) < 10


def test_public_surface_is_curated():
    assert sorted(integration.__all__) == sorted(set(integration.__all__))
    for name in integration.__all__:
        assert getattr(integration, name) is not None
    with pytest.raises(AttributeError):
        integration.NotAThing  # noqa: B018
