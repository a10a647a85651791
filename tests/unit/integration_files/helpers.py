"""Catalog helpers and an in-memory destination shared by the tests of this package."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import pyarrow as pa

from weir.integration import (
    Catalog,
    Destination,
    LoadBatch,
    ReplicationMethod,
    Source,
    TableSpec,
)


def select_all(source: Source, streams: list[str] | None = None) -> Catalog:
    catalog = source.discover(streams=streams)
    return catalog.with_selected([e.tap_stream_id for e in catalog.streams])


def with_entry(catalog: Catalog, stream: str, **changes: Any) -> Catalog:
    return catalog.replace_entry(replace(catalog.get(stream), **changes))


def incremental(catalog: Catalog, stream: str, key: str, keys=None, **changes) -> Catalog:
    if keys is not None:
        changes["key_properties"] = tuple(keys)
    return with_entry(
        catalog,
        stream,
        replication_method=ReplicationMethod.INCREMENTAL,
        replication_key=key,
        **changes,
    )


def read_rows(source: Source, catalog: Catalog, stream: str, bookmark=None, batch_size_rows=1000):
    """Every row the source yields, and the batch sizes."""
    rows, sizes = [], []
    for batch in source.read(
        catalog.get(stream), bookmark=bookmark, batch_size_rows=batch_size_rows
    ):
        rows += batch.to_pylist()
        sizes.append(batch.num_rows)
    return rows, sizes


class MemoryDestination(Destination):
    """Keeps every written batch in memory; bookmarks are committed with their batch."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.bookmarks: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.batches: list[pa.RecordBatch] = []

    def check(self) -> None:
        pass

    def read_bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        return self.bookmarks.get((state_id, stream))

    def write(
        self,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        rows = self.tables.setdefault(spec.table, [])
        total = 0
        for batch in batches:
            self.batches.append(batch.records)
            rows += batch.records.to_pylist()
            if batch.bookmark is not None:
                self.bookmarks[(spec.state_id, spec.stream)] = batch.bookmark
            total += batch.records.num_rows
        return total


def chinook_rows(path, table: str) -> list[tuple[Any, ...]]:
    """A Chinook table's rows read with sqlite3 and converted by hand (the expectation).

    DATETIME text becomes a UTC datetime and NUMERIC(10,2) REAL values two-decimal Decimals;
    rows come sorted.
    """
    import sqlite3
    from datetime import UTC, datetime
    from decimal import Decimal

    with sqlite3.connect(path) as conn:
        declared = [r[2].upper() for r in conn.execute(f'PRAGMA table_info("{table}")')]
        rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
    conn.close()

    def convert(value: Any, kind: str) -> Any:
        if value is None:
            return None
        if kind == "DATETIME":
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        if kind.startswith("NUMERIC"):
            return Decimal(repr(value)).quantize(Decimal("0.01"))
        return value

    return sorted(
        (tuple(convert(v, k) for v, k in zip(row, declared, strict=True)) for row in rows),
        key=repr,
    )


def data_rows(rows: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as sorted tuples, without Weir's `_weir_*` columns."""
    return sorted(
        (tuple(v for k, v in row.items() if not k.startswith("_weir_")) for row in rows), key=repr
    )
