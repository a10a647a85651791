"""The Parquet destination's manifest: the one truth about a table's files, committed atomically.

The manifest (`MANIFEST_FILE` in the table's folder) lists the table's data files, its columns
(as JSON Schema), its partition columns, the load version and the bookmark of each (state id,
stream). A batch is committed by writing its files (each to a hidden temporary name, fsynced,
then renamed), then replacing the manifest atomically with `commit_manifest`: a new manifest
written to a temporary file, fsynced, renamed over the old one, folder fsynced. A sync killed
at any moment leaves either the old manifest or the new one; files written but not yet listed
are orphans, which nothing reads and which `sweep` deletes before the next write to the table
(with old data folders and stray temporary files). One sync writes a table at a time: `locked`
holds the table's `LOCK_FILE` with `flock`, which the OS releases when the process dies.

Format (version 1), JSON: `format_version`, `table`, `generation` (one more per commit),
`data_dir`, `columns` (`[{"name", "schema"}]`), `partition_by`, `table_version`, `files`
(`[{"path", "rows", "partition", "key_range"}]`, paths relative to the table folder),
`bookmarks` (`{"<state_id>/<stream>": {...}}`) and `committed_at`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from weir.integration.base import SYNCED_AT_COLUMN, TABLE_VERSION_COLUMN, TableSpec
from weir.integration.columns import Column, arrow_schema
from weir.integration.errors import DestinationError

__all__ = [
    "LOCK_FILE",
    "MANIFEST_FILE",
    "SYNCED_AT_FIELD",
    "VERSION_FIELD",
    "DataFile",
    "Manifest",
    "commit_manifest",
    "fsync_path",
    "locked",
    "read_manifest",
    "remove_tree",
    "sweep",
]

MANIFEST_FILE = "_weir_manifest.json"
"""The committed state of a table, in its folder."""

LOCK_FILE = "_weir.lock"
"""Locked (`flock`) by the sync writing a table."""

SYNCED_AT_FIELD = pa.field(SYNCED_AT_COLUMN, pa.timestamp("us", tz="UTC"))
"""The `_weir_synced_at` column every row gets."""

VERSION_FIELD = pa.field(TABLE_VERSION_COLUMN, pa.int64())
"""The `_weir_table_version` column of tables a REPLACE wrote."""


@dataclass(frozen=True, slots=True)
class DataFile:
    """One committed file: its path under the table folder, rows and partition values.

    `key_range` is (column, min, max) of the first merge key when the file was written with an
    integer or text merge key: a MERGE batch whose keys fall outside it skips the file.
    """

    path: str
    rows: int
    partition: Mapping[str, str] = field(default_factory=dict)
    key_range: tuple[str, Any, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The file's entry in the manifest's `files` list."""
        key_range = list(self.key_range) if self.key_range else None
        return {
            "path": self.path,
            "rows": self.rows,
            "partition": dict(self.partition),
            "key_range": key_range,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataFile:
        """Read an entry of the manifest's `files` list."""
        key_range = data.get("key_range")
        return cls(
            data["path"],
            data["rows"],
            data.get("partition") or {},
            (key_range[0], key_range[1], key_range[2]) if key_range else None,
        )

    def may_hold(self, column: str, low: Any, high: Any) -> bool:
        """False only when the file's key range shows no key in [low, high]."""
        if self.key_range is None or self.key_range[0] != column:
            return True
        _name, first, last = self.key_range
        return not (last < low or first > high)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A table as committed: see the module docstring."""

    table: str
    data_dir: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = ()
    files: tuple[DataFile, ...] = ()
    bookmarks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    table_version: int | None = None
    generation: int = 0

    @property
    def schema(self) -> pa.Schema:
        """The table's Arrow schema: its columns, `_weir_synced_at`, the version if any."""
        fields = [*arrow_schema(self.columns), SYNCED_AT_FIELD]
        if self.table_version is not None:
            fields.append(VERSION_FIELD)
        return pa.schema(fields)

    def bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        """The bookmark committed for (`state_id`, `stream`), or None."""
        key = _bookmark_key(state_id, stream)
        return self.bookmarks.get(key)

    def with_bookmark(self, spec: TableSpec, bookmark: Mapping[str, Any] | None) -> Manifest:
        """A copy holding `bookmark` for the spec's (state id, stream); None keeps the old one."""
        if bookmark is None:
            return self
        key = _bookmark_key(spec.state_id, spec.stream)
        return replace(self, bookmarks={**self.bookmarks, key: dict(bookmark)})

    def to_bytes(self) -> bytes:
        """The manifest as indented JSON (see the module docstring), stamped `committed_at`."""
        data = {
            "format_version": 1,
            "table": self.table,
            "generation": self.generation,
            "data_dir": self.data_dir,
            "columns": [{"name": c.name, "schema": c.json_schema()} for c in self.columns],
            "partition_by": list(self.partition_by),
            "table_version": self.table_version,
            "files": [f.to_dict() for f in self.files],
            "bookmarks": dict(self.bookmarks),
            "committed_at": datetime.now(UTC).isoformat(),
        }
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse a manifest file's bytes.

        Raises:
            orjson.JSONDecodeError, KeyError, TypeError, ValueError: it is not a manifest.
        """
        raw = orjson.loads(data)
        return cls(
            table=raw["table"],
            data_dir=raw["data_dir"],
            columns=tuple(Column.from_json_schema(c["name"], c["schema"]) for c in raw["columns"]),
            partition_by=tuple(raw["partition_by"]),
            files=tuple(DataFile.from_dict(f) for f in raw["files"]),
            bookmarks=raw["bookmarks"],
            table_version=raw["table_version"],
            generation=raw["generation"],
        )


def _bookmark_key(state_id: str, stream: str) -> str:
    """Bookmarks are keyed `<state_id>/<stream>` (JSON object keys must be text)."""
    return f"{state_id}/{stream}"


def read_manifest(folder: Path, stream: str) -> Manifest | None:
    """The committed manifest of the table in `folder`, or None when it has none yet.

    Raises:
        DestinationError: the manifest exists but cannot be read or parsed.
    """
    path = folder / MANIFEST_FILE
    try:
        return Manifest.from_bytes(path.read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DestinationError(
            f"cannot read the manifest {path}: {exc}; restore it, or delete the table's "
            "folder and run a FULL_TABLE sync",
            stream=stream,
        ) from exc


def commit_manifest(folder: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically and durably (temporary file, fsync, rename, fsync)."""
    temporary = folder / f".{MANIFEST_FILE}.{secrets.token_hex(4)}.tmp"
    with temporary.open("wb") as out:
        out.write(manifest.to_bytes())
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(folder / MANIFEST_FILE)
    fsync_path(folder)


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def locked(folder: Path, stream: str) -> Iterator[None]:
    """Hold the table's lock file (released by the OS when the process dies)."""
    with (folder / LOCK_FILE).open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DestinationError(
                f"another sync is writing Parquet table {folder}; retry when it has finished",
                stream=stream,
                retriable=True,
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def sweep(folder: Path, manifest: Manifest | None) -> None:
    """Delete what the manifest does not list: orphan files, old data folders, temporaries."""
    keep = {MANIFEST_FILE, LOCK_FILE}
    listed = {f.path for f in manifest.files} if manifest else set()
    current = manifest.data_dir if manifest else None
    for entry in folder.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and entry.name == current:
            _sweep_data(folder, entry, listed)
        elif entry.is_dir():
            remove_tree(entry)
        else:
            entry.unlink()


def _sweep_data(folder: Path, data_dir: Path, listed: set[str]) -> None:
    for path in sorted(data_dir.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()  # only succeeds once empty
        elif relative not in listed:
            path.unlink()


def remove_tree(path: Path) -> None:
    """Delete a folder and everything below it (links themselves, not their targets)."""
    if not path.exists():
        return
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir() and not child.is_symlink():
            child.rmdir()
        else:
            child.unlink()
    path.rmdir()
