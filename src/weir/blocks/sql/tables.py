"""Tabular values in and out of SQL blocks: upstream values -> Arrow, Arrow -> the block's output.

Also the *provenance* of a SQL block's output: which database table holds it. A downstream SQL
block on the same database then reads that table instead of uploading the rows again (Mage does
the same: `should_cache_data_from_upstream` is false for a SQL upstream on the same provider and
profile). Provenance travels with the value: `DataFrame.attrs["weir.sql_table"]` for pandas,
schema metadata for Arrow; polars has no place for it, so a polars output is uploaded again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from weir.blocks.base import UpstreamInput
from weir.blocks.sql.config import OutputFormat
from weir.errors import BlockExecutionError

__all__ = [
    "PROVENANCE_KEY",
    "SqlTableRef",
    "array_from_values",
    "data_file",
    "first_output",
    "no_data_message",
    "output_value",
    "read_data_file",
    "sql_table_of",
    "to_arrow",
    "upstream_arrow",
]

PROVENANCE_KEY = "weir.sql_table"


@dataclass(frozen=True, slots=True)
class SqlTableRef:
    """Where a SQL block's result is stored.

    Attributes:
        block_uuid: the SQL block that wrote it.
        database: identity of the database (`postgres://host:port/db`, `duckdb:///path`, ...).
        table: the table as SQL text, quoted and schema-qualified for that database.
    """

    block_uuid: str
    database: str
    table: str

    def to_json(self) -> str:
        """Serialise for pandas attrs / Arrow metadata."""
        return json.dumps(
            {"block_uuid": self.block_uuid, "database": self.database, "table": self.table}
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> SqlTableRef | None:
        """Parse `to_json` output; None when it is not one."""
        try:
            data = json.loads(text)
            return cls(str(data["block_uuid"]), str(data["database"]), str(data["table"]))
        except (ValueError, KeyError, TypeError):
            return None


def first_output(upstream: UpstreamInput) -> tuple[Any, Path | None]:
    """The value and file of an upstream's output_0 (`{{ df_n }}` refers to output_0).

    Args:
        upstream: one upstream input; its value may be a tuple of several outputs.

    Returns:
        (value or None, path of output_0's file or None).
    """
    value = upstream.value[0] if isinstance(upstream.value, tuple) else upstream.value
    if isinstance(upstream.value, tuple) and not upstream.value:
        value = None
    path = upstream.paths[0] if upstream.paths else None
    return value, path


def sql_table_of(upstream: UpstreamInput) -> SqlTableRef | None:
    """The table holding an upstream SQL block's output, if its value says so.

    Only trusted when the upstream is itself a SQL block and the provenance names that block, so
    a Python block that passes a SQL block's DataFrame on (attrs survive many pandas operations)
    is never mistaken for the table.

    Args:
        upstream: one upstream input.

    Returns:
        The table reference, or None.
    """
    if upstream.language != "sql":
        return None
    value, _ = first_output(upstream)
    raw: str | bytes | None = None
    if isinstance(value, pd.DataFrame):
        raw = value.attrs.get(PROVENANCE_KEY)
    elif isinstance(value, pa.Table) and value.schema.metadata:
        raw = value.schema.metadata.get(PROVENANCE_KEY.encode())
    ref = SqlTableRef.from_json(raw) if raw else None
    return ref if ref is not None and ref.block_uuid == upstream.block_uuid else None


def to_arrow(value: Any, block_uuid: str, upstream_uuid: str) -> pa.Table:
    """Convert an upstream value to an Arrow table without copying where the library allows.

    Args:
        value: a pandas DataFrame or Series, a pyarrow Table/RecordBatch, a polars DataFrame or
            LazyFrame, a list of dicts, or a dict of columns.
        block_uuid: the SQL block, for errors.
        upstream_uuid: the upstream block, for errors.

    Returns:
        The Arrow table (pandas index dropped, as Mage exports with `index=False`).

    Raises:
        BlockExecutionError: the value is not tabular or cannot be converted; names the upstream.
    """
    try:
        if isinstance(value, pa.Table):
            return value
        if isinstance(value, pa.RecordBatch):
            return pa.Table.from_batches([value])
        if isinstance(value, pd.Series):
            value = value.to_frame()
        if isinstance(value, pd.DataFrame):
            return _pandas_to_arrow(value)
        if type(value).__module__.startswith("polars"):
            return _polars_to_arrow(value)
        if isinstance(value, list) and all(isinstance(row, dict) for row in value):
            return pa.Table.from_pylist(value)
        if isinstance(value, dict):
            return pa.table(value)
    except (pa.ArrowException, TypeError, ValueError) as error:
        raise BlockExecutionError(
            block_uuid,
            f"cannot read the output of upstream block '{upstream_uuid}' as a table: {error}",
        ) from error
    raise BlockExecutionError(
        block_uuid,
        f"the output of upstream block '{upstream_uuid}' is a {type(value).__name__}, not a "
        "table (pandas/polars DataFrame, Arrow table, list of dicts); SQL cannot read it",
    )


def _pandas_to_arrow(frame: pd.DataFrame) -> pa.Table:
    """Arrow from pandas; a column Arrow cannot type (mixed objects) becomes JSON/text."""
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        pass
    arrays: list[pa.Array[Any] | pa.ChunkedArray[Any]] = []
    for name in frame.columns:
        column = frame[name]
        try:
            arrays.append(pa.array(column, from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError):
            texts = [None if pd.isna(v) is True else _json_or_text(v) for v in column.tolist()]
            arrays.append(pa.array(texts, type=pa.string()))
    return pa.Table.from_arrays(arrays, names=[str(name) for name in frame.columns])


def _json_or_text(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return _text(value)


def _polars_to_arrow(value: Any) -> pa.Table:
    if hasattr(value, "collect"):
        value = value.collect()
    table = value.to_arrow()
    if not isinstance(table, pa.Table):
        raise TypeError(f"polars returned {type(table).__name__}")
    return table


def data_file(path: Path) -> tuple[str, Path] | None:
    """Find the table file of a persisted output and its format.

    Args:
        path: an upstream's output path: a data file, or a folder holding `data.parquet`,
            `data.arrow` (as `weir.data_products` writes them) or Parquet parts.

    Returns:
        (`parquet`, file or glob pattern) or (`arrow`, file), or None when it holds no table.
    """
    if path.is_dir():
        for name, kind in (("data.parquet", "parquet"), ("data.arrow", "arrow")):
            if (path / name).is_file():
                return kind, path / name
        if any(path.rglob("*.parquet")):
            return "parquet", path / "**" / "*.parquet"
        return None
    if path.suffix in (".parquet", ".pq"):
        return "parquet", path
    if path.suffix in (".arrow", ".feather", ".ipc"):
        return "arrow", path
    return None


def read_data_file(kind: str, path: Path) -> pa.Table:
    """Read a file found by `data_file`; Arrow IPC is memory-mapped (no copy)."""
    if kind == "arrow":
        # Not closed here: the table's buffers point into the mapping, which lives as long
        # as they do.
        return pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    return pq.read_table(path)


def upstream_arrow(upstream: UpstreamInput, block_uuid: str) -> pa.Table:
    """An upstream's output_0 as Arrow: its in-memory value, else its persisted file.

    Args:
        upstream: one upstream input.
        block_uuid: the SQL block, for errors.

    Returns:
        The Arrow table.

    Raises:
        BlockExecutionError: there is neither a value nor a table file, or it is not tabular.
    """
    value, path = first_output(upstream)
    if value is not None:
        return to_arrow(value, block_uuid, upstream.block_uuid)
    found = data_file(path) if path is not None else None
    if found is None:
        raise BlockExecutionError(block_uuid, no_data_message(upstream))
    return read_data_file(*found)


def no_data_message(upstream: UpstreamInput) -> str:
    """Explain that an upstream has no output SQL can read."""
    _, path = first_output(upstream)
    if path is not None:
        return (
            f"upstream block '{upstream.block_uuid}' has no output in memory and {path} holds "
            "no table SQL can read (Parquet or Arrow IPC)"
        )
    return f"upstream block '{upstream.block_uuid}' has no output (None, nothing persisted)"


def output_value(table: pa.Table, output_format: OutputFormat, ref: SqlTableRef | None) -> Any:
    """Turn a result table into the block's output value, carrying its provenance.

    Args:
        table: the result rows.
        output_format: pandas (Mage's), arrow or polars.
        ref: the table the rows were read from, or None.

    Returns:
        A pandas DataFrame, a pyarrow Table or a polars DataFrame.
    """
    if ref is not None:
        metadata = dict(table.schema.metadata or {})
        metadata[PROVENANCE_KEY.encode()] = ref.to_json().encode()
        table = table.replace_schema_metadata(metadata)
    if output_format is OutputFormat.ARROW:
        return table
    if output_format is OutputFormat.POLARS:
        import polars as pl

        return pl.from_arrow(table)
    frame = table.to_pandas()
    if ref is not None:
        frame.attrs[PROVENANCE_KEY] = ref.to_json()
    return frame


def array_from_values(values: Sequence[Any], preferred: pa.DataType | None) -> pa.Array[Any]:
    """Build an Arrow column from driver values, typed when the database type is known.

    Tries the preferred type, then Arrow's inference, then text, so one odd value never fails
    the read.

    Args:
        values: one column's Python values as the driver returned them.
        preferred: the Arrow type mapped from the database column type, or None.

    Returns:
        The column.
    """
    attempts: list[Callable[[], pa.Array[Any]]] = []
    if preferred is not None:
        attempts.append(lambda: pa.array(values, type=preferred))
    if values and all(isinstance(v, (dict, list)) or v is None for v in values):
        attempts.append(lambda: pa.array([_json_text(v) for v in values], type=pa.string()))
    attempts.append(lambda: pa.array(values))
    for attempt in attempts:
        try:
            return attempt()
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            continue
    return pa.array([None if v is None else _text(v) for v in values], type=pa.string())


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)
