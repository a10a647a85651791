"""Replication: move each selected stream from a source to a destination, exactly once.

`run_sync` syncs every selected stream of a catalog; `sync_stream` syncs one. For each stream:

1. The catalog entry is refreshed from the source (`CatalogEntry.refreshed`): column types come
   from the source as it is now, and new columns join when `auto_add_new_fields` is set.
2. The bookmark is the one the destination committed for (`state_id`, stream); the `state`
   passed in (e.g. a Singer or Mage state file) is only used when the destination has none.
3. FULL_TABLE streams are loaded with `WriteDisposition.REPLACE`: into a staging table swapped in
   at the end in one transaction, each row stamped with the load's version. INCREMENTAL streams
   are read in (replication key, key properties) order after the bookmark; each batch is
   committed together with the bookmark of its last row, so a sync killed at any moment resumes
   after the last committed batch with nothing lost or written twice. Rows are upserted on the
   merge keys (Mage's `unique_conflict_method`: UPDATE, the default, or IGNORE), or appended
   when the stream has no keys.
4. Streams without key properties are cut only where the replication key changes value, so a
   bookmark never falls inside a group of rows sharing one value (such a batch may exceed
   `batch_size_rows`).
5. A batch that carries its source's own state (schema metadata `SINGER_STATE_METADATA_KEY`,
   a Singer tap's STATE) has that state committed verbatim in its INCREMENTAL bookmark, under
   `singer_state`. A re-cut batch carries the state of its last piece that ends where its
   source batch ended: a piece cut from the front of a batch does not, since that batch's
   state lies past rows the re-cut batch leaves for the next one.

The source is read in a worker thread, at most `PREFETCH_BATCHES` batches ahead of the
destination, so reading and writing overlap while memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any, TypeVar, cast

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from weir.integration.base import (
    SINGER_STATE_BOOKMARK_KEY,
    SINGER_STATE_METADATA_KEY,
    Destination,
    LoadBatch,
    Source,
    TableSpec,
    WriteDisposition,
    stream_columns,
)
from weir.integration.columns import Column, arrow_schema
from weir.integration.errors import CatalogError, IntegrationError, SyncFailedError
from weir.integration.singer import (
    Catalog,
    CatalogEntry,
    ReplicationMethod,
    State,
    UniqueConflictMethod,
)

__all__ = [
    "DEFAULT_BATCH_SIZE_ROWS",
    "PREFETCH_BATCHES",
    "StreamResult",
    "SyncProgress",
    "SyncResult",
    "run_sync",
    "sync_stream",
]

DEFAULT_BATCH_SIZE_ROWS = 100_000
PREFETCH_BATCHES = 2

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Where one stream's sync stands; passed to `on_progress` after each batch is written.

    Attributes:
        stream: the stream name.
        rows: rows written so far.
        batches: batches written so far.
        seconds: seconds since the stream started.
    """

    stream: str
    rows: int
    batches: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        """Average throughput so far (0 before the first batch)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class StreamResult:
    """How one stream's sync ended.

    Attributes:
        stream: the stream name.
        replication_method: FULL_TABLE or INCREMENTAL.
        rows: rows written in this sync (0 for a failed stream: its committed `bookmark`
            says how far it got).
        seconds: wall-clock duration.
        bookmark: the destination's committed bookmark after the sync.
        error: why the stream failed, or None.
    """

    stream: str
    replication_method: ReplicationMethod
    rows: int
    seconds: float
    bookmark: Mapping[str, Any] | None
    error: IntegrationError | None = None


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The outcome of `run_sync`: per-stream results and the resulting Singer state."""

    streams: tuple[StreamResult, ...]
    state: State

    @property
    def rows(self) -> int:
        """Rows written over all streams."""
        return sum(s.rows for s in self.streams)

    def stream(self, name: str) -> StreamResult:
        """The result of stream `name`.

        Raises:
            KeyError: the stream was not synced.
        """
        for result in self.streams:
            if result.stream == name:
                return result
        raise KeyError(f"stream '{name}' was not part of this sync")


def run_sync(
    source: Source,
    destination: Destination,
    catalog: Catalog,
    *,
    state_id: str = "default",
    state: State | None = None,
    batch_size_rows: int = DEFAULT_BATCH_SIZE_ROWS,
    on_progress: Callable[[SyncProgress], None] | None = None,
) -> SyncResult:
    """Sync every selected stream of `catalog`, one after another.

    Args:
        source: where rows come from.
        destination: where they go; it also keeps the bookmarks.
        catalog: the streams, their selection and replication settings.
        state_id: names this sync's bookmarks at the destination (e.g. the pipeline uuid), so
            several pipelines can load into one destination.
        state: bookmarks to start from for streams the destination has none for.
        batch_size_rows: the most rows per batch (and per committed transaction).
        on_progress: called after each batch is written.

    Returns:
        Per-stream row counts, durations and bookmarks, and the state after the sync.

    Raises:
        SyncFailedError: at least one stream failed (the others were still synced); its
            `result` has each stream's outcome and `retriable` says whether to retry.
    """
    results: list[StreamResult] = []
    new_state = state or State()
    for entry in catalog.selected:
        start = time.monotonic()
        try:
            result = sync_stream(
                source,
                destination,
                entry,
                state_id=state_id,
                bookmark=new_state.bookmark(entry.stream),
                batch_size_rows=batch_size_rows,
                on_progress=on_progress,
            )
        except IntegrationError as exc:
            result = StreamResult(
                entry.stream,
                entry.effective_replication_method,
                0,
                time.monotonic() - start,
                _committed_bookmark(destination, state_id, entry.stream),
                error=exc,
            )
        results.append(result)
        new_state = new_state.with_bookmark(entry.stream, result.bookmark)
    outcome = SyncResult(tuple(results), new_state)
    if any(r.error is not None for r in results):
        raise SyncFailedError(outcome)
    return outcome


def sync_stream(
    source: Source,
    destination: Destination,
    entry: CatalogEntry,
    *,
    state_id: str = "default",
    bookmark: Mapping[str, Any] | None = None,
    batch_size_rows: int = DEFAULT_BATCH_SIZE_ROWS,
    on_progress: Callable[[SyncProgress], None] | None = None,
) -> StreamResult:
    """Sync one stream (see the module docstring for the steps).

    Args:
        source: where rows come from.
        destination: where they go.
        entry: the stream's catalog entry (need not be selected).
        state_id: names the sync's bookmarks at the destination.
        bookmark: where to start when the destination has no bookmark for the stream.
        batch_size_rows: the most rows per batch (>= 1).
        on_progress: called after each batch is written.

    Returns:
        The stream's row count, duration and committed bookmark.

    Raises:
        CatalogError: the stream is gone from the source, uses LOG_BASED replication, or its
            replication key or keys are not selected columns.
        SchemaChangeError: a column changed incompatibly; the table is untouched.
        SourceError, DestinationError: reading or writing failed; committed batches stay.
    """
    if batch_size_rows < 1:
        raise ValueError("batch_size_rows must be at least 1")
    start = time.monotonic()
    entry = _refreshed(source, entry)
    method = entry.effective_replication_method
    columns = stream_columns(entry)
    spec = _table_spec(entry, columns, method, state_id)
    resume = None
    if method is ReplicationMethod.INCREMENTAL:
        resume = _usable(destination.read_bookmark(state_id, entry.stream) or bookmark, entry)
    counter = _Counter(entry.stream, start, on_progress)
    read = source.read(entry, bookmark=resume, batch_size_rows=batch_size_rows)
    batches = _prefetch(read, PREFETCH_BATCHES)
    loads = _load_batches(batches, entry, columns, spec)
    try:
        rows = destination.write(spec, loads, on_batch=counter.add)
    finally:
        loads.close()
        batches.close()
    return StreamResult(
        entry.stream,
        method,
        rows,
        time.monotonic() - start,
        _committed_bookmark(destination, state_id, entry.stream),
    )


def _refreshed(source: Source, entry: CatalogEntry) -> CatalogEntry:
    live = source.discover(streams=[entry.tap_stream_id])
    try:
        return entry.refreshed(live.get(entry.tap_stream_id))
    except KeyError:
        raise CatalogError(
            f"the source has no stream '{entry.tap_stream_id}' any more; run discovery and "
            "update the catalog",
            stream=entry.stream,
        ) from None


def _table_spec(
    entry: CatalogEntry, columns: tuple[Column, ...], method: ReplicationMethod, state_id: str
) -> TableSpec:
    names = {c.name for c in columns}
    missing = [k for k in entry.merge_keys if k not in names]
    if missing:
        raise CatalogError(
            f"key columns {missing} are not in the source's schema; fix key_properties or "
            "unique_constraints in the catalog",
            stream=entry.stream,
        )
    if method is ReplicationMethod.LOG_BASED:
        raise CatalogError(
            "LOG_BASED replication is not supported yet; set replication_method to "
            "INCREMENTAL or FULL_TABLE in the catalog",
            stream=entry.stream,
        )
    if method is ReplicationMethod.FULL_TABLE:
        version = int(time.time() * 1000)
        return TableSpec(
            entry.stream, entry.stream, columns, entry.merge_keys,
            WriteDisposition.REPLACE, state_id, version,
        )  # fmt: skip
    key = entry.effective_replication_key
    if key is None or key not in names:
        raise CatalogError(
            f"INCREMENTAL replication needs a replication_key among the selected columns; got "
            f"{key!r}. Set replication_key in the catalog (and select that column)",
            stream=entry.stream,
        )
    disposition = WriteDisposition.APPEND
    if entry.merge_keys:
        ignore = entry.unique_conflict_method is UniqueConflictMethod.IGNORE
        disposition = WriteDisposition.MERGE_IGNORE if ignore else WriteDisposition.MERGE_UPDATE
    return TableSpec(entry.stream, entry.stream, columns, entry.merge_keys, disposition, state_id)


def _usable(bookmark: Mapping[str, Any] | None, entry: CatalogEntry) -> Mapping[str, Any] | None:
    """Drop a bookmark made for another replication key (it would skip or repeat rows)."""
    if not bookmark:
        return None
    key = bookmark.get("replication_key")
    if key is not None and key != entry.effective_replication_key:
        return None
    return bookmark


def _load_batches(
    batches: Iterator[pa.RecordBatch],
    entry: CatalogEntry,
    columns: tuple[Column, ...],
    spec: TableSpec,
) -> Generator[LoadBatch, None, None]:
    """Attach to each batch the bookmark to commit with it."""
    if spec.disposition is WriteDisposition.REPLACE:
        done = {"version": spec.version}
        seen = False
        for batch in batches:
            seen = True
            yield LoadBatch(batch, done)
        if not seen:
            yield LoadBatch(_empty_batch(columns), done)
        return
    key = entry.effective_replication_key or ""
    tie_breakers = [k for k in entry.effective_key_properties if k != key]
    if not entry.effective_key_properties:
        batches = _whole_value_groups(batches, key)
    for batch in batches:
        yield LoadBatch(batch, _bookmark_after(batch, key, tie_breakers))


def _empty_batch(columns: tuple[Column, ...]) -> pa.RecordBatch:
    schema = arrow_schema(columns)
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


def _bookmark_after(batch: pa.RecordBatch, key: str, tie_breakers: list[str]) -> dict[str, Any]:
    """The bookmark of a batch's last row: its replication key value and key values.

    The source's own state, when the batch carries one, is kept verbatim as `singer_state`.
    """
    last = batch.num_rows - 1
    bookmark = {
        "replication_key": key,
        "replication_key_value": _json_value(batch.column(key)[last].as_py()),
        "key_values": {k: _json_value(batch.column(k)[last].as_py()) for k in tie_breakers},
    }
    state = (batch.schema.metadata or {}).get(SINGER_STATE_METADATA_KEY)
    if state is not None:
        bookmark[SINGER_STATE_BOOKMARK_KEY] = orjson.loads(state)
    return bookmark


def _json_value(value: object) -> object:
    """A bookmark value as JSON: timestamps in ISO 8601 with offset, decimals as text."""
    if isinstance(value, datetime | date | time_of_day):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _whole_value_groups(batches: Iterator[pa.RecordBatch], key: str) -> Iterator[pa.RecordBatch]:
    """Re-cut batches (sorted by `key`) so no value of `key` spans two of them.

    A batch is held back until the next one shows where its last value ends; the rows of that
    value are moved into it. Schema metadata (the source's state) stays with the pieces that
    end where their batch ended: the front piece of a cut batch loses it (module docstring).
    """
    pending: list[pa.RecordBatch] = []
    for batch in batches:
        if not pending:
            pending.append(batch)
            continue
        last_value = pending[-1].column(key)[-1]
        differs = pc.not_equal(batch.column(key), last_value)
        cut = pc.index(differs, True).as_py()
        cut = batch.num_rows if cut < 0 else cut
        if cut == batch.num_rows:
            pending.append(batch)
            continue
        if cut:
            pending.append(batch.slice(0, cut).replace_schema_metadata(None))
        yield _concat(pending)
        pending = [batch.slice(cut)]
    if pending:
        yield _concat(pending)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch of `batches`' rows, with the schema metadata of the last one that has any."""
    if len(batches) == 1:
        return batches[0]
    metadata = next((b.schema.metadata for b in reversed(batches) if b.schema.metadata), None)
    plain = [b.replace_schema_metadata(None) for b in batches]
    joined = pa.Table.from_batches(plain).combine_chunks().to_batches()[0]
    return joined.replace_schema_metadata(metadata)


def _committed_bookmark(
    destination: Destination, state_id: str, stream: str
) -> Mapping[str, Any] | None:
    try:
        return destination.read_bookmark(state_id, stream)
    except IntegrationError:
        return None


class _Counter:
    """Counts written rows and batches and reports them to `on_progress`."""

    def __init__(
        self, stream: str, start: float, on_progress: Callable[[SyncProgress], None] | None
    ) -> None:
        self.stream, self.start, self.on_progress = stream, start, on_progress
        self.rows = self.batches = 0

    def add(self, rows: int) -> None:
        self.rows += rows
        self.batches += 1
        if self.on_progress is not None:
            elapsed = time.monotonic() - self.start
            self.on_progress(SyncProgress(self.stream, self.rows, self.batches, elapsed))


_END = object()


def _prefetch(items: Iterator[_T], depth: int) -> Generator[_T, None, None]:
    """Run `items` in a worker thread, at most `depth` items ahead of the consumer.

    Exceptions raised by `items` are re-raised in the consumer. When the consumer stops early,
    the worker stops at its next item and closes `items` (releasing its connection).
    """
    slots: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                slots.put((item, error), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:
            put(None, exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="weir-sync-reader", daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield cast(_T, item)
    finally:
        stop.set()
        while not slots.empty():
            slots.get_nowait()
        worker.join()
