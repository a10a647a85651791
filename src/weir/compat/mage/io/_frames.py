"""Tables in and out of the SQL connectors: what `export` writes and what `load` returns.

- `export_table`: the value a block exports (pandas DataFrame, a dict or list of dicts as Mage
  accepts, also a pyarrow Table or polars DataFrame) as an Arrow table, with Mage's column-name
  cleaning (lowercase, non-word characters -> `_`, `default` -> `_default`) unless turned off.
  Two columns that clean to the same name are an error (Mage would write one over the other).
- `ReadOptions`: the `pandas.read_sql` keywords `load` accepts, and the frame built as
  `read_sql` builds it (`DataFrame.from_records`, `coerce_float=True`), so loaded frames have
  the dtypes Mage's have.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["RESERVED_WORDS", "ReadOptions", "clean_column_name", "export_table"]

RESERVED_WORDS = frozenset({"default"})
"""Column names Mage prefixes with `_` unless `allow_reserved_words` (its
`SQL_RESERVED_WORDS_SUBSET`)."""

_NON_WORD = re.compile(r"\W")


def clean_column_name(name: object, *, allow_reserved_words: bool = False) -> str:
    """Mage's column-name cleaning: lowercase, every non-word character becomes `_`.

    Args:
        name: the column's name (any object; pandas allows non-strings).
        allow_reserved_words: keep `default` as is instead of `_default`.

    Returns:
        The cleaned name.
    """
    cleaned = _NON_WORD.sub("_", str(name).lower())
    if not allow_reserved_words and cleaned in RESERVED_WORDS:
        return f"_{cleaned}"
    return cleaned


def export_table(
    value: Any, *, index: bool, clean_names: bool, allow_reserved_words: bool
) -> pa.Table:
    """The rows to export, as Arrow, with categorical columns decoded.

    Args:
        value: pandas DataFrame or Series, dict (one row), list of dicts, pyarrow Table, or
            polars DataFrame.
        index: also write a pandas frame's index, as columns (`reset_index`, as Mage).
        clean_names: apply `clean_column_name` to every column.
        allow_reserved_words: passed to `clean_column_name`.

    Returns:
        The Arrow table to write.

    Raises:
        TypeError: the value is not tabular.
        ValueError: two columns clean to the same name (both are named).
    """
    table = _decode_dictionaries(_to_arrow(value, index=index))
    names = [str(name) for name in table.column_names]
    if clean_names:
        names = [clean_column_name(n, allow_reserved_words=allow_reserved_words) for n in names]
    _refuse_duplicates(table.column_names, names)
    return table.rename_columns(names)


def _to_arrow(value: Any, *, index: bool) -> pa.Table:
    if isinstance(value, dict):
        value = pd.DataFrame([value])
    elif isinstance(value, list):
        value = pd.DataFrame(value)
    elif isinstance(value, pd.Series):
        value = value.to_frame()
    if isinstance(value, pd.DataFrame):
        return _frame_to_arrow(value.reset_index() if index else value)
    if isinstance(value, pa.Table):
        return value
    if type(value).__module__.startswith("polars"):
        table = value.collect().to_arrow() if hasattr(value, "collect") else value.to_arrow()
        if isinstance(table, pa.Table):
            return table
    raise TypeError(
        f"export() takes a pandas DataFrame (or a dict, a list of dicts, a pyarrow Table, a "
        f"polars DataFrame), not {type(value).__name__}"
    )


def _frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    """Arrow from pandas; a column of mixed Python objects becomes JSON text.

    Mage's CSV upload turns every value into text too; here only the mixed column does.
    """
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
            texts = [None if _is_missing(v) else _as_text(v) for v in column.tolist()]
            arrays.append(pa.array(texts, type=pa.string()))
    return pa.Table.from_arrays(arrays, names=[str(name) for name in frame.columns])


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _as_text(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _decode_dictionaries(table: pa.Table) -> pa.Table:
    for position, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            decoded = pc.cast(table.column(position), field.type.value_type)
            table = table.set_column(position, field.with_type(field.type.value_type), decoded)
    return table


def _refuse_duplicates(original: Sequence[str], cleaned: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for before, after in zip(original, cleaned, strict=True):
        if after in seen:
            raise ValueError(
                f"columns {seen[after]!r} and {before!r} would both be written as {after!r}; "
                "rename one, or pass auto_clean_name=False to keep the names as they are"
            )
        seen[after] = before


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """The `pandas.read_sql` keywords `load(query, **kwargs)` accepts.

    Attributes:
        params: query parameters, in the driver's placeholder style (`%s` / `%(name)s` for
            PostgreSQL and MySQL, `?` / `$1` for DuckDB).
        index_col: column(s) to make the index.
        coerce_float: turn `Decimal` and other numeric objects into floats (read_sql's default).
        parse_dates: column(s) to parse as datetimes: a list of names, or name -> format.
    """

    params: Any = None
    index_col: str | list[str] | None = None
    coerce_float: bool = True
    parse_dates: list[str] | Mapping[str, Any] | None = None

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> ReadOptions:
        """Read the keywords a block passed to `load`.

        Raises:
            TypeError: a keyword Weir does not support (Mage hands them to read_sql).
        """
        unknown = sorted(set(kwargs) - {"params", "index_col", "coerce_float", "parse_dates"})
        if unknown:
            raise TypeError(
                f"load() got unsupported keyword argument(s) {', '.join(unknown)}; Weir supports "
                "params, index_col, coerce_float and parse_dates"
            )
        parse_dates = kwargs.get("parse_dates")
        if isinstance(parse_dates, str):
            parse_dates = [parse_dates]
        return cls(
            params=kwargs.get("params"),
            index_col=kwargs.get("index_col"),
            coerce_float=bool(kwargs.get("coerce_float", True)),
            parse_dates=parse_dates,
        )

    def frame_from_rows(
        self, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> pd.DataFrame:
        """Build the frame as `read_sql` does, then apply `parse_dates` and `index_col`."""
        frame = pd.DataFrame.from_records(
            list(rows), columns=list(columns), coerce_float=self.coerce_float
        )
        return self.finish(frame)

    def finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Apply `parse_dates` and `index_col` to a loaded frame."""
        if self.parse_dates:
            formats = (
                self.parse_dates
                if isinstance(self.parse_dates, Mapping)
                else dict.fromkeys(self.parse_dates)
            )
            for name, date_format in formats.items():
                frame[name] = pd.to_datetime(frame[name], format=date_format)
        if self.index_col is not None:
            frame = frame.set_index(self.index_col)
        return frame
