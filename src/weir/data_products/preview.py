"""The first rows of a block output, in memory or on disk, and their rendering for the terminal.

A `Preview` is the same whatever the output's kind: named, typed columns and a few rows of plain
Python values, plus the total row count when it is known. `preview_output` reads only the head of
a table file (see `read_head`), so previewing a huge output costs milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, Final

import pandas as pd
from rich.table import Table
from rich.text import Text

from weir.data_products._arrow_io import read_head, schema_pairs
from weir.data_products._codecs import CODECS
from weir.data_products._table_codecs import TableCodec
from weir.data_products.store import OutputInfo
from weir.errors import DataProductError

__all__ = ["Preview", "preview_output", "preview_value", "render_preview"]

Columns = tuple[tuple[str, str], ...]
Rows = tuple[tuple[object, ...], ...]


@dataclass(frozen=True, slots=True)
class Preview:
    """The head of one output as a table.

    Attributes:
        columns: `((name, type), ...)`; types in the object's library's terms (pandas dtype,
            polars dtype, Arrow type, or the Python type name for plain values). A pandas frame's
            non-default index comes first, as columns.
        rows: at most `limit_rows` rows, each a tuple of Python values, one per column; missing
            values (None, NaN, NaT, NA) are None.
        row_count: the output's total number of rows, or None when it has none (a scalar has 1).
        kind: the output's kind (`pandas`, `series`, `polars`, `arrow`, `json`, `pickle`).
    """

    columns: Columns
    rows: Rows
    row_count: int | None
    kind: str


def _cell(value: Any) -> object:
    """The value, or None for pandas' and numpy's missing-value markers."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return value


def _is_default_index(index: pd.Index) -> bool:
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def _frame_table(frame: pd.DataFrame, limit_rows: int) -> tuple[Columns, Rows, int]:
    head = frame.head(limit_rows)
    if not _is_default_index(frame.index):
        head = head.reset_index(allow_duplicates=True)
    columns = tuple((str(name), str(dtype)) for name, dtype in head.dtypes.items())
    rows = tuple(tuple(_cell(v) for v in row) for row in head.itertuples(index=False, name=None))
    return columns, rows, len(frame)


def _series_table(series: pd.Series, limit_rows: int) -> tuple[Columns, Rows, int]:
    frame = series.to_frame() if series.name is not None else series.to_frame(name="value")
    return _frame_table(frame, limit_rows)


def _polars_table(frame: Any, limit_rows: int) -> tuple[Columns, Rows, int]:
    columns = tuple((str(name), str(dtype)) for name, dtype in frame.schema.items())
    rows = tuple(tuple(_cell(v) for v in row) for row in frame.head(limit_rows).rows())
    return columns, rows, int(frame.height)


def _arrow_table(table: Any, limit_rows: int) -> tuple[Columns, Rows, int]:
    head = table.slice(0, limit_rows)
    rows = tuple(zip(*(column.to_pylist() for column in head.columns), strict=True))
    return schema_pairs(table.schema), rows, int(table.num_rows)


def _type_name(values: Iterable[object]) -> str:
    """The values' common Python type name (None ignored), or `object` when they differ."""
    names = {type(v).__name__ for v in values if v is not None}
    return names.pop() if len(names) == 1 else "object"


def _plain_table(value: object, limit_rows: int) -> tuple[Columns, Rows, int | None]:
    """Dict -> key/value rows, list or tuple -> one row per item, anything else -> one row."""
    if isinstance(value, Mapping):
        items = tuple(islice(value.items(), limit_rows))
        columns = (
            ("key", _type_name(k for k, _ in items)),
            ("value", _type_name(v for _, v in items)),
        )
        return columns, items, len(value)
    if isinstance(value, list | tuple):
        head = value[:limit_rows]
        return (("value", _type_name(head)),), tuple((_cell(v),) for v in head), len(value)
    return (("value", type(value).__name__),), ((_cell(value),),), 1


_TABLES: Final[dict[str, Callable[[Any, int], tuple[Columns, Rows, int | None]]]] = {
    "pandas": _frame_table,
    "series": _series_table,
    "polars": _polars_table,
    "arrow": _arrow_table,
    "json": _plain_table,
    "pickle": _plain_table,
}


def preview_value(value: object, *, limit_rows: int = 10) -> Preview:
    """The head of an in-memory block output.

    Args:
        value: any block output (the kind is chosen as `DataProductStore.write` would).
        limit_rows: at most this many rows (>= 0).

    Returns:
        The preview; `row_count` is the value's full length.
    """
    kind = CODECS.for_value(value).kind
    columns, rows, row_count = _TABLES[kind](value, limit_rows)
    return Preview(columns, rows, row_count, kind)


def preview_output(info: OutputInfo, *, limit_rows: int = 10) -> Preview:
    """The head of a persisted output, reading only that head of a Parquet or Arrow file.

    JSON and pickle files are read whole (they hold one Python value).

    Args:
        info: the output, from `DataProductStore.info` or `.write`.
        limit_rows: at most this many rows (>= 0).

    Returns:
        The preview, with `kind` from `info` (a DataFrame that had to be pickled shows as a
        table with kind `pickle`) and the exact row count from the file's metadata.

    Raises:
        DataProductError: the file is missing or cannot be decoded (names the path).
    """
    codec = CODECS.for_kind(info.kind)
    try:
        if isinstance(codec, TableCodec) and info.format in ("parquet", "arrow"):
            head, row_count = read_head(info.path, info.format, limit_rows)
            columns, rows, _ = _TABLES[info.kind](codec.from_arrow(head), limit_rows)
            return Preview(columns, rows, row_count, info.kind)
        if codec is None:
            raise ValueError(f"unknown kind {info.kind!r}")
        value = codec.read(info.path, info.format)
    # Any failure of the decoder means the same to the user: this file cannot be shown.
    except Exception as exc:
        raise DataProductError(
            f"output {info.index} at {info.path} cannot be previewed "
            f"({type(exc).__name__}: {exc}). Re-run its block to rewrite it."
        ) from exc
    return replace(preview_value(value, limit_rows=limit_rows), kind=info.kind)


_MAX_CELL: Final = 60


def _render_cell(value: object) -> Text:
    if value is None:
        return Text("null", style="dim italic")
    text = str(value)
    return Text(text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…")


def _caption(preview: Preview) -> str:
    shown, total = len(preview.rows), preview.row_count
    if total is None:
        count = f"{shown:,} rows shown, total unknown"
    elif shown < total:
        count = f"first {shown:,} of {total:,} rows"
    else:
        count = f"{total:,} row" + ("" if total == 1 else "s")
    return f"{count} · {preview.kind}"


def render_preview(preview: Preview, title: str) -> Table:
    """A rich table of a preview for the terminal (`weir output show`).

    Each header holds the column's name and, below it dimmed, its type; the caption holds the
    row count (`first 10 of 1,000,000 rows · pandas`). Names and values are shown literally (no
    rich markup); missing values read `null`; cells longer than 60 characters are cut.

    Args:
        preview: what to show.
        title: the table's title, e.g. `load_data · output_0`.

    Returns:
        A `rich.table.Table`, ready for `Console.print`.
    """
    caption = _caption(preview)
    # Wide enough that the title and caption never wrap above and below a narrow table.
    table = Table(title=title, caption=caption, min_width=max(len(title), len(caption)) + 4)
    for name, type_name in preview.columns:
        table.add_column(Text.assemble((name, "bold"), "\n", (type_name, "dim")))
    for row in preview.rows:
        table.add_row(*(_render_cell(v) for v in row))
    return table
