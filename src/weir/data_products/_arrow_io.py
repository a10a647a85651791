"""Arrow tables to and from files: Parquet and Arrow IPC, whole or just the head.

Every table-like data product (pandas, polars, pyarrow) goes through here as a `pyarrow.Table`, so
the file options live in one place. Measured on 1M rows x 6-8 columns (CPU time of the writing
thread, 2-core machine): zstd level 1 with dictionaries for string-like columns only takes
~170-210 ms and writes the smallest files (snappy ~130-150 ms but 25% larger; uncompressed Arrow
IPC ~25 ms); the default row-group size (1Mi rows) writes fastest, and the preview still reads
only the first pages of each column via `iter_batches`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from weir.data_products.formats import FILE_NAMES, TableFormat

__all__ = [
    "read_head",
    "read_table",
    "schema_pairs",
    "write_table",
]


# zstd at level 1: ~25% smaller files than snappy or lz4 for ~20% more CPU time.
_PARQUET_OPTIONS: Final[dict[str, Any]] = {"compression": "zstd", "compression_level": 1}


_DICTIONARY_WORTHY: Final[tuple[Callable[[pa.DataType], bool], ...]] = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_string_view,
    pa.types.is_binary,
    pa.types.is_large_binary,
    pa.types.is_dictionary,
)


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary-encoding: strings, binaries and categoricals.

    Dictionary-encoding every column (pyarrow's default) costs 10-20% of the write time on
    high-cardinality numbers and timestamps, where the encoder gives up after the first page;
    zstd then compresses low-cardinality numbers about as well on its own.
    """
    return [field.name for field in schema if any(test(field.type) for test in _DICTIONARY_WORTHY)]


def write_table(table: pa.Table, folder: Path, table_format: TableFormat) -> TableFormat:
    """Write `table` into `folder` in one pass, as Parquet or as an uncompressed Arrow IPC file.

    Arrow IPC is left uncompressed so a reader can memory-map it and get the columns without a
    copy. Parquet cannot hold every Arrow type (intervals, unions); such a table is written as
    Arrow IPC instead, so the caller must record the format this returns.

    Args:
        table: the data; not modified.
        folder: an existing, empty directory; receives `data.parquet` or `data.arrow`.
        table_format: the format asked for.

    Returns:
        The format actually written (`FILE_NAMES[format]` is the file's name).

    Raises:
        pyarrow.ArrowException, OSError: the table could not be written at all.
    """
    if table_format == "parquet":
        path = folder / FILE_NAMES["parquet"]
        try:
            # pyarrow takes a list of columns here; its stubs say only bool.
            dictionary: Any = _dictionary_columns(table.schema)
            pq.write_table(table, path, use_dictionary=dictionary, **_PARQUET_OPTIONS)
        except pa.ArrowNotImplementedError:
            path.unlink(missing_ok=True)
        else:
            return "parquet"
    with (
        pa.OSFile(str(folder / FILE_NAMES["arrow"]), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    return "arrow"


def read_table(path: Path, file_format: str) -> pa.Table:
    """Read a whole table written by `write_table`.

    Arrow IPC files are memory-mapped: the returned table's buffers point into the page cache, so
    reading costs no copy and no memory until the data is touched.

    Args:
        path: the data file.
        file_format: `parquet` or `arrow`.

    Returns:
        The table, with its schema metadata (pandas metadata included).

    Raises:
        pyarrow.ArrowException, OSError: the file is missing, truncated or not of that format.
    """
    if file_format == "parquet":
        with pq.ParquetFile(path) as parquet:
            return _as_written(parquet.read(), parquet)
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def read_head(path: Path, file_format: str, limit_rows: int) -> tuple[pa.Table, int]:
    """Read the first `limit_rows` rows of a table file and its exact row count, not the rest.

    Parquet: the row count comes from the footer and the rows from the first batch of
    `iter_batches`, which decodes only the first pages. Arrow IPC: the file is memory-mapped and
    only the record batches covering the head are sliced; counting rows reads batch headers only.

    Args:
        path: the data file.
        file_format: `parquet` or `arrow`.
        limit_rows: how many rows at most (>= 0).

    Returns:
        `(head, row_count)`: a table of at most `limit_rows` rows with the file's full schema
        (metadata included), and the number of rows in the whole file.

    Raises:
        pyarrow.ArrowException, OSError: the file is missing, truncated or not of that format.
    """
    if file_format == "parquet":
        with pq.ParquetFile(path) as parquet:
            schema = parquet.schema_arrow
            batch = next(parquet.iter_batches(batch_size=max(limit_rows, 1)), None)
            row_count = parquet.metadata.num_rows
            batches = [] if batch is None else [batch.slice(0, limit_rows)]
            return _as_written(pa.Table.from_batches(batches, schema=schema), parquet), row_count
    reader = pa.ipc.open_file(pa.memory_map(str(path)))
    head: list[pa.RecordBatch] = []
    row_count = 0
    for i in range(reader.num_record_batches):
        batch = reader.get_batch(i)
        if row_count < limit_rows:
            head.append(batch.slice(0, limit_rows - row_count))
        row_count += batch.num_rows
    return pa.Table.from_batches(head, schema=reader.schema), row_count


def _as_written(table: pa.Table, parquet: pq.ParquetFile) -> pa.Table:
    """The table with the Arrow types it was written with, where Parquet stored others.

    Parquet has no dictionary of `large_string`, no `timestamp[s]`, `time32[s]` or `date64`;
    pyarrow stores the original Arrow schema in the footer (`ARROW:schema`) but reads back the
    Parquet types. Casting back is exact (the values came from those types) and costs nothing
    when the types already match.
    """
    encoded = (parquet.metadata.metadata or {}).get(b"ARROW:schema")
    if encoded is None:
        return table
    written = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(encoded)))
    if table.schema.types == written.types or table.schema.names != written.names:
        return table
    return table.cast(written)


def schema_pairs(schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    """`((name, arrow type), ...)` of a schema's fields, e.g. `(("ts", "timestamp[us]"),)`."""
    return tuple((field.name, str(field.type)) for field in schema)
