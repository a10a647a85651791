"""In-memory connectors for engine tests, registered as `memory` in the connector registry.

Tests put a `MemorySource` / `MemoryDestination` into `SOURCES` / `DESTINATIONS` under a name
and point a YAML block at it with `config: {name: ...}`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from weir.integration import (
    Catalog,
    CatalogEntry,
    Column,
    ColumnKind,
    ConnectorConfigError,
    Destination,
    DestinationError,
    LoadBatch,
    ReplicationMethod,
    Source,
    TableSpec,
    WriteDisposition,
    stream_columns,
)
from weir.integration.columns import arrow_schema
from weir.integration.registry import (
    ConnectorConfig,
    ConnectorContext,
    register_destination,
    register_source,
)
from weir.integration.singer import MetadataEntry

SOURCES: dict[str, MemorySource] = {}
DESTINATIONS: dict[str, MemoryDestination] = {}

_KINDS = {
    pa.int64(): ColumnKind.BIGINT,
    pa.int32(): ColumnKind.INTEGER,
    pa.string(): ColumnKind.TEXT,
    pa.float64(): ColumnKind.DOUBLE,
    pa.bool_(): ColumnKind.BOOLEAN,
}


def _column(field: pa.Field) -> Column:
    if pa.types.is_decimal(field.type):
        t = field.type
        return Column(field.name, ColumnKind.DECIMAL, precision=t.precision, scale=t.scale)
    return Column(field.name, _KINDS[field.type])


class MemorySource(Source):
    def __init__(self, tables: dict[str, pa.Table], keys: Mapping[str, list[str]]) -> None:
        self.tables, self.keys = tables, keys
        self.check_error: Exception | None = None
        self.read_error: dict[str, Exception] = {}

    def check(self) -> None:
        if self.check_error is not None:
            raise self.check_error

    def discover(self, *, streams: Collection[str] | None = None) -> Catalog:
        entries = []
        for name, table in self.tables.items():
            if streams is not None and name not in streams:
                continue
            columns = [_column(f) for f in table.schema]
            keys = list(self.keys.get(name, []))
            root = {"table-key-properties": keys, "row-count": table.num_rows}
            crumbs = [MetadataEntry((), root)] + [
                MetadataEntry(("properties", c.name), {"inclusion": "available"}) for c in columns
            ]
            entries.append(
                CatalogEntry(
                    tap_stream_id=name,
                    stream=name,
                    schema={
                        "type": "object",
                        "properties": {c.name: c.json_schema() for c in columns},
                    },
                    metadata=tuple(crumbs),
                    key_properties=tuple(keys),
                )
            )
        return Catalog(tuple(entries))

    def read(
        self, stream: CatalogEntry, *, bookmark: Mapping[str, Any] | None, batch_size_rows: int
    ) -> Iterator[pa.RecordBatch]:
        if stream.stream in self.read_error:
            raise self.read_error[stream.stream]
        table = self.tables[stream.stream]
        schema = arrow_schema(stream_columns(stream))
        table = table.select(schema.names).cast(schema)
        if stream.effective_replication_method is ReplicationMethod.INCREMENTAL:
            key = stream.effective_replication_key
            ties = [k for k in stream.effective_key_properties if k != key]
            order = [(c, "ascending") for c in [key, *ties]]
            table = table.sort_by(order)
            if bookmark:
                table = _after(table, key, ties, bookmark)
        yield from table.to_batches(max_chunksize=batch_size_rows)


def _after(table: pa.Table, key: str, ties: list[str], bookmark: Mapping[str, Any]) -> pa.Table:
    rows = table.to_pylist()
    position = [bookmark["replication_key_value"]] + [
        bookmark.get("key_values", {}).get(t) for t in ties
    ]
    kept = [r for r in rows if [r[key]] + [r[t] for t in ties] > position]
    return pa.Table.from_pylist(kept, schema=table.schema)


class MemoryDestination(Destination):
    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.bookmarks: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.batches: dict[str, int] = {}
        self.fail_streams: set[str] = set()
        self.check_error: Exception | None = None

    def check(self) -> None:
        if self.check_error is not None:
            raise self.check_error

    def read_bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        return self.bookmarks.get((state_id, stream))

    def write(
        self,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        if spec.stream in self.fail_streams:
            raise DestinationError("the memory destination refuses this stream", stream=spec.stream)
        total = 0
        staged: list[dict[str, Any]] = []
        last: LoadBatch | None = None
        for batch in batches:
            rows = batch.records.to_pylist()
            self.batches[spec.stream] = self.batches.get(spec.stream, 0) + 1
            if spec.disposition is WriteDisposition.REPLACE:
                staged.extend(rows)
            else:
                self._merge(spec, rows)
                if batch.bookmark is not None:
                    self.bookmarks[(spec.state_id, spec.stream)] = dict(batch.bookmark)
            total += len(rows)
            if on_batch is not None:
                on_batch(len(rows))
            last = batch
        if spec.disposition is WriteDisposition.REPLACE:
            self.tables[spec.stream] = staged
            if last is not None and last.bookmark is not None:
                self.bookmarks[(spec.state_id, spec.stream)] = dict(last.bookmark)
        return total

    def _merge(self, spec: TableSpec, rows: list[dict[str, Any]]) -> None:
        table = self.tables.setdefault(spec.stream, [])
        if not spec.merge_keys:
            table.extend(rows)
            return
        index = {tuple(r[k] for k in spec.merge_keys): i for i, r in enumerate(table)}
        for row in rows:
            key = tuple(row[k] for k in spec.merge_keys)
            if key in index:
                table[index[key]] = row
            else:
                index[key] = len(table)
                table.append(row)


def _source(config: ConnectorConfig, context: ConnectorContext) -> Source:
    return SOURCES[config.text("name")]


def _destination(config: ConnectorConfig, context: ConnectorContext) -> Destination:
    name = config.text("name")
    if name not in DESTINATIONS:
        raise ConnectorConfigError(f"no memory destination '{name}'")
    return DESTINATIONS[name]


register_source("memory", _source)
register_destination("memory", _destination)


def table(**columns: list[Any]) -> pa.Table:
    return pa.table(columns)


def column(rows: list[dict[str, Any]], name: str) -> list[Any]:
    return [r[name] for r in rows]
