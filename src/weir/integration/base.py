"""The two connector interfaces, and what passes between them.

A `Source` checks its connection, discovers a catalog and reads one stream as Arrow record
batches. A `Destination` checks its connection, reports the bookmark it last committed for a
stream, and writes a stream's batches. Each is a separate method; there are no mode flags. The
sync engine (`weir.integration.sync`) drives both.

Between Weir's own connectors data moves as `pyarrow.RecordBatch`es whose schema is
`columns.arrow_schema(columns)` for the stream's selected columns, each batch at most
`batch_size_rows` rows (sources also cut batches by size; the PostgreSQL source at 4 MB).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyarrow as pa

from weir.integration.columns import Column, columns_from_json_schema
from weir.integration.singer import Catalog, CatalogEntry

__all__ = [
    "SINGER_STATE_BOOKMARK_KEY",
    "SINGER_STATE_METADATA_KEY",
    "SYNCED_AT_COLUMN",
    "TABLE_VERSION_COLUMN",
    "Destination",
    "LoadBatch",
    "Source",
    "TableSpec",
    "WriteDisposition",
    "stream_columns",
]

SYNCED_AT_COLUMN = "_weir_synced_at"
"""Added to every destination row: when the transaction that wrote it began (UTC)."""

TABLE_VERSION_COLUMN = "_weir_table_version"
"""Added to rows of FULL_TABLE streams: the load's version (milliseconds since the epoch)."""


SINGER_STATE_METADATA_KEY = b"weir.singer_state"
"""Schema metadata key a source may set on a batch: its own state (JSON) once the batch's rows
are read. The Singer tap source sets the tap's STATE; the sync engine commits it verbatim in the
INCREMENTAL bookmark of the batch, under `SINGER_STATE_BOOKMARK_KEY`."""

SINGER_STATE_BOOKMARK_KEY = "singer_state"
"""Bookmark key holding a source's own state (see `SINGER_STATE_METADATA_KEY`); a Singer tap
source resumes from it verbatim."""


def stream_columns(stream: CatalogEntry) -> tuple[Column, ...]:
    """The columns a stream syncs: its selected fields, in schema order, typed by its schema."""
    return columns_from_json_schema(stream.schema, stream.selected_fields)


class Source(ABC):
    """Where data comes from: a database, files, an API or an external Singer tap."""

    @abstractmethod
    def check(self) -> None:
        """Connect once and run a trivial query.

        Raises:
            ConnectorConfigError: the settings are wrong (bad host, login refused, ...).
        """

    @abstractmethod
    def discover(self, *, streams: Collection[str] | None = None) -> Catalog:
        """Describe the streams the source offers.

        Args:
            streams: the `tap_stream_id`s to describe; None describes all of them.

        Returns:
            A catalog whose entries carry JSON Schemas, key properties and metadata, nothing
            selected. A named stream that does not exist is left out.
        """

    @abstractmethod
    def read(
        self,
        stream: CatalogEntry,
        *,
        bookmark: Mapping[str, Any] | None,
        batch_size_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        """Read one stream.

        Args:
            stream: the catalog entry: its selected fields, replication method, replication
                key and key properties. Batches have `arrow_schema(stream_columns(stream))`.
            bookmark: for INCREMENTAL streams, where to resume: `replication_key_value` and,
                when present, `key_values` (the key properties of the last row already
                written). Rows strictly after that position in (replication key, key
                properties) order are read; without `key_values`, rows with a replication key
                value >= `replication_key_value` are read. None reads everything.
            batch_size_rows: the most rows one batch may hold (>= 1).

        Yields:
            Non-empty record batches. INCREMENTAL streams come in ascending (replication key,
            key properties) order and skip rows whose replication key is NULL.

        Raises:
            CatalogError: the stream or a column is gone from the source.
            SourceError: reading failed (retriable when the connection was lost).
        """


@dataclass(frozen=True, slots=True)
class LoadBatch:
    """A batch to write, with the bookmark to commit in the same transaction.

    Attributes:
        records: the rows, with the stream's Arrow schema.
        bookmark: the stream's bookmark once these rows are written, or None to leave the
            committed bookmark as it is.
    """

    records: pa.RecordBatch
    bookmark: Mapping[str, Any] | None = None


class WriteDisposition(StrEnum):
    """How written rows combine with the rows already in the destination table."""

    REPLACE = "replace"
    """Load every batch into a new table, then swap it in, all in one transaction."""
    APPEND = "append"
    """Insert each batch, committing batch by batch."""
    MERGE_UPDATE = "merge_update"
    """Upsert on `TableSpec.merge_keys`, batch by batch (Mage's `UPDATE`)."""
    MERGE_IGNORE = "merge_ignore"
    """Insert rows whose merge keys are absent, batch by batch (Mage's `IGNORE`)."""


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Everything a destination needs to know to write one stream.

    Attributes:
        stream: the stream name (for messages and the state row).
        table: the destination table name (schema comes from the destination's settings).
        columns: the columns, in batch order.
        merge_keys: columns identifying a row; the primary key when the destination creates
            the table; required for the MERGE dispositions.
        disposition: how rows combine with existing rows.
        state_id: names the sync whose bookmark the destination stores.
        version: REPLACE only: stamped into `_weir_table_version` of every row.
    """

    stream: str
    table: str
    columns: tuple[Column, ...]
    merge_keys: tuple[str, ...]
    disposition: WriteDisposition
    state_id: str
    version: int | None = None

    def __post_init__(self) -> None:
        names = {c.name for c in self.columns}
        missing = [k for k in self.merge_keys if k not in names]
        if missing:
            raise ValueError(f"stream '{self.stream}': merge keys {missing} are not columns")
        merging = self.disposition in (WriteDisposition.MERGE_UPDATE, WriteDisposition.MERGE_IGNORE)
        if merging and not self.merge_keys:
            raise ValueError(f"stream '{self.stream}': {self.disposition} needs merge keys")


class Destination(ABC):
    """Where data goes: a database, warehouse, files or an external Singer target.

    A destination keeps the bookmark of each (state id, stream) next to the data, and commits
    it in the same transaction as the rows it describes, so that what it reports from
    `read_bookmark` is always exactly what it holds.
    """

    @abstractmethod
    def check(self) -> None:
        """Connect once and check the target schema can be written.

        Raises:
            ConnectorConfigError: the settings are wrong or permissions are missing.
        """

    @abstractmethod
    def read_bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        """Return the last committed bookmark of `stream` in sync `state_id`, or None."""

    @abstractmethod
    def write(
        self,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Write a stream's batches.

        REPLACE loads all batches into a staging table and swaps it in with the last batch's
        bookmark in one transaction; nothing changes if it fails. The other dispositions first
        create or evolve the table (new columns added, widening types widened), then commit
        each batch together with its bookmark.

        Args:
            spec: the table, its columns and how to combine rows.
            batches: the batches, in order.
            on_batch: called with the row count of each batch once it is written (for REPLACE,
                written to the staging table; otherwise committed).

        Returns:
            The number of rows written.

        Raises:
            SchemaChangeError: a column changed incompatibly; the table is untouched.
            DestinationError: writing failed; committed batches stay.
        """
