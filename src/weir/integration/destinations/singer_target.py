"""Any Singer target as a destination: Arrow batches in, Singer JSON lines to its stdin.

`write` runs `target --config config.json` once per stream and writes to its stdin a SCHEMA
message, then for each batch its RECORDs (serialised column by column with Arrow and orjson)
followed by a STATE message carrying the batch's bookmark. A Singer target writes a STATE back
to its stdout once the records before it are committed; that echoed state is the committed
bookmark. Weir keeps it in a Singer state file per sync, `work_dir/state/<state_id>.json`
(`{"bookmarks": {stream: bookmark}}`, replaced atomically), since a target keeps no state of its
own; `read_bookmark` reads it. `on_batch` is called for a batch once its state is echoed, so
progress follows the target's commits (its own batch size decides how often it commits).

Guarantees: a target commits its rows and then echoes the state, so a sync killed in between
sends those rows again on resume. Streams with key properties are upserted by the target, so
nothing is duplicated; streams without keys are appended and may be (at-least-once). REPLACE
(FULL_TABLE) stamps each RECORD with the load's version and ends with an ACTIVATE_VERSION
message; whether rows of older versions are removed, and whether a failed load leaves the old
table untouched, is up to the target (pipelinewise-target-postgres ignores ACTIVATE_VERSION and
upserts; Meltano SDK targets delete older versions). If the batches fail, the target is
stopped (SIGTERM) rather than told the input ended, so it does not commit what it buffered.
Insert-if-absent (`unique_conflict_method: IGNORE`) cannot be asked of a Singer target and
fails the stream.

Each record also carries `_weir_synced_at` (when Weir sent the batch, UTC) and, for REPLACE,
`_weir_table_version`.

Type mapping (column kind -> JSON Schema sent in SCHEMA -> RECORD value; the last column is
what pipelinewise-target-postgres 2.1 creates, as an example of a target's own mapping):

| kind      | JSON Schema (nullable adds "null")        | RECORD value             | pipelinewise |
|-----------|-------------------------------------------|--------------------------|--------------|
| SMALLINT  | integer, 16-bit bounds                    | number                   | smallint     |
| INTEGER   | integer, 32-bit bounds                    | number                   | integer      |
| BIGINT    | integer, 64-bit bounds                    | number                   | bigint       |
| DECIMAL   | number, multipleOf 10^-s, bounds          | exact JSON number        | double prec. |
| NUMERIC   | string, format singer.decimal             | string                   | varchar      |
| DOUBLE    | number                                    | number (NaN, inf: null)  | double prec. |
| BOOLEAN   | boolean                                   | true / false             | boolean      |
| TEXT      | string                                    | string                   | varchar      |
| TIMESTAMP | string, format date-time                  | `2024-05-01T12:30:00.000000+00:00` | timestamp (1) |
| DATE      | string, format date                       | `2024-05-01`             | varchar      |
| TIME      | string, format time                       | `12:30:00.000000`        | time         |
| UUID      | string, format uuid                       | string                   | varchar      |
| JSON      | object or array                           | the JSON value itself    | jsonb        |

(1) pipelinewise-target-postgres creates `timestamp without time zone` and stores the UTC time.
"""

from __future__ import annotations

import logging
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from weir.integration._subprocess import (
    ConnectorProcess,
    atomic_write_json,
    connector_name,
    private_run_dir,
    write_private_json,
)
from weir.integration.base import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    Destination,
    LoadBatch,
    TableSpec,
    WriteDisposition,
)
from weir.integration.columns import Column, ColumnKind
from weir.integration.errors import ConnectorConfigError, DestinationError
from weir.integration.singer import (
    ActivateVersionMessage,
    Message,
    RecordMessage,
    SchemaMessage,
    State,
    StateMessage,
    format_message,
)

__all__ = ["BATCH_SEQUENCE_KEY", "CHECK_TIMEOUT_SECONDS", "SingerTargetDestination"]

BATCH_SEQUENCE_KEY = "_weir_batch"
"""Added to each bookmark sent to the target, to match an echoed state to its batch."""

CHECK_TIMEOUT_SECONDS = 60.0
"""How long `check` waits for the target to exit on empty input."""

_WRITE_CHUNK_ROWS = 2_000
_LOGGER = logging.getLogger(__name__)
_END = object()


class SingerTargetDestination(Destination):
    """Writes streams through an external Singer target (see the module docstring).

    Args:
        command: how to run the target, e.g. `["/venvs/target-postgres/bin/target-postgres"]`;
            Weir adds `--config <file>`.
        config: the target's configuration, written to a private file for each run.
        work_dir: where the state files (`state/<state_id>.json`) are kept and each run's
            config file is written (in a fresh directory removed after the run).
    """

    def __init__(
        self, command: Sequence[str], config: Mapping[str, Any], *, work_dir: Path
    ) -> None:
        if not command:
            raise ValueError("a Singer target command needs at least the executable")
        self.command = tuple(command)
        self.name = connector_name(command)
        self.work_dir = Path(work_dir)
        self._config = dict(config)

    def __repr__(self) -> str:
        return f"SingerTargetDestination({self.name!r}, work_dir={str(self.work_dir)!r})"

    def state_path(self, state_id: str) -> Path:
        """The Singer state file of sync `state_id`: `work_dir/state/<state_id>.json`."""
        return self.work_dir / "state" / f"{quote(state_id, safe='')}.json"

    def check(self) -> None:
        """Start the target with its config and no input, and expect it to exit cleanly.

        Singer has no connection check; this catches a missing executable and a config the
        target rejects on start, but most targets connect only when the first SCHEMA arrives.

        Raises:
            ConnectorConfigError: the target cannot be started, exits non-zero, or is still
                running after `CHECK_TIMEOUT_SECONDS`.
        """
        with (
            private_run_dir(self.work_dir, "singer-check-") as run_dir,
            self._start(run_dir) as process,
        ):
            process.stdin.close()
            process.stdout.read()
            try:
                code = process.wait(CHECK_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired as exc:
                raise ConnectorConfigError(
                    f"Singer target '{self.name}' did not exit within {CHECK_TIMEOUT_SECONDS:.0f}"
                    " s of an empty input"
                ) from exc
            if code != 0:
                raise ConnectorConfigError(f"Singer target {process.failure(code)}")

    def read_state(self, state_id: str) -> State:
        """The committed Singer state of sync `state_id` (empty when nothing was committed).

        Raises:
            DestinationError: the state file exists but cannot be read or is not a state.
        """
        path = self.state_path(state_id)
        try:
            return State.from_dict(orjson.loads(path.read_bytes()))
        except FileNotFoundError:
            return State()
        except (OSError, ValueError) as exc:
            raise DestinationError(
                f"the Singer state file {path} cannot be read: {exc}; fix or delete it (deleting "
                "it makes the next sync start from the beginning)"
            ) from exc

    def read_bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        """Return the bookmark the target last confirmed for `stream`, or None.

        Raises:
            DestinationError: the state file cannot be read.
        """
        return self.read_state(state_id).bookmark(stream)

    def write(
        self,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Send a stream through the target (see `Destination.write` and the module docstring).

        Returns:
            The number of rows sent; the target exited cleanly after reading them.

        Raises:
            DestinationError: the target cannot be started, exits non-zero (the message has
                its exit code and last stderr lines), or the stream asks for IGNORE.
        """
        if spec.disposition is WriteDisposition.MERGE_IGNORE:
            raise DestinationError(
                "Singer targets upsert on key properties and cannot insert only absent rows; "
                "set unique_conflict_method to UPDATE for this stream",
                stream=spec.stream,
            )
        notify = on_batch or (lambda _rows: None)
        with private_run_dir(self.work_dir, "singer-target-") as run_dir:
            try:
                process = self._start(run_dir)
            except ConnectorConfigError as exc:
                raise DestinationError(str(exc), stream=spec.stream) from exc
            with process:
                return _Session(self, process, spec, notify).run(batches)

    def _start(self, run_dir: Path) -> ConnectorProcess:
        config = run_dir / "config.json"
        write_private_json(config, self._config)
        try:
            return ConnectorProcess(
                [*self.command, "--config", str(config)],
                name=self.name,
                logger=_LOGGER,
                stdin=True,
                cwd=run_dir,
            )
        except OSError as exc:
            raise ConnectorConfigError(
                f"cannot start Singer target '{self.name}' ({self.command[0]}): {exc}; check "
                "the command and that the target is installed"
            ) from exc

    def _save(self, state_id: str, stream: str, bookmark: Mapping[str, Any]) -> None:
        state = self.read_state(state_id).with_bookmark(stream, bookmark)
        atomic_write_json(self.state_path(state_id), state.to_dict())


@dataclass(slots=True)
class _Pending:
    """A STATE sent to the target and not yet echoed: its sequence number, rows and bookmark."""

    sequence: int
    rows: int
    bookmark: Mapping[str, Any]


class _Session:
    """One run of the target for one stream: write messages, collect echoed states."""

    def __init__(
        self,
        destination: SingerTargetDestination,
        process: ConnectorProcess,
        spec: TableSpec,
        notify: Callable[[int], None],
    ) -> None:
        self.destination, self.process, self.spec, self.notify = destination, process, spec, notify
        self.replace = spec.disposition is WriteDisposition.REPLACE
        self.pending: deque[_Pending] = deque()
        self.sequence = 0
        self.echoes: queue.Queue[object] = queue.Queue()
        self.reader = threading.Thread(target=self._read_stdout, daemon=True)
        self.reader.start()

    def run(self, batches: Iterable[LoadBatch]) -> int:
        try:
            sent, unconfirmed = self._send_all(batches)
        except BrokenPipeError:
            self._drain(until_end=True)
            code = self.process.wait()
            raise DestinationError(
                f"Singer target stopped reading its input: {self.process.failure(code)}",
                stream=self.spec.stream,
            ) from None
        except BaseException:
            self.process.stop()
            self._drain(until_end=True)
            raise
        self._drain(until_end=True)
        code = self.process.wait()
        if code != 0:
            raise DestinationError(
                f"Singer target {self.process.failure(code)}", stream=self.spec.stream
            )
        if self.pending:
            _LOGGER.warning(
                "%s exited without confirming the last state of stream '%s'; its bookmark is "
                "not saved, so the next sync sends those rows again",
                self.process.name,
                self.spec.stream,
            )
        for rest in [*(p.rows for p in self.pending), unconfirmed]:
            if rest:
                self.notify(rest)
        return sent

    def _send_all(self, batches: Iterable[LoadBatch]) -> tuple[int, int]:
        """Write every message; return rows sent and rows sent after the last STATE."""
        spec = self.spec
        self._send([format_message(SchemaMessage(spec.table, _schema(spec), spec.merge_keys))])
        sent = unconfirmed = 0
        last_bookmark: Mapping[str, Any] | None = None
        for batch in batches:
            rows = batch.records.num_rows
            self._send(_record_lines(batch.records, spec))
            sent += rows
            if self.replace:
                self.notify(rows)
                last_bookmark = batch.bookmark or last_bookmark
            else:
                unconfirmed += rows
                if batch.bookmark is not None:
                    self._send_state(unconfirmed, batch.bookmark)
                    unconfirmed = 0
            self._drain(until_end=False)
        if self.replace and spec.version is not None:
            self._send([format_message(ActivateVersionMessage(spec.table, spec.version))])
        if last_bookmark is not None:
            self._send_state(0, last_bookmark)
        self.process.stdin.close()
        return sent, unconfirmed

    def _send(self, lines: Iterable[bytes]) -> None:
        stdin = self.process.stdin
        for line in lines:
            stdin.write(line)
        stdin.flush()

    def _send_state(self, rows: int, bookmark: Mapping[str, Any]) -> None:
        self.sequence += 1
        tagged = {**bookmark, BATCH_SEQUENCE_KEY: self.sequence}
        message: Message = StateMessage({"bookmarks": {self.spec.table: tagged}})
        self._send([format_message(message)])
        self.pending.append(_Pending(self.sequence, rows, dict(bookmark)))

    # -- echoed states --------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        try:
            for line in self.process.stdout:
                if line.strip():
                    self.echoes.put(line)
        except (OSError, ValueError):
            pass  # stdout closed because the target was stopped
        finally:
            self.echoes.put(_END)

    def _drain(self, *, until_end: bool) -> None:
        while True:
            try:
                line = self.echoes.get(block=until_end)
            except queue.Empty:
                return
            if line is _END:
                return
            assert isinstance(line, bytes)
            self._confirm(line)

    def _confirm(self, line: bytes) -> None:
        """Save the bookmark of an echoed state and report the batches it confirms."""
        echoed = _echoed_bookmark(line, self.spec.table)
        if echoed is None:
            _LOGGER.debug("%s printed: %s", self.process.name, line[:200])
            return
        sequence = echoed.get(BATCH_SEQUENCE_KEY)
        if not isinstance(sequence, int):
            plain = {k: v for k, v in echoed.items() if k != BATCH_SEQUENCE_KEY}
            sequence = next((p.sequence for p in self.pending if p.bookmark == plain), None)
        if sequence is None or not any(p.sequence == sequence for p in self.pending):
            _LOGGER.debug("%s echoed a state Weir did not send: %s", self.process.name, echoed)
            return
        while self.pending and self.pending[0].sequence <= sequence:
            done = self.pending.popleft()
            if done.sequence == sequence:
                self.destination._save(self.spec.state_id, self.spec.stream, done.bookmark)
            if done.rows:
                self.notify(done.rows)


def _echoed_bookmark(line: bytes, stream: str) -> Mapping[str, Any] | None:
    """The stream's bookmark in a line a target printed (a bare state or a STATE message)."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict) and value.get("type") == "STATE":
        value = value.get("value")
    if not isinstance(value, dict) or not isinstance(value.get("bookmarks"), dict):
        return None
    bookmark = value["bookmarks"].get(stream)
    return bookmark if isinstance(bookmark, dict) else None


# -- Arrow -> Singer ---------------------------------------------------------------------------
def _schema(spec: TableSpec) -> dict[str, Any]:
    """The SCHEMA message's JSON Schema: the columns, then Weir's own columns."""
    properties = {c.name: c.json_schema() for c in spec.columns}
    properties[SYNCED_AT_COLUMN] = {"type": ["null", "string"], "format": "date-time"}
    if spec.disposition is WriteDisposition.REPLACE:
        properties[TABLE_VERSION_COLUMN] = {"type": ["null", "integer"]}
    return {"type": "object", "properties": properties}


def _record_lines(batch: pa.RecordBatch, spec: TableSpec) -> Iterator[bytes]:
    """The batch as RECORD lines, `_WRITE_CHUNK_ROWS` rows joined into one bytes at a time."""
    replace = spec.disposition is WriteDisposition.REPLACE
    version = spec.version if replace else None
    names = [c.name for c in spec.columns]
    extra: dict[str, Any] = {SYNCED_AT_COLUMN: datetime.now(UTC).isoformat()}
    if replace:
        extra[TABLE_VERSION_COLUMN] = spec.version
    for start in range(0, batch.num_rows, _WRITE_CHUNK_ROWS):
        chunk = batch.slice(start, _WRITE_CHUNK_ROWS)
        values = [_json_values(chunk.column(i), column) for i, column in enumerate(spec.columns)]
        yield b"".join(
            format_message(
                RecordMessage(spec.table, {**dict(zip(names, row, strict=True)), **extra}, version)
            )
            for row in zip(*values, strict=True)
        )


def _json_values(array: pa.Array[Any], column: Column) -> list[Any]:
    """A column's values as what orjson writes for them (see the module table)."""
    kind = column.kind
    if kind is ColumnKind.TIMESTAMP:
        utc: Any = array.cast(pa.timestamp("us", tz="UTC"))
        stamps: pa.Array[Any] = pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S%Ez")
        return stamps.to_pylist()
    if kind in (ColumnKind.DATE, ColumnKind.TIME):
        return array.cast(pa.string()).to_pylist()
    if kind in (ColumnKind.DECIMAL, ColumnKind.JSON):
        # Decimals as their exact text, JSON as the document: both written verbatim.
        text = array.cast(pa.string()).to_pylist()
        return [None if v is None else orjson.Fragment(v) for v in text]
    return array.to_pylist()
