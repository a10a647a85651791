"""Parquet destination: one folder of Parquet files per stream, committed through a manifest.

Layout of a table (named after its stream) under `root`:

```
root/<table>/_weir_manifest.json          the committed table: schema, files, bookmarks
root/<table>/_weir.lock                   held (flock) by the one sync writing the table
root/<table>/v<version>-<token>/          the data folder; REPLACE starts a new one
    [<col>=<value>/...]part-<n>-<token>.parquet
```

Exactly once. The manifest is the only truth about a table: its files, columns and bookmarks,
replaced atomically once a batch's files are durable, so a sync killed at any moment leaves the
old manifest or the new one (see `weir.integration.destinations._parquet_manifest`). Files not
listed are orphans, deleted before the next write. Readers must read the manifest's files:
`dataset()` and `read_table()` do; a plain glob over the folder may see orphans after a crash
until the next write. One sync writes a table at a time (a second one fails with a retriable
`DestinationError`).

Dispositions:
- REPLACE writes every batch into a new data folder, then commits a manifest naming only that
  folder's files: the swap is the manifest's rename, and a failed load leaves the old table.
  The old folder is deleted after the commit.
- APPEND adds each batch's files, one commit per batch.
- MERGE_UPDATE / MERGE_IGNORE keep the last row of each key within a batch, then find the
  table's rows with the batch's keys by reading the key columns of the candidate files: the files
  of the partitions the batch touches when every partition column is a merge key (a row cannot
  move partition then), else every file of the table. UPDATE rewrites each file holding a
  matching row without those rows and adds the batch; IGNORE drops the batch rows whose key
  exists. The rewritten files, the new files and the bookmark are one commit. A batch therefore
  reads the key columns of the whole table (or of its partitions): prefer large batches.

Partitioning (`partition_by`): Hive-style folders `<col>=<value>` (values percent-encoded, NULL
as `__HIVE_DEFAULT_PARTITION__`); the partition columns are not stored inside the files, as
Hive, Spark, DuckDB (`hive_partitioning`) and pyarrow expect. Partition columns may be
SMALLINT, INTEGER, BIGINT, TEXT, UUID, DATE or BOOLEAN columns. A table keeps the partitioning
it was created with until a FULL_TABLE sync rebuilds it.

Schema: the manifest holds the columns (as JSON Schema). New source columns are added and
widening types widened in the manifest only; older files are read through it (missing columns
as NULL, narrower types cast up). An incompatible change fails before anything is written.
Every row gets `_weir_synced_at` (when its batch was written; for REPLACE, when the load began)
and REPLACE rows `_weir_table_version`.

Type mapping (column kind -> Parquet, as pyarrow writes each Arrow type):

| kind      | Arrow              | Parquet physical / logical type         |
|-----------|--------------------|-----------------------------------------|
| SMALLINT  | int16              | INT32 / INT(16, signed)                 |
| INTEGER   | int32              | INT32 / INT(32, signed)                 |
| BIGINT    | int64              | INT64 / INT(64, signed)                 |
| DECIMAL   | decimal128(p, s)   | INT32, INT64 or FIXED_LEN_BYTE_ARRAY / DECIMAL(p, s) |
| NUMERIC   | string             | BYTE_ARRAY / STRING (exact decimal text) |
| DOUBLE    | float64            | DOUBLE                                  |
| BOOLEAN   | bool               | BOOLEAN                                 |
| TEXT      | string             | BYTE_ARRAY / STRING                     |
| TIMESTAMP | timestamp[us, UTC] | INT64 / TIMESTAMP(MICROS, UTC-adjusted) |
| DATE      | date32             | INT32 / DATE                            |
| TIME      | time64[us]         | INT64 / TIME(MICROS)                    |
| UUID      | string             | BYTE_ARRAY / STRING                     |
| JSON      | string             | BYTE_ARRAY / STRING (JSON text)         |
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from weir.integration.base import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    Destination,
    LoadBatch,
    TableSpec,
    WriteDisposition,
)
from weir.integration.columns import ColumnKind
from weir.integration.destinations._parquet_manifest import (
    LOCK_FILE,
    MANIFEST_FILE,
    SYNCED_AT_FIELD,
    VERSION_FIELD,
    DataFile,
    Manifest,
    commit_manifest,
    fsync_path,
    locked,
    read_manifest,
    remove_tree,
    sweep,
)
from weir.integration.errors import ConnectorConfigError, DestinationError
from weir.integration.schema_change import plan_table_change

__all__ = ["LOCK_FILE", "MANIFEST_FILE", "ParquetDestination"]

_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_PARTITION_KINDS = frozenset(
    {
        ColumnKind.SMALLINT,
        ColumnKind.INTEGER,
        ColumnKind.BIGINT,
        ColumnKind.TEXT,
        ColumnKind.UUID,
        ColumnKind.DATE,
        ColumnKind.BOOLEAN,
    }
)
_ORDER = "_weir_ord"
_RANGE_KINDS = frozenset(
    {ColumnKind.SMALLINT, ColumnKind.INTEGER, ColumnKind.BIGINT, ColumnKind.TEXT, ColumnKind.UUID}
)


class ParquetDestination(Destination):
    """Writes each stream as a folder of Parquet files under `root` (created if missing).

    Args:
        root: the folder holding one folder per table.
        partition_by: stream name -> the columns to partition that stream's table by (Hive
            style, in this order); a single column may be given as a string. Other streams are
            not partitioned.

    Raises:
        TypeError: `partition_by` is not a mapping of stream names to columns.
    """

    def __init__(
        self, root: str | Path, *, partition_by: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        if partition_by is not None and not isinstance(partition_by, Mapping):
            raise TypeError(
                "partition_by maps each stream name to its partition columns, e.g. "
                f"{{'orders': ['day']}}; got {partition_by!r}"
            )
        self.root = Path(root)
        self.partition_by = {
            stream: (columns,) if isinstance(columns, str) else tuple(columns)
            for stream, columns in (partition_by or {}).items()
        }

    def __repr__(self) -> str:
        return f"ParquetDestination({str(self.root)!r}, partition_by={self.partition_by!r})"

    # -- the Destination interface -------------------------------------------------------------
    def check(self) -> None:
        """Create `root` if missing and check a file can be written there.

        Raises:
            ConnectorConfigError: the folder cannot be created or written.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".weir-check-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConnectorConfigError(
                f"cannot write Parquet files under {self.root}: {exc}"
            ) from exc

    def read_bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        """Return the bookmark committed with the table's files, or None.

        The table named after the stream is looked at first, then every other table's
        manifest (a stream written under another table name).

        Raises:
            DestinationError: a manifest cannot be read.
        """
        folders = [self.root / stream]
        if self.root.is_dir():
            folders += sorted(p for p in self.root.iterdir() if p.name != stream)
        for folder in folders:
            manifest = read_manifest(folder, stream)
            found = manifest.bookmark(state_id, stream) if manifest else None
            if found is not None:
                return found
        return None

    def write(
        self,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Write a stream (see `Destination.write` and the module docstring).

        Raises:
            ConnectorConfigError: the table name or the partition columns are not usable.
            SchemaChangeError: an incompatible column change; nothing was written.
            DestinationError: writing failed (retriable when another sync holds the table);
                committed batches stay.
        """
        notify = on_batch or (lambda _rows: None)
        folder = self._folder(spec)
        reserved = [
            c.name for c in spec.columns if c.name in (SYNCED_AT_COLUMN, TABLE_VERSION_COLUMN)
        ]
        if reserved:
            raise ConnectorConfigError(
                f"the stream has columns {reserved}, which this destination adds itself (the "
                "source is probably a table Weir wrote); deselect them in the catalog",
                stream=spec.stream,
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with locked(folder, spec.stream):
                old = read_manifest(folder, spec.stream)
                sweep(folder, old)
                if spec.disposition is WriteDisposition.REPLACE:
                    return self._replace(folder, spec, old, batches, notify)
                return self._write_batches(folder, spec, old, batches, notify)
        except (OSError, pa.ArrowException) as exc:
            raise DestinationError(
                f"writing Parquet table {folder} failed: {exc}; fix the cause and run it again",
                stream=spec.stream,
            ) from exc

    # -- reading what was committed ------------------------------------------------------------
    def dataset(self, table: str) -> ds.Dataset:
        """The committed files of `table` as a pyarrow dataset, partition columns included.

        Raises:
            DestinationError: the table has never been committed.
        """
        folder = self.root / table
        manifest = read_manifest(folder, table)
        if manifest is None:
            raise DestinationError(f"no Parquet table {folder} has been committed", stream=table)
        return _dataset(folder, manifest, manifest.files)

    def read_table(self, table: str) -> pa.Table:
        """Read every committed row of `table` (for tests and small tables).

        Raises:
            DestinationError: the table has never been committed.
        """
        return self.dataset(table).to_table()

    def files(self, table: str) -> list[Path]:
        """The committed files of `table` (empty when there is no such table)."""
        folder = self.root / table
        manifest = read_manifest(folder, table)
        return [folder / f.path for f in manifest.files] if manifest else []

    # -- REPLACE --------------------------------------------------------------------------------
    def _replace(
        self,
        folder: Path,
        spec: TableSpec,
        old: Manifest | None,
        batches: Iterable[LoadBatch],
        notify: Callable[[int], None],
    ) -> int:
        partition_by = self._partition_columns(spec)
        manifest = Manifest(
            table=spec.table,
            data_dir=f"v{spec.version or 0}-{secrets.token_hex(4)}",
            columns=spec.columns,
            partition_by=partition_by,
            bookmarks=old.bookmarks if old else {},
            table_version=spec.version or 0,
            generation=(old.generation if old else 0) + 1,
        )
        writer = _FileWriter(folder, manifest, spec)
        started = datetime.now(UTC)
        files: list[DataFile] = []
        rows = 0
        bookmark: Mapping[str, Any] | None = None
        for batch in batches:
            table = _stamped(batch.records, started, spec.version or 0)
            files += writer.write(table)
            rows += batch.records.num_rows
            bookmark = batch.bookmark if batch.bookmark is not None else bookmark
            notify(batch.records.num_rows)
        writer.sync_folders()
        commit_manifest(folder, replace(manifest, files=tuple(files)).with_bookmark(spec, bookmark))
        if old is not None and old.data_dir != manifest.data_dir:
            remove_tree(folder / old.data_dir)
        return rows

    # -- APPEND / MERGE -------------------------------------------------------------------------
    def _write_batches(
        self,
        folder: Path,
        spec: TableSpec,
        old: Manifest | None,
        batches: Iterable[LoadBatch],
        notify: Callable[[int], None],
    ) -> int:
        manifest = self._evolved(spec, old)
        total = 0
        for batch in batches:
            writer = _FileWriter(folder, manifest, spec)
            removed: list[DataFile] = []
            added: list[DataFile] = []
            if batch.records.num_rows:
                table = _stamped(batch.records, datetime.now(UTC), None)
                if spec.disposition is not WriteDisposition.APPEND:
                    table, removed, added = _merge(folder, manifest, spec, table, writer)
                added += writer.write(table)
            writer.sync_folders()
            gone = {f.path for f in removed}
            files = (*(f for f in manifest.files if f.path not in gone), *added)
            manifest = replace(manifest, files=files, generation=manifest.generation + 1)
            manifest = manifest.with_bookmark(spec, batch.bookmark)
            commit_manifest(folder, manifest)
            for data_file in removed:
                with contextlib.suppress(FileNotFoundError):
                    (folder / data_file.path).unlink()
            total += batch.records.num_rows
            notify(batch.records.num_rows)
        return total

    def _evolved(self, spec: TableSpec, old: Manifest | None) -> Manifest:
        """The manifest with the stream's new columns added and widened ones widened."""
        partition_by = self._partition_columns(spec)
        if old is None:
            return Manifest(spec.table, f"v0-{secrets.token_hex(4)}", spec.columns, partition_by)
        if old.partition_by != partition_by:
            raise ConnectorConfigError(
                f"Parquet table {spec.table} is partitioned by {list(old.partition_by)} but "
                f"partition_by asks for {list(partition_by)}; set it back, or run a FULL_TABLE "
                "sync to rebuild the table",
                stream=spec.stream,
            )
        existing = {c.name: c for c in old.columns}
        change = plan_table_change(
            existing, set(), spec.columns, stream=spec.stream, table=str(self.root / spec.table)
        )
        widened = {c.name: c for c in change.widen}
        columns = tuple(widened.get(c.name, c) for c in old.columns) + change.add
        return replace(old, columns=columns)

    # -- helpers --------------------------------------------------------------------------------
    def _folder(self, spec: TableSpec) -> Path:
        name = spec.table
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise ConnectorConfigError(
                f"table name {name!r} cannot be a folder name; rename the stream",
                stream=spec.stream,
            )
        return self.root / name

    def _partition_columns(self, spec: TableSpec) -> tuple[str, ...]:
        wanted = self.partition_by.get(spec.stream, ())
        kinds = {c.name: c.kind for c in spec.columns}
        bad = [c for c in wanted if kinds.get(c) not in _PARTITION_KINDS]
        if bad:
            raise ConnectorConfigError(
                f"cannot partition by {bad}: each partition column must be a column of the "
                "stream of kind SMALLINT, INTEGER, BIGINT, TEXT, UUID, DATE or BOOLEAN; fix "
                "partition_by",
                stream=spec.stream,
            )
        return wanted


# -- writing files ------------------------------------------------------------------------------
class _FileWriter:
    """Writes tables as Parquet files into a manifest's data folder, partitioned as it says."""

    def __init__(self, folder: Path, manifest: Manifest, spec: TableSpec) -> None:
        self.folder, self.manifest = folder, manifest
        self.touched: set[Path] = set()
        first = next((c for c in spec.columns if spec.merge_keys[:1] == (c.name,)), None)
        self.range_key = first.name if first is not None and first.kind in _RANGE_KINDS else None

    def write(self, table: pa.Table) -> list[DataFile]:
        """Write `table` (one file per partition); return the files, not yet committed."""
        if not table.num_rows:
            return []
        keys = list(self.manifest.partition_by)
        if not keys:
            return [self._write_file(table, {})]
        written = []
        for values in (
            table.select(keys).group_by(keys, use_threads=False).aggregate([]).to_pylist()
        ):
            part = table.filter(_equal_mask(table, values))
            written.append(self._write_file(part, {k: _partition_text(values[k]) for k in keys}))
        return written

    def _write_file(self, rows: pa.Table, partition: Mapping[str, str]) -> DataFile:
        key_range = _key_range(rows, self.range_key)
        table = rows.drop_columns(list(partition))
        parts = [
            self.manifest.data_dir,
            *(f"{quote(k, safe='')}={v}" for k, v in partition.items()),
        ]
        directory = self.folder.joinpath(*parts)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"part-{self.manifest.generation:06d}-{secrets.token_hex(6)}.parquet"
        temporary = directory / f".{name}.tmp"
        pq.write_table(table, temporary)
        fsync_path(temporary)
        temporary.replace(directory / name)
        # The new file's folder, and each new folder's entry in its parent, must be durable.
        self.touched.update(
            p for p in (directory, *directory.parents) if p.is_relative_to(self.folder)
        )
        return DataFile("/".join([*parts, name]), table.num_rows, dict(partition), key_range)

    def sync_folders(self) -> None:
        """Make the renames durable before the manifest names the files."""
        for directory in self.touched:
            fsync_path(directory)
        self.touched.clear()


def _key_range(table: pa.Table, column: str | None) -> tuple[str, Any, Any] | None:
    if column is None or column not in table.column_names:
        return None
    bounds = _bounds(table, column)
    return None if bounds is None else (column, *bounds)


def _bounds(table: pa.Table, column: str) -> tuple[Any, Any] | None:
    """(min, max) of a column's values, or None when it holds no value."""
    found: Any = pc.min_max(table.column(column)).as_py()
    if not found or found["min"] is None:
        return None
    return found["min"], found["max"]


def _partition_text(value: object) -> str:
    """A partition value as its Hive folder text (percent-encoded; NULL as Hive's marker)."""
    if value is None:
        return _HIVE_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return quote(str(value), safe="")


def _equal_mask(table: pa.Table, values: Mapping[str, Any]) -> Any:
    mask: Any = None
    for name, value in values.items():
        column = table.column(name)
        same: Any = pc.is_null(column)
        if value is not None:
            same = pc.fill_null(pc.equal(column, value), pa.scalar(False))
        mask = same if mask is None else pc.and_(mask, same)
    return mask


def _stamped(batch: pa.RecordBatch, synced_at: datetime, version: int | None) -> pa.Table:
    table = pa.Table.from_batches([batch])
    stamp = pa.repeat(pa.scalar(synced_at, SYNCED_AT_FIELD.type), table.num_rows)
    table = table.append_column(SYNCED_AT_FIELD, stamp)
    if version is not None:
        versions = pa.repeat(pa.scalar(version, pa.int64()), table.num_rows)
        table = table.append_column(VERSION_FIELD, versions)
    return table


# -- merging ------------------------------------------------------------------------------------
def _merge(
    folder: Path, manifest: Manifest, spec: TableSpec, table: pa.Table, writer: _FileWriter
) -> tuple[pa.Table, list[DataFile], list[DataFile]]:
    """Apply a MERGE batch: return the rows to add, the files to drop and their rewrites."""
    keys = list(spec.merge_keys)
    table = _last_per_key(table, keys)
    schema = manifest.schema
    incoming = table.select(keys).cast(pa.schema([schema.field(k) for k in keys]))
    removed: list[DataFile] = []
    rewritten: list[DataFile] = []
    for data_file in _candidates(manifest, spec, table):
        found = _dataset(folder, manifest, [data_file]).to_table(columns=keys)
        hits = _key_hits(found, incoming, keys)
        if not pc.any(hits).as_py():
            continue
        if spec.disposition is WriteDisposition.MERGE_IGNORE:
            fresh = pc.invert(_key_hits(incoming, found.filter(hits), keys))
            table, incoming = table.filter(fresh), incoming.filter(fresh)
            continue
        rows = _dataset(folder, manifest, [data_file]).to_table().filter(pc.invert(hits))
        removed.append(data_file)
        rewritten += writer.write(rows)
    return table, removed, rewritten


def _candidates(manifest: Manifest, spec: TableSpec, table: pa.Table) -> list[DataFile]:
    """The files that may hold the batch's keys (see the module docstring)."""
    files = list(manifest.files)
    first = spec.merge_keys[0]
    bounds = _bounds(table, first)
    if bounds is not None:
        files = [f for f in files if f.may_hold(first, *bounds)]
    partition_by = list(manifest.partition_by)
    if not partition_by or not set(partition_by) <= set(spec.merge_keys):
        return files
    touched = {
        tuple(_partition_text(row[k]) for k in partition_by)
        for row in table.select(partition_by).group_by(partition_by).aggregate([]).to_pylist()
    }
    return [f for f in files if tuple(f.partition.get(k) for k in partition_by) in touched]


def _last_per_key(table: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the last row of each key, in the batch's order."""
    numbered = table.append_column(_ORDER, pa.array(range(table.num_rows), pa.int64()))
    last = numbered.group_by(keys, use_threads=False).aggregate([(_ORDER, "max")])
    positions = pc.sort_indices(last[f"{_ORDER}_max"])
    return table.take(pc.take(last[f"{_ORDER}_max"], positions))


def _key_hits(rows: pa.Table, keys_table: pa.Table, keys: list[str]) -> Any:
    """A mask of the rows of `rows` whose keys appear in `keys_table`."""
    numbered = rows.select(keys).append_column(_ORDER, pa.array(range(rows.num_rows), pa.int64()))
    matched = numbered.join(keys_table.select(keys), keys=keys, join_type="left semi")
    return pc.is_in(numbered[_ORDER], value_set=matched[_ORDER].combine_chunks())


# -- reading committed files ----------------------------------------------------------------------
def _dataset(folder: Path, manifest: Manifest, files: Sequence[DataFile]) -> ds.Dataset:
    schema = manifest.schema
    partitioning = None
    if manifest.partition_by:
        fields = [schema.field(c) for c in manifest.partition_by]
        partitioning = ds.partitioning(pa.schema(fields), flavor="hive")
    return ds.dataset(
        [str(folder / f.path) for f in files],
        schema=schema,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=str(folder / manifest.data_dir),
    )
