"""Block run logs: one JSON-lines file per block run, and `print()` routed into it.

Each line is one record: `{"timestamp": ISO-8601 UTC, "level": "INFO", "message": str,
"pipeline_uuid": str, "pipeline_run_id": int, "block_uuid": str, "stream": "logger|stdout|stderr"}`
plus `"exception"` (a formatted traceback) when one was logged. Blocks run in threads, so `print()`
is routed by a context variable that each block's thread sets, not by swapping `sys.stdout` per
block (which would race between threads).
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

_current_logger: contextvars.ContextVar[logging.Logger | None] = contextvars.ContextVar(
    "weir_block_logger", default=None
)


class JsonLinesFormatter(logging.Formatter):
    """Formats a record as one JSON object (see the module docstring for the keys)."""

    def __init__(self, context: dict[str, Any]) -> None:
        super().__init__()
        self._context = context

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line (without the newline)."""
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "message": record.getMessage(),
            **self._context,
            "stream": getattr(record, "stream", "logger"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def block_log_path(data_dir: Path, pipeline_run_id: int, block_uuid: str) -> Path:
    """Where a block run's log goes: `<data_dir>/logs/<run id>/<block uuid>.jsonl`."""
    return data_dir / "logs" / str(pipeline_run_id) / f"{block_uuid.replace('/', '__')}.jsonl"


@contextmanager
def block_run_logger(
    path: Path, *, pipeline_uuid: str, pipeline_run_id: int, block_uuid: str
) -> Iterator[logging.Logger]:
    """A logger writing JSON lines to `path`, closed on exit.

    The logger is not registered in `logging`'s global registry, so one per block run leaks nothing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.Logger(f"weir.block.{pipeline_run_id}.{block_uuid}", logging.DEBUG)
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(
        JsonLinesFormatter(
            {
                "pipeline_uuid": pipeline_uuid,
                "pipeline_run_id": pipeline_run_id,
                "block_uuid": block_uuid,
            }
        )
    )
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()


@contextmanager
def capture_prints(logger: logging.Logger) -> Iterator[None]:
    """Route `print()` output of the current thread (and only it) into `logger`."""
    token = _current_logger.set(logger)
    try:
        yield
    finally:
        _current_logger.reset(token)


class _RoutedStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: lines from a block's thread go to its log."""

    def __init__(self, original: IO[str], stream: str, level: int) -> None:
        self._original = original
        self._stream = stream
        self._level = level
        self._buffers = threading.local()

    def write(self, text: str) -> int:
        logger = _current_logger.get()
        if logger is None:
            return self._original.write(text)
        pending = getattr(self._buffers, "text", "") + text
        *lines, rest = pending.split("\n")
        self._buffers.text = rest
        for line in lines:
            logger.log(self._level, line, extra={"stream": self._stream})
        return len(text)

    def flush(self) -> None:
        self._original.flush()

    def isatty(self) -> bool:
        return self._original.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._original, "encoding", "utf-8")


@contextmanager
def routed_standard_streams() -> Iterator[None]:
    """Install the routing streams on sys.stdout/sys.stderr for the duration of a run."""
    original_out, original_err = sys.stdout, sys.stderr
    sys.stdout = _RoutedStream(original_out, "stdout", logging.INFO)
    sys.stderr = _RoutedStream(original_err, "stderr", logging.WARNING)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = original_out, original_err


def read_log_tail(path: Path, *, lines: int = 20) -> list[dict[str, Any]]:
    """The last `lines` records of a block run's log, oldest first; [] if there is no log."""
    if not path.is_file():
        return []
    with path.open("rb") as handle:
        tail = handle.readlines()[-lines:]
    return [orjson.loads(line) for line in tail if line.strip()]
