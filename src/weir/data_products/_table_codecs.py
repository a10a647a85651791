"""The codecs of table-like outputs (pandas, Series, polars, pyarrow): one Arrow data file each.

Kept apart from `_codecs` so that importing the data product store does not import pandas,
numpy or pyarrow: this module is loaded the first time a table-like value is written or read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Final

import pandas as pd
import pyarrow as pa

from weir.data_products._arrow_io import read_table, schema_pairs, write_table
from weir.data_products._codecs import CannotEncodeError, Encoded, Schema
from weir.data_products.formats import FILE_NAMES, TableFormat


class TableCodec:
    """Base of the codecs whose data file is an Arrow table (Parquet or Arrow IPC).

    Subclasses convert to and from `pyarrow.Table`; writing, reading and the head-only preview
    are shared.
    """

    kind: ClassVar[str]

    def accepts(self, value: object) -> bool:
        """Whether this codec handles values of this type."""
        raise NotImplementedError

    def to_arrow(self, value: Any) -> pa.Table:
        """The value as an Arrow table, without copying where Arrow allows it."""
        raise NotImplementedError

    def from_arrow(self, table: pa.Table) -> object:
        """The object back from a table that this codec wrote (the table is consumed)."""
        raise NotImplementedError

    def describe(self, value: Any) -> tuple[int, int, Schema]:
        """`(rows, columns, ((name, type), ...))` of the value, types in its library's terms."""
        raise NotImplementedError

    def write(self, value: object, folder: Path, table_format: TableFormat) -> Encoded:
        """Convert to Arrow and write one file; see `write_table` for the Parquet fallback.

        Raises:
            CannotEncodeError: Arrow cannot convert or write this value (it is then pickled).
        """
        table = self.to_arrow(value)
        try:
            written = write_table(table, folder, table_format)
        except pa.ArrowException as exc:
            raise CannotEncodeError(f"pyarrow cannot write the table: {exc}") from exc
        rows, columns, schema = self.describe(value)
        return Encoded(written, FILE_NAMES[written], rows, columns, schema)

    def read(self, path: Path, file_format: str) -> object:
        """Read the whole table and convert it back."""
        return self.from_arrow(read_table(path, file_format))


_ARROW_CONVERSION_ERRORS: Final = (pa.ArrowException, TypeError, ValueError)


def _pandas_columns(table: pa.Table) -> list[dict[str, Any]]:
    """The pandas metadata entries of the frame's data columns (index columns left out)."""
    meta = table.schema.pandas_metadata
    if not meta:
        return []
    index_fields = {c for c in meta["index_columns"] if isinstance(c, str)}
    return [c for c in meta["columns"] if c["field_name"] not in index_fields]


class PandasCodec(TableCodec):
    """`pandas.DataFrame`: dtypes and any non-default index survive via pyarrow's pandas metadata.

    Falls back to pickle when Arrow cannot represent a column exactly: mixed Python types,
    complex numbers, duplicate column names, or Python lists or dicts in an object column
    (pyarrow would hand lists back as numpy arrays, and dicts with every key seen in the column,
    missing ones as None, integers as floats).
    """

    kind = "pandas"

    def accepts(self, value: object) -> bool:
        """Any `pandas.DataFrame`, subclasses included (those usually end up pickled)."""
        return isinstance(value, pd.DataFrame)

    def to_arrow(self, value: pd.DataFrame) -> pa.Table:
        """Zero-copy for numeric, datetime and Arrow-backed string columns without nulls."""
        try:
            table = pa.Table.from_pandas(value, preserve_index=None)
        except _ARROW_CONVERSION_ERRORS as exc:
            raise CannotEncodeError(f"pyarrow cannot convert the DataFrame: {exc}") from exc
        for column in table.schema.pandas_metadata["columns"]:
            arrow_type = table.schema.field(column["field_name"]).type
            if column["numpy_type"] == "object" and pa.types.is_nested(arrow_type):
                raise CannotEncodeError(
                    f"column {column['name']!r} holds Python lists or dicts ({arrow_type})"
                )
        return table

    def from_arrow(self, table: pa.Table) -> pd.DataFrame:
        """`to_pandas`, freeing Arrow buffers as it goes; every column comes back writable."""
        # pandas >= 3 reads Arrow strings as the `str` dtype; a column that was `object` stays
        # `object`, with None for nulls as before. Taken from Arrow before the table is consumed.
        object_strings = {
            i: table.column(c["field_name"]).to_numpy(zero_copy_only=False)
            for i, c in enumerate(_pandas_columns(table))
            if c["numpy_type"] == "object" and c["pandas_type"] == "unicode"
        }
        # Consolidating copies numeric columns into writable blocks: blocks re-run alone get a
        # frame they can assign into, as they would in memory. Zero-copy (`split_blocks`) would
        # hand them read-only arrays ("assignment destination is read-only").
        frame = table.to_pandas(self_destruct=True)
        for position, dtype in enumerate(frame.dtypes):
            if isinstance(dtype, pd.CategoricalDtype):  # its codes stay read-only even so
                codes = frame.iloc[:, position].cat.codes.to_numpy(copy=True)
                column: Any = pd.Categorical.from_codes(codes, dtype=dtype)
                frame.isetitem(position, column)
        for position, values in object_strings.items():
            # A Series, not the array: pandas would infer `str` again from an object ndarray.
            column = pd.Series(values, index=frame.index, dtype=object)
            frame.isetitem(position, column)
        return frame

    def describe(self, value: pd.DataFrame) -> tuple[int, int, Schema]:
        """Rows and columns of the frame (index not counted) and pandas dtype names."""
        schema = tuple((str(name), str(dtype)) for name, dtype in value.dtypes.items())
        return value.shape[0], value.shape[1], schema


_SERIES_KEY: Final = b"weir.series"


class SeriesCodec(TableCodec):
    """`pandas.Series`: stored as a one-column frame; name (or its absence) and index kept."""

    kind = "series"
    _frames: ClassVar[PandasCodec] = PandasCodec()

    def accepts(self, value: object) -> bool:
        """Any `pandas.Series`."""
        return isinstance(value, pd.Series)

    def to_arrow(self, value: pd.Series) -> pa.Table:
        """The one-column frame's table, marked so an unnamed series reads back unnamed."""
        table = self._frames.to_arrow(value.to_frame())
        marker = b"unnamed" if value.name is None else b"named"
        return table.replace_schema_metadata({**(table.schema.metadata or {}), _SERIES_KEY: marker})

    def from_arrow(self, table: pa.Table) -> pd.Series:
        """The frame's only column, renamed to `None` if the series had no name."""
        unnamed = (table.schema.metadata or {}).get(_SERIES_KEY) == b"unnamed"
        series = self._frames.from_arrow(table).iloc[:, 0]
        return series.rename(None) if unnamed else series

    def describe(self, value: pd.Series) -> tuple[int, int, Schema]:
        """Length, one column, and the series' name and dtype."""
        return len(value), 1, ((str(value.name), str(value.dtype)),)


def _is_polars_frame(value: object) -> bool:
    """Recognise a polars DataFrame by its class's module, so polars is never imported here."""
    return any(
        cls.__name__ == "DataFrame" and cls.__module__.partition(".")[0] == "polars"
        for cls in type(value).__mro__
    )


class PolarsCodec(TableCodec):
    """`polars.DataFrame`: through `to_arrow` (zero-copy for most types); Categorical/Enum kept."""

    kind = "polars"

    def accepts(self, value: object) -> bool:
        """A polars DataFrame, detected without importing polars."""
        return _is_polars_frame(value)

    def to_arrow(self, value: Any) -> pa.Table:
        """`DataFrame.to_arrow()`; an `Object` column cannot convert and is pickled instead."""
        try:
            table: pa.Table = value.to_arrow()
        except Exception as exc:  # polars raises its own exception types for unsupported dtypes
            raise CannotEncodeError(f"polars cannot convert the DataFrame to Arrow: {exc}") from exc
        return table

    def from_arrow(self, table: pa.Table) -> object:
        """`polars.from_arrow`, importing polars only now (it is an optional dependency)."""
        import polars

        return polars.from_arrow(table)

    def describe(self, value: Any) -> tuple[int, int, Schema]:
        """Height, width and polars dtype names (e.g. `Datetime(time_unit='us', ...)`)."""
        schema = tuple((str(name), str(dtype)) for name, dtype in value.schema.items())
        return int(value.height), int(value.width), schema


class ArrowCodec(TableCodec):
    """`pyarrow.Table` and `pyarrow.RecordBatch`; both read back as a `pyarrow.Table`."""

    kind = "arrow"

    def accepts(self, value: object) -> bool:
        """A pyarrow Table or RecordBatch."""
        return isinstance(value, pa.Table | pa.RecordBatch)

    def to_arrow(self, value: pa.Table | pa.RecordBatch) -> pa.Table:
        """The table itself, or a one-batch table around the batch (no copy)."""
        return value if isinstance(value, pa.Table) else pa.Table.from_batches([value])

    def from_arrow(self, table: pa.Table) -> pa.Table:
        """The table as read."""
        return table

    def describe(self, value: pa.Table | pa.RecordBatch) -> tuple[int, int, Schema]:
        """Rows, columns and Arrow type names."""
        return value.num_rows, value.num_columns, schema_pairs(value.schema)


TABLE_CODECS: Final = (PandasCodec(), SeriesCodec(), PolarsCodec(), ArrowCodec())
