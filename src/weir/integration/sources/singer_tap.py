"""Any Singer tap as a source: run it as a child process and turn its RECORDs into Arrow batches.

`discover` runs `tap --config config.json --discover` and reads the catalog it prints (cached
for `DISCOVERY_CACHE_SECONDS`). `read` runs `tap --config config.json --catalog catalog.json
[--state state.json]` (`--properties` for older taps that do not list `--catalog` in their
`--help`), parses its stdout with `weir.integration.singer` (orjson), and gathers the RECORDs
of the stream into Arrow batches of at most `batch_size_rows` rows and about `MAX_BATCH_BYTES`
of JSON, typed by the stream's schema (`stream_columns`). The tap's stderr goes to this
module's logger line by line; when the tap exits non-zero the read fails with a `SourceError`
naming the tap, its exit code and its last stderr lines. A batch is passed on only once the
tap has written something after it, so a failing tap never delivers its last batch.

**One process per stream.** The `Source` interface reads one stream at a time, and a tap emits
every selected stream in one run, so `read` runs the tap once per stream with a catalog that
selects only that stream (every other stream is written with `selected: false`). The cost is
one tap start, login and catalog parse per stream; the gain is that each stream commits and
resumes on its own, and a failing stream does not stop the others. Taps whose child streams
need their parent selected (some SaaS taps) cannot be split this way.

**State.** Each batch carries, in its schema metadata under `SINGER_STATE_METADATA_KEY`, the
tap's STATE as of the batch's last record (the last STATE the tap wrote before the next RECORD);
sorted INCREMENTAL reads put the tap's final state on their last batch only. `last_state` is the
tap's final state. With each batch of an INCREMENTAL stream the sync engine commits its own
bookmark (the replication key value and key values of the batch's last row) and, verbatim under
`singer_state`, the state the batch carries. On resume `read` passes a `singer_state` to the tap
as it is; a bookmark without one becomes `{"bookmarks": {tap_stream_id: {"replication_key":
..., "replication_key_value": ...}}}`, the shape pipelinewise and Meltano SDK taps read. Either
way rows at or before Weir's own bookmark are dropped, so a tap resuming early only re-sends.

**Order.** Taps read INCREMENTAL streams with `replication key >= bookmark`, and many do not
order rows (tap-postgres sorts only once it has a bookmark). With `sort_incremental=True` (the
default) the rows of an INCREMENTAL stream are spilled to a Parquet file in `work_dir` while
the tap runs, then streamed back sorted by (replication key, key properties) through DuckDB
(bounded memory), skipping rows at or before the bookmark's position: exact whatever order the
tap uses, at the cost of a disk copy and no overlap between the tap and the destination. With
`sort_incremental=False` rows pass on as the tap writes them, which must be in replication-key
order (checked: a `SourceError` otherwise); rows sharing the bookmark's value are read again
and upserted, except for streams without key properties, where they were committed whole.
Rows whose replication key is NULL are skipped (Singer's rule).

Type mapping: see `weir.integration.sources.singer_records`, which turns RECORD values into
Arrow columns typed by the stream's JSON Schema.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from weir.integration._subprocess import (
    ConnectorProcess,
    connector_name,
    private_run_dir,
    write_private_json,
)
from weir.integration.base import (
    SINGER_STATE_BOOKMARK_KEY,
    SINGER_STATE_METADATA_KEY,
    Source,
    stream_columns,
)
from weir.integration.columns import Column, arrow_schema
from weir.integration.errors import ConnectorConfigError, SourceError
from weir.integration.singer import (
    Catalog,
    CatalogEntry,
    Message,
    RecordMessage,
    ReplicationMethod,
    SingerProtocolError,
    StateMessage,
    parse_message,
)
from weir.integration.sources._common import (
    KeysetFilter,
    ResumePosition,
    incremental_keys,
    resume_position,
)
from weir.integration.sources._sort import sorted_batches
from weir.integration.sources.singer_records import records_to_batch, to_arrow

__all__ = [
    "DISCOVERY_CACHE_SECONDS",
    "MAX_BATCH_BYTES",
    "SINGER_STATE_METADATA_KEY",
    "SingerTapSource",
    "tap_state",
]

MAX_BATCH_BYTES = 8 * 1024 * 1024
"""A batch is cut early once its records' JSON reaches this size, bounding memory."""

DISCOVERY_CACHE_SECONDS = 60.0
"""How long a discovered catalog is reused (the sync engine re-discovers before every stream)."""

SORT_MEMORY_LIMIT = "128MB"
"""DuckDB's memory limit while sorting spilled rows; beyond it DuckDB sorts on disk."""

HELP_TIMEOUT_SECONDS = 60.0

_LOGGER = logging.getLogger(__name__)


class SingerTapSource(Source):
    """Reads the streams of an external Singer tap (see the module docstring).

    Args:
        command: how to run the tap, e.g. `["/venvs/tap-postgres/bin/tap-postgres"]`; Weir adds
            `--config`, `--discover`, `--catalog`/`--properties` and `--state`.
        config: the tap's configuration, written to a private file for each run.
        work_dir: where each run's files (config, catalog, state, sort spill) are written, in a
            fresh directory removed after the run.
        sort_incremental: sort INCREMENTAL streams before passing them on (exact whatever
            order the tap emits); False streams them as emitted and checks their order.
    """

    def __init__(
        self,
        command: Sequence[str],
        config: Mapping[str, Any],
        *,
        work_dir: Path,
        sort_incremental: bool = True,
    ) -> None:
        if not command:
            raise ValueError("a Singer tap command needs at least the executable")
        self.command = tuple(command)
        self.name = connector_name(command)
        self.work_dir = Path(work_dir)
        self.sort_incremental = sort_incremental
        self._config = dict(config)
        self._catalog_flag: str | None = None
        self._discovered: tuple[float, dict[str, Any]] | None = None
        self._last_state: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        return f"SingerTapSource({self.name!r}, work_dir={str(self.work_dir)!r})"

    @property
    def last_state(self) -> Mapping[str, Any] | None:
        """The tap's last STATE in the most recent `read` that finished, or None."""
        return self._last_state

    def check(self) -> None:
        """Run the tap's discovery (Singer has no connection check; discovery logs in).

        Raises:
            ConnectorConfigError: the tap cannot be started, or its discovery fails or prints
                something other than a catalog; the message quotes the tap's stderr.
        """
        self._discovered = None
        self._raw_catalog()

    def discover(self, *, streams: Collection[str] | None = None) -> Catalog:
        """Run `tap --config ... --discover` and return its catalog (see `Source.discover`).

        Args:
            streams: the `tap_stream_id`s to return; None returns every stream.

        Raises:
            ConnectorConfigError: the tap fails or prints no valid catalog.
        """
        try:
            catalog = Catalog.from_dict(self._raw_catalog())
        except ValueError as exc:
            raise ConnectorConfigError(
                f"Singer tap '{self.name}' printed an invalid catalog: {exc}"
            ) from exc
        if streams is None:
            return catalog
        wanted = set(streams)
        return Catalog(tuple(e for e in catalog.streams if e.tap_stream_id in wanted))

    def read(
        self,
        stream: CatalogEntry,
        *,
        bookmark: Mapping[str, Any] | None,
        batch_size_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        """Run the tap for this one stream and yield its records as Arrow batches.

        See `Source.read` and the module docstring for order, resume and state.

        Raises:
            ConnectorConfigError: the tap cannot be started.
            SourceError: the tap exited non-zero, wrote a line that is not a Singer message,
                sent a value that does not fit its column's type, or (with
                `sort_incremental=False`) sent rows out of replication-key order.
        """
        if batch_size_rows < 1:
            raise ValueError("batch_size_rows must be at least 1")
        columns = stream_columns(stream)
        incremental = stream.effective_replication_method is ReplicationMethod.INCREMENTAL
        self._last_state = None
        with private_run_dir(self.work_dir, "singer-tap-") as run_dir:
            args = self._read_args(run_dir, stream, bookmark if incremental else None)
            with self._start(args, run_dir) as process:
                batches = _TapBatches(self, process, stream, columns, batch_size_rows)
                out: Iterator[pa.RecordBatch] = iter(batches)
                if incremental:
                    exact = self.sort_incremental
                    keep, order = _keyset(stream, columns, bookmark, exact=exact)
                    if exact:
                        out = _sorted(batches, columns, keep, order, run_dir)
                    else:
                        out = _checked_order(batches, stream, keep)
                yield from out
                self._last_state = batches.state

    # -- running the tap ---------------------------------------------------------------------
    def _start(self, args: Sequence[str], cwd: Path) -> ConnectorProcess:
        try:
            return ConnectorProcess([*self.command, *args], name=self.name, logger=_LOGGER, cwd=cwd)
        except OSError as exc:
            raise ConnectorConfigError(
                f"cannot start Singer tap '{self.name}' ({self.command[0]}): {exc}; check the "
                "command and that the tap is installed"
            ) from exc

    def _raw_catalog(self) -> dict[str, Any]:
        """The catalog the tap discovers, as the JSON object it printed (cached)."""
        now = time.monotonic()
        if self._discovered is not None and now - self._discovered[0] < DISCOVERY_CACHE_SECONDS:
            return self._discovered[1]
        with private_run_dir(self.work_dir, "singer-discover-") as run_dir:
            config = run_dir / "config.json"
            write_private_json(config, self._config)
            with self._start(["--config", str(config), "--discover"], run_dir) as process:
                output = process.stdout.read()
                code = process.wait()
                if code != 0:
                    raise ConnectorConfigError(
                        f"Singer tap discovery failed: {process.failure(code)}"
                    )
        try:
            raw = orjson.loads(output)
        except orjson.JSONDecodeError as exc:
            shown = output[:200].decode("utf-8", "replace")
            raise ConnectorConfigError(
                f"Singer tap '{self.name}' did not print a JSON catalog on --discover: {shown!r}"
            ) from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("streams"), list):
            raise ConnectorConfigError(
                f"Singer tap '{self.name}' printed no catalog ({{'streams': [...]}}) on --discover"
            )
        self._discovered = (time.monotonic(), raw)
        return raw

    def _read_args(
        self, run_dir: Path, entry: CatalogEntry, bookmark: Mapping[str, Any] | None
    ) -> list[str]:
        config, catalog = run_dir / "config.json", run_dir / "catalog.json"
        write_private_json(config, self._config)
        write_private_json(catalog, self._tap_catalog(entry))
        args = ["--config", str(config), self._catalog_option(), str(catalog)]
        state = tap_state(entry, bookmark)
        if state is not None:
            write_private_json(run_dir / "state.json", state)
            args += ["--state", str(run_dir / "state.json")]
        return args

    def _catalog_option(self) -> str:
        """`--catalog`, or `--properties` for a tap whose `--help` offers only that."""
        if self._catalog_flag is None:
            try:
                done = subprocess.run(
                    [*self.command, "--help"],
                    capture_output=True,
                    timeout=HELP_TIMEOUT_SECONDS,
                    check=False,
                )
                text = done.stdout + done.stderr
            except (OSError, subprocess.TimeoutExpired):
                text = b""
            legacy = b"--properties" in text and b"--catalog" not in text
            self._catalog_flag = "--properties" if legacy else "--catalog"
        return self._catalog_flag

    def _tap_catalog(self, entry: CatalogEntry) -> dict[str, Any]:
        """The tap's discovered catalog with only `entry` selected, as `entry` says."""
        chosen = _selected_for_tap(entry)
        streams = []
        placed = False
        for raw in self._raw_catalog()["streams"]:
            if not isinstance(raw, dict):
                continue
            if (raw.get("tap_stream_id") or raw.get("stream")) == entry.tap_stream_id:
                streams.append(chosen)
                placed = True
            else:
                streams.append(_deselected(raw))
        if not placed:
            streams.append(chosen)
        return {"streams": streams}


def tap_state(entry: CatalogEntry, bookmark: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The state file a tap resumes from, made from a Weir bookmark (None: start afresh).

    A bookmark holding a `singer_state` object is the tap's own state and is used as it is.
    Otherwise the bookmark's `replication_key` and `replication_key_value` become the stream's
    Singer bookmark, keyed by `tap_stream_id`.
    """
    if not bookmark:
        return None
    own = bookmark.get(SINGER_STATE_BOOKMARK_KEY)
    if isinstance(own, Mapping):
        return dict(own)
    value = bookmark.get("replication_key_value")
    if value is None:
        return None
    key = bookmark.get("replication_key") or entry.effective_replication_key
    stream_bookmark = {"replication_key": key, "replication_key_value": value}
    return {"bookmarks": {entry.tap_stream_id: stream_bookmark}}


def _selected_for_tap(entry: CatalogEntry) -> dict[str, Any]:
    """The entry as a tap reads it: root and field `selected`, replication method and key."""
    selected = set(entry.selected_fields)
    out = entry.to_dict()
    method = entry.effective_replication_method
    root: dict[str, Any] = {"selected": True, "replication-method": method.value}
    if method is ReplicationMethod.INCREMENTAL and entry.effective_replication_key:
        root["replication-key"] = entry.effective_replication_key
    metadata: list[dict[str, Any]] = []
    for item in out["metadata"]:
        crumb = list(item.get("breadcrumb") or [])
        meta = dict(item.get("metadata") or {})
        if not crumb:
            meta.update(root)
        elif len(crumb) == 2 and crumb[0] == "properties":
            meta["selected"] = crumb[1] in selected
        metadata.append({"breadcrumb": crumb, "metadata": meta})
    if not any(not m["breadcrumb"] for m in metadata):
        metadata.insert(0, {"breadcrumb": [], "metadata": root})
    out["metadata"] = metadata
    out["selected"] = True
    return out


def _deselected(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A discovered stream, written back with `selected: false`."""
    metadata = [dict(m) for m in raw.get("metadata") or () if isinstance(m, Mapping)]
    roots = [m for m in metadata if not m.get("breadcrumb")]
    for root in roots:
        root["metadata"] = {**(root.get("metadata") or {}), "selected": False}
    if not roots:
        metadata.insert(0, {"breadcrumb": [], "metadata": {"selected": False}})
    return {**raw, "metadata": metadata, "selected": False}


# -- from the tap's stdout to batches ----------------------------------------------------------
class _TapBatches:
    """Iterates a running tap's batches for one stream, with the tap's state as metadata.

    Each batch is held back until the tap writes its next RECORD of the stream or exits, so its
    state is the last STATE before the next record, and a tap that fails never delivers its
    last batch. Raises `SourceError` when the tap exits non-zero or writes a bad line.
    """

    def __init__(
        self,
        source: SingerTapSource,
        process: ConnectorProcess,
        entry: CatalogEntry,
        columns: tuple[Column, ...],
        batch_size_rows: int,
    ) -> None:
        self.source, self.process, self.entry = source, process, entry
        self.columns, self.batch_size_rows = columns, batch_size_rows
        self.names = {entry.tap_stream_id, entry.stream}
        self.state: Mapping[str, Any] | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        records: list[Mapping[str, Any]] = []
        size = 0
        for message, length in self._messages():
            if isinstance(message, StateMessage):
                self.state = message.value
            elif isinstance(message, RecordMessage) and message.stream in self.names:
                if len(records) >= self.batch_size_rows or size >= MAX_BATCH_BYTES:
                    yield self._batch(records)
                    records, size = [], 0
                records.append(message.record)
                size += length
        self._wait()
        if records:
            yield self._batch(records)

    def _batch(self, records: Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
        batch = records_to_batch(records, self.columns, stream=self.entry.stream)
        if self.state is None:
            return batch
        return batch.replace_schema_metadata(
            {SINGER_STATE_METADATA_KEY: orjson.dumps(dict(self.state))}
        )

    def _messages(self) -> Iterator[tuple[Message, int]]:
        for raw in self.process.stdout:
            line = raw.strip()
            if not line:
                continue
            try:
                yield parse_message(line), len(line)
            except SingerProtocolError as exc:
                raise SourceError(
                    f"Singer tap '{self.source.name}' wrote a line that is not a Singer message "
                    f"({exc}); taps must log to stderr, not stdout",
                    stream=self.entry.stream,
                ) from exc

    def _wait(self) -> None:
        code = self.process.wait()
        if code != 0:
            raise SourceError(f"Singer tap {self.process.failure(code)}", stream=self.entry.stream)


# -- INCREMENTAL: where to resume, order -------------------------------------------------------
def _keyset(
    entry: CatalogEntry,
    columns: Sequence[Column],
    bookmark: Mapping[str, Any] | None,
    *,
    exact: bool,
) -> tuple[KeysetFilter, list[str]]:
    """Which rows of an INCREMENTAL stream to pass on, and the order to sort them in.

    The bookmark is read as every source reads it (`resume_position`): with `exact` (sorted
    rows) a bookmark with key values resumes strictly after that row. Without it the rows come
    in the tap's order, in which ties are not sorted by key: rows equal to the bookmark's value
    are passed again when the stream has key properties (they are upserted), and skipped when
    it has none (Weir commits such streams only after the last row of a value).

    Raises:
        CatalogError: the replication key or a key property is not a selected column.
        SourceError: a bookmark value does not fit its column's kind.
    """
    by_name = {c.name: c for c in columns}
    key, ties = incremental_keys(entry, by_name, among="selected columns")
    position = resume_position(bookmark, key, ties)
    if position is not None and position.strict and ties and not exact:
        position = ResumePosition({key: position.values[key]}, strict=False)

    def scalar(name: str, value: Any) -> pa.Scalar[Any]:
        converted: pa.Scalar[Any] = to_arrow([value], by_name[name], entry.stream)[0]
        return converted

    return KeysetFilter.of(key, position, scalar), [key, *ties]


def _checked_order(
    batches: _TapBatches, entry: CatalogEntry, keep: KeysetFilter
) -> Iterator[pa.RecordBatch]:
    """Pass batches on as the tap sent them, after the bookmark, checking their order."""
    last: pa.Scalar[Any] | None = None
    for batch in batches:
        kept = keep.keep(batch)
        if not kept.num_rows:
            continue
        rk = kept.column(keep.key)
        rows = kept.num_rows
        backwards = last is not None and pc.less(rk[0], last).as_py()
        if backwards or (rows > 1 and pc.any(pc.less(rk.slice(1), rk.slice(0, rows - 1))).as_py()):
            raise SourceError(
                f"Singer tap '{batches.source.name}' sent rows out of replication-key order "
                f"('{keep.key}' went down); resuming could lose rows. Use "
                "sort_incremental=True, or FULL_TABLE replication",
                stream=entry.stream,
            )
        last = rk[rows - 1]
        yield kept


def _sorted(
    batches: _TapBatches,
    columns: tuple[Column, ...],
    keep: KeysetFilter,
    order: Sequence[str],
    run_dir: Path,
) -> Iterator[pa.RecordBatch]:
    """Spill every batch to Parquet, then stream it back sorted by `order`.

    The tap must exit successfully before anything is passed on: a partial, sorted read could
    commit a bookmark past rows the tap had not sent yet. The last batch carries the tap's
    final state.
    """
    schema = arrow_schema(columns)
    spill = run_dir / "spill.parquet"
    writer: pq.ParquetWriter | None = None
    try:
        for batch in batches:
            kept = keep.keep(batch)
            if kept.num_rows:
                writer = writer or pq.ParquetWriter(spill, schema)
                writer.write_batch(kept.replace_schema_metadata(None))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        return
    state = batches.state
    size = batches.batch_size_rows
    spilled = pq.ParquetFile(spill).iter_batches(batch_size=size)
    held: pa.RecordBatch | None = None
    for batch in sorted_batches(
        spilled, schema, order, size, memory_limit=SORT_MEMORY_LIMIT, spill_dir=run_dir, threads=2
    ):
        if held is not None:
            yield held
        held = batch
    if held is not None:
        if state is not None:
            held = held.replace_schema_metadata({SINGER_STATE_METADATA_KEY: orjson.dumps(state)})
        yield held
