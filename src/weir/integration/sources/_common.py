"""What the sources of this package share: catalog entries, resume positions, catalog checks.

Every source describes a stream with `stream_entry`, so catalogs look alike whatever the
source: key properties `inclusion: automatic`, Weir's own stamp columns (`WEIR_COLUMNS`)
discovered but not selected by default, nothing selected. Re-syncing a table a Weir destination
wrote therefore does not carry its `_weir_synced_at` and `_weir_table_version` into the next
destination, which adds its own.

Every INCREMENTAL read resumes by the same rule, `resume_position`: rows strictly after the
bookmark's (replication key, key properties) when Weir wrote the bookmark, rows from the
replication key value on (>=) when someone else did. Sources that filter rows themselves
(files, Singer taps) apply it to Arrow batches with `KeysetFilter`; database sources turn it
into SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from weir.integration.base import SYNCED_AT_COLUMN, TABLE_VERSION_COLUMN
from weir.integration.columns import Column
from weir.integration.errors import CatalogError
from weir.integration.singer import CatalogEntry, Inclusion, MetadataEntry

__all__ = [
    "WEIR_COLUMNS",
    "KeysetFilter",
    "ResumePosition",
    "concat_batches",
    "incremental_keys",
    "quote_identifier",
    "require_columns",
    "resume_position",
    "stream_entry",
]

WEIR_COLUMNS = frozenset({SYNCED_AT_COLUMN, TABLE_VERSION_COLUMN})
"""Columns a Weir destination adds: discovered, but not selected by default."""


# -- catalog entries ----------------------------------------------------------------------------
def stream_entry(
    name: str,
    columns: Sequence[Column],
    *,
    key_properties: Sequence[str],
    replication_keys: Sequence[str],
    root: Mapping[str, Any],
    fields: Mapping[str, Mapping[str, Any]],
) -> CatalogEntry:
    """A discovered stream's catalog entry, as every source of this package writes it.

    Key properties are `inclusion: automatic`; Weir's own stamp columns (`WEIR_COLUMNS`) are
    `selected-by-default: false`; nothing is selected.

    Args:
        name: the stream's `tap_stream_id` and name.
        columns: its columns, in order.
        key_properties: the columns identifying a row (a primary key), or none.
        replication_keys: the columns offered as `valid-replication-keys`.
        root: more stream metadata (e.g. `schema-name`, `is-view`, `row-count`).
        fields: more metadata per column (e.g. `sql-datatype`).

    Returns:
        The entry: JSON Schema from the columns, root metadata with `inclusion`,
        `table-key-properties`, `root` and `valid-replication-keys`, one breadcrumb per column.
    """
    entries = [
        MetadataEntry(
            ("properties", c.name),
            {
                "inclusion": (
                    Inclusion.AUTOMATIC if c.name in key_properties else Inclusion.AVAILABLE
                ).value,
                **fields.get(c.name, {}),
                "selected-by-default": c.name not in WEIR_COLUMNS,
            },
        )
        for c in columns
    ]
    stream_root = {
        "inclusion": Inclusion.AVAILABLE.value,
        "table-key-properties": list(key_properties),
        **root,
        "valid-replication-keys": list(replication_keys),
    }
    return CatalogEntry(
        tap_stream_id=name,
        stream=name,
        schema={"type": "object", "properties": {c.name: c.json_schema() for c in columns}},
        metadata=(MetadataEntry((), stream_root), *entries),
        key_properties=tuple(key_properties),
        auto_add_new_fields=True,
    )


# -- checking a stream against the live source ---------------------------------------------------
def require_columns(
    stream: str, wanted: Sequence[Column], live: Collection[str], where: str
) -> None:
    """Check the selected columns still exist in the source.

    Args:
        stream: the stream name, for the message.
        wanted: the stream's selected columns.
        live: the column names the source has now.
        where: the table as the message names it (e.g. `public.users`, `SQLite table users`).

    Raises:
        CatalogError: some columns are gone; the message names them and says what to do.
    """
    missing = [c.name for c in wanted if c.name not in live]
    if missing:
        raise CatalogError(
            f"columns {missing} are in the catalog but not in {where}; run discovery again or "
            "deselect them",
            stream=stream,
        )


def incremental_keys(
    stream: CatalogEntry, available: Collection[str], *, among: str | None = None
) -> tuple[str, list[str]]:
    """The replication key and the tie-breaking key properties of an INCREMENTAL stream.

    Args:
        stream: the catalog entry.
        available: the column names the key and key properties must be among.
        among: how the message names `available`; None names the stream's table.

    Returns:
        The replication key, and the key properties other than it, in catalog order: the read
        order is (key, *tie-breakers).

    Raises:
        CatalogError: the replication key is unset or not available, or a key property is
            not available.
    """
    name = stream.stream
    where = among or f"columns of {name}"
    key = stream.effective_replication_key
    if key is None or key not in available:
        raise CatalogError(
            f"INCREMENTAL replication needs a replication_key among the {where}; got {key!r}",
            stream=name,
        )
    ties = [k for k in stream.effective_key_properties if k != key]
    missing = [k for k in ties if k not in available]
    if missing:
        raise CatalogError(f"key properties {missing} are not among the {where}", stream=name)
    return key, ties


def quote_identifier(name: str) -> str:
    """Quote an identifier the SQL standard's way (SQLite, DuckDB): `"a""b"` for `a"b`."""
    return '"' + name.replace('"', '""') + '"'


def concat_batches(batches: Sequence[pa.RecordBatch]) -> pa.RecordBatch:
    """Join batches of one schema into one contiguous batch (the batch itself when alone)."""
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


# -- where an INCREMENTAL read resumes ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ResumePosition:
    """Where an INCREMENTAL read resumes.

    Attributes:
        values: column name -> bookmark value (JSON), in order: the replication key, then the
            key properties used as tie-breakers.
        strict: True to read rows strictly after the position, False to read from it (>=).
    """

    values: Mapping[str, Any]
    strict: bool


def resume_position(
    bookmark: Mapping[str, Any] | None, key: str, tie_breakers: Sequence[str]
) -> ResumePosition | None:
    """Read a bookmark into the position an INCREMENTAL read resumes from.

    A Weir bookmark with `key_values` for every tie-breaker resumes strictly after that row;
    without tie-breakers Weir only commits after the last row of a replication-key value, so
    it resumes strictly after the value. A bookmark from elsewhere (a Singer tap's, Mage's) has
    no `key_values`: it resumes at the value itself (>=), re-reading its rows rather than
    losing any.

    Args:
        bookmark: the stream's bookmark, or None.
        key: the replication key.
        tie_breakers: the key properties other than the replication key, in order.

    Returns:
        The position, or None to read everything (no bookmark, no value, or a bookmark made
        for another replication key).
    """
    if not bookmark or bookmark.get("replication_key") not in (None, key):
        return None
    value = bookmark.get("replication_key_value")
    if value is None:
        return None
    key_values = bookmark.get("key_values")
    if not isinstance(key_values, Mapping) or any(k not in key_values for k in tie_breakers):
        return ResumePosition({key: value}, strict=False)
    return ResumePosition({key: value, **{k: key_values[k] for k in tie_breakers}}, strict=True)


@dataclass(frozen=True, slots=True)
class KeysetFilter:
    """Keeps the rows of Arrow batches that an INCREMENTAL read passes on.

    A row passes when its replication key is not NULL and, given a position, it comes after
    the position in (replication key, tie-breakers) order (or at it, when not strict).

    Attributes:
        key: the replication key column.
        bounds: (column, bookmark value as a scalar of the column's type), in order; empty
            to pass every row with a replication key.
        strict: whether rows equal to the position are dropped.
    """

    key: str
    bounds: tuple[tuple[str, pa.Scalar[Any]], ...] = ()
    strict: bool = False

    @classmethod
    def of(
        cls,
        key: str,
        position: ResumePosition | None,
        scalar: Callable[[str, Any], pa.Scalar[Any]],
    ) -> KeysetFilter:
        """The filter for `position`; `scalar(column, value)` converts a bookmark value."""
        if position is None:
            return cls(key)
        bounds = tuple((name, scalar(name, value)) for name, value in position.values.items())
        return cls(key, bounds, position.strict)

    def keep(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The rows of `batch` to pass on, in their order."""
        mask: Any = pc.is_valid(batch.column(self.key))
        if self.bounds:
            mask = pc.and_kleene(mask, pc.fill_null(self._after(batch), pa.scalar(False)))
        if pc.all(mask).as_py():
            return batch
        return batch.filter(mask)

    def _after(self, batch: pa.RecordBatch) -> Any:
        """(a, b, ...) > (x, y, ...) as `a > x OR (a = x AND b > y) OR ...` (>= unless strict)."""
        later: Any = None
        equal: Any = None
        for name, bound in self.bounds:
            values = batch.column(name)
            greater = pc.greater(values, bound)
            step = greater if equal is None else pc.and_kleene(equal, greater)
            later = step if later is None else pc.or_kleene(later, step)
            same = pc.equal(values, bound)
            equal = same if equal is None else pc.and_kleene(equal, same)
        return later if self.strict else pc.or_kleene(later, equal)
