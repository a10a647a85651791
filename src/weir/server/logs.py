"""Reading block run logs for the API: the last lines, or the lines matching a text.

Logs are the engine's JSON-lines files, one per block run (`weir.engine.logs`). A tail reads
the file backwards in 64 KiB chunks, so its cost does not grow with the file; a search streams
the file once, matching the raw bytes before parsing, and keeps the newest matches.
"""

from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from weir.engine.logs import block_log_path
from weir.runs.records import PipelineRunRecord

__all__ = ["MAX_LINES", "run_log_files", "run_logs", "search_file", "tail_file"]

MAX_LINES: Final = 10_000
"""The most lines one request returns."""

_CHUNK: Final = 64 * 1024


def run_log_files(
    data_dir: Path, run: PipelineRunRecord, block_uuid: str | None = None
) -> list[tuple[str, Path]]:
    """The log file of each block run of `run` (or only `block_uuid`'s), as (block uuid, path)."""
    files: list[tuple[str, Path]] = []
    for block_run in run.block_runs:
        if block_uuid is not None and block_run.block_uuid != block_uuid:
            continue
        path = Path(block_run.log_path) if block_run.log_path else None
        files.append(
            (block_run.block_uuid, path or block_log_path(data_dir, run.id, block_run.block_uuid))
        )
    return files


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        # A line cut by a crash mid-write: show it as text rather than hide it.
        return {"message": line.decode("utf-8", "replace"), "level": "UNKNOWN"}
    return entry if isinstance(entry, dict) else None


def _lines_backwards(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            size = min(_CHUNK, position)
            position -= size
            handle.seek(position)
            chunk = handle.read(size) + rest
            lines = chunk.split(b"\n")
            rest = lines[0]
            yield from (line for line in reversed(lines[1:]) if line.strip())
        if rest.strip():
            yield rest


def tail_file(path: Path, lines: int) -> list[dict[str, Any]]:
    """The last `lines` entries of a JSON-lines log, oldest first; [] if there is no file."""
    if lines <= 0 or not path.is_file():
        return []
    newest: list[dict[str, Any]] = []
    for raw in _lines_backwards(path):
        entry = _parse(raw)
        if entry is not None:
            newest.append(entry)
        if len(newest) >= lines:
            break
    return newest[::-1]


def search_file(path: Path, text: str, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` entries whose message contains `text` (case-insensitive), oldest first.

    Args:
        path: the log file; no file gives [].
        text: the text to find in an entry's `message` (or its `exception`).
        limit: at most this many entries.
    """
    if limit <= 0 or not path.is_file():
        return []
    needle = text.casefold()
    needle_bytes = needle.encode()
    # A cheap byte test first, when JSON writes the text as is (no escapes, no case folding
    # beyond ASCII); otherwise every line is parsed.
    quick = needle.isascii() and needle.isprintable() and not {'"', "\\"} & set(needle)
    found: deque[dict[str, Any]] = deque(maxlen=limit)
    with path.open("rb") as handle:
        for raw in handle:
            if quick and needle_bytes not in raw.lower():
                continue
            entry = _parse(raw)
            if entry is None:
                continue
            haystack = f"{entry.get('message', '')}\n{entry.get('exception', '')}".casefold()
            if needle in haystack:
                found.append(entry)
    return list(found)


def _merged(per_file: Iterable[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    # Entries of one file are in time order; ISO-8601 UTC timestamps sort as text.
    ordered = heapq.merge(*per_file, key=lambda entry: str(entry.get("timestamp", "")))
    return list(deque(ordered, maxlen=limit))


def run_logs(
    files: list[tuple[str, Path]], *, lines: int, search: str | None = None
) -> list[dict[str, Any]]:
    """The log entries of several block runs, merged in time order, newest `lines` kept.

    Args:
        files: (block uuid, log path) pairs, from `run_log_files`.
        lines: at most this many entries in all (capped at `MAX_LINES`).
        search: when given, only entries whose message contains it (case-insensitive).

    Returns:
        Entries oldest first, each with `block_uuid` set.
    """
    lines = min(lines, MAX_LINES)
    per_file = []
    for block_uuid, path in files:
        entries = search_file(path, search, lines) if search else tail_file(path, lines)
        per_file.append([{**entry, "block_uuid": block_uuid} for entry in entries])
    return _merged(per_file, lines)
