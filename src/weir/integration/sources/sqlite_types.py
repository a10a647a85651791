r"""SQLite types: declared types to column kinds, and stored values to Arrow.

Type mapping. SQLite stores values by *type affinity*, derived from the declared type by SQLite's
own rules (https://www.sqlite.org/datatype3.html, section 3.1, applied in this order): a declared
type containing "INT" has INTEGER affinity; "CHAR", "CLOB" or "TEXT" TEXT; "BLOB" or no type
BLOB; "REAL", "FLOA" or "DOUB" REAL; anything else NUMERIC. Within NUMERIC affinity the declared
type's first word refines the kind:

| declared type (affinity)                 | kind         | JSON Schema               | Arrow          |
|------------------------------------------|--------------|---------------------------|----------------|
| INTEGER, INT, BIGINT, ... (INTEGER)      | BIGINT       | integer, 64-bit bounds    | int64          |
| TEXT, VARCHAR(n), NVARCHAR(n), CLOB (TEXT)| TEXT        | string                    | string         |
| REAL, DOUBLE, FLOAT (REAL)               | DOUBLE       | number                    | float64        |
| BLOB, or no type (BLOB)                  | TEXT         | string                    | string         |
| NUMERIC(p, s), DECIMAL(p, s), p <= 38    | DECIMAL(p,s) | number, multipleOf 10^-s  | decimal128     |
| NUMERIC, DECIMAL (no precision)          | NUMERIC      | string, singer.decimal    | string         |
| BOOLEAN, BOOL                            | BOOLEAN      | boolean                   | bool           |
| DATETIME, TIMESTAMP                      | TIMESTAMP    | string, date-time         | timestamp[us, UTC] |
| DATE                                     | DATE         | string, date              | date32         |
| TIME                                     | TIME         | string, time              | time64[us]     |
| JSON                                     | JSON         | object/array              | string         |
| any other NUMERIC-affinity type          | TEXT         | string                    | string         |

SQLite does not enforce declared types (INTEGER affinity is 64-bit whatever the declared width),
so values are converted as follows, and a value that does not fit raises a `ValueError` naming
the column and the value (the source fails the batch with a `SourceError`): integers must be
integers; REAL values in a NUMERIC(p, s) column are rounded half up to s digits; TEXT columns
render numbers as text and blobs as `\\x`-prefixed hex (as PostgreSQL shows bytea); timestamps
are ISO 8601 text (`T` or space, any fraction, an optional `Z` or offset; without one it is read
as UTC) or numbers of seconds since the Unix epoch; dates are `YYYY-MM-DD` (with a midnight time
part allowed); booleans are 0/1 or the text true/false/t/f/1/0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

import pyarrow as pa

from weir.integration.columns import Column, ColumnKind

__all__ = [
    "affinity",
    "date_days",
    "sqlite_column",
    "time_micros",
    "timestamp_micros",
    "to_arrow",
    "to_boolean",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_DECIMAL_CONTEXT = Context(prec=80, rounding=ROUND_HALF_UP)
_NUMERIC_NAMES = {
    "BOOLEAN": ColumnKind.BOOLEAN,
    "BOOL": ColumnKind.BOOLEAN,
    "DATETIME": ColumnKind.TIMESTAMP,
    "TIMESTAMP": ColumnKind.TIMESTAMP,
    "DATE": ColumnKind.DATE,
    "TIME": ColumnKind.TIME,
    "JSON": ColumnKind.JSON,
}
_PRECISION = re.compile(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")
_TRUE = frozenset({"true", "t", "1"})
_FALSE = frozenset({"false", "f", "0"})


# -- type mapping -------------------------------------------------------------------------------
def affinity(declared: str) -> str:
    """SQLite's type affinity of a declared column type (datatype3.html, section 3.1)."""
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper.strip():
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def sqlite_column(name: str, declared: str, nullable: bool = True) -> Column:
    """The column a declared SQLite type maps to (see the module table)."""
    kind_of_affinity = {
        "INTEGER": ColumnKind.BIGINT,
        "TEXT": ColumnKind.TEXT,
        "BLOB": ColumnKind.TEXT,
        "REAL": ColumnKind.DOUBLE,
    }
    found = affinity(declared)
    if found in kind_of_affinity:
        return Column(name, kind_of_affinity[found], nullable)
    first_word = re.split(r"[\s(]", declared.strip().upper(), maxsplit=1)[0]
    if first_word in ("NUMERIC", "DECIMAL"):
        match = _PRECISION.search(declared)
        if match is None:
            return Column(name, ColumnKind.NUMERIC, nullable)
        precision, scale = int(match[1]), int(match[2] or 0)
        if 0 < precision <= 38 and scale <= precision:
            return Column(name, ColumnKind.DECIMAL, nullable, precision=precision, scale=scale)
        return Column(name, ColumnKind.NUMERIC, nullable)
    return Column(name, _NUMERIC_NAMES.get(first_word, ColumnKind.TEXT), nullable)


# -- value conversion ---------------------------------------------------------------------------
def timestamp_micros(value: object) -> int:
    """Microseconds since the Unix epoch (UTC) of a stored SQLite timestamp.

    Raises:
        ValueError: the value is neither ISO 8601 text nor a number.
    """
    if type(value) is str:
        parsed = datetime.fromisoformat(value.strip())
        return (parsed - (_EPOCH if parsed.tzinfo else _NAIVE_EPOCH)) // _MICROSECOND
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a timestamp: {value!r}")
    return round(value * 1_000_000)


def date_days(value: object) -> int:
    """Days since the Unix epoch of a stored SQLite date (text; a time part must be midnight).

    Raises:
        ValueError: the value is not a date.
    """
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.time() != time(0) or parsed.tzinfo is not None:
        raise ValueError(f"not a date (has a time of day): {value!r}")
    return (parsed.date() - date(1970, 1, 1)).days


def time_micros(value: object) -> int:
    """Microseconds since midnight of a stored SQLite time (`HH:MM[:SS[.f]]` text).

    Raises:
        ValueError: the value is not a time of day.
    """
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    parsed = time.fromisoformat(value.strip())
    return (
        (parsed.hour * 60 + parsed.minute) * 60 + parsed.second
    ) * 1_000_000 + parsed.microsecond


def _decimals(values: Sequence[Any], scale: int) -> list[Decimal | None]:
    """Stored numbers as decimals rounded half up to `scale` digits, from their shortest text.

    The REAL 1.005 becomes 1.01, as it reads, not 1.00 as its binary value would.
    """
    step = Decimal(1).scaleb(-scale)
    out: list[Decimal | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        kind = type(value)
        if kind is not float and kind is not int and kind is not str:
            raise ValueError(f"not a number: {value!r}")
        number = Decimal(repr(value)) if kind is float else Decimal(value)
        out.append(number.quantize(step, context=_DECIMAL_CONTEXT))
    return out


def _timestamps(values: Sequence[Any]) -> pa.Array[Any]:
    """Timestamps: pyarrow parses plain ISO text at once; anything else goes value by value."""
    target = pa.timestamp("us", tz="UTC")
    if all(v is None or type(v) is str for v in values):
        try:
            return pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(target)
        except pa.ArrowInvalid:
            pass  # offsets, `Z`, more than six fraction digits: Python's parser below
    return pa.array(_each(values, timestamp_micros), pa.int64()).cast(target)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_boolean(value: object) -> bool:
    """A stored SQLite boolean: 0/1, or the text true/false/t/f/1/0 (any case).

    Raises:
        ValueError: the value is none of these.
    """
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"not a boolean: {value!r}")


def _each(values: Sequence[Any], convert: Callable[[Any], Any]) -> list[Any]:
    return [None if v is None else convert(v) for v in values]


def to_arrow(values: Sequence[Any], column: Column) -> pa.Array[Any]:
    """Convert one column's stored SQLite values to its Arrow type (see the module docstring).

    Raises:
        ValueError: a value does not fit the column's kind; the message shows the value.
    """
    try:
        return _CONVERTERS.get(column.kind, _as_text)(values, column)
    except (ValueError, TypeError, ArithmeticError, pa.ArrowTypeError) as exc:
        raise ValueError(_first_bad_value(values, column, exc)) from exc


def _as_is(values: Sequence[Any], column: Column) -> pa.Array[Any]:
    return pa.array(values, column.arrow_type)


def _as_text(values: Sequence[Any], column: Column) -> pa.Array[Any]:
    if all(v is None or type(v) is str for v in values):
        return pa.array(values, pa.string())
    return pa.array(_each(values, _text), pa.string())


def _by_value(
    convert: Callable[[Any], Any], storage: pa.DataType
) -> Callable[[Sequence[Any], Column], pa.Array[Any]]:
    def converter(values: Sequence[Any], column: Column) -> pa.Array[Any]:
        return pa.array(_each(values, convert), storage).cast(column.arrow_type)

    return converter


_CONVERTERS: dict[ColumnKind, Callable[[Sequence[Any], Column], pa.Array[Any]]] = {
    ColumnKind.BIGINT: _as_is,
    ColumnKind.DOUBLE: _as_is,
    ColumnKind.DECIMAL: lambda values, column: pa.array(
        _decimals(values, column.scale or 0), column.arrow_type
    ),
    ColumnKind.TIMESTAMP: lambda values, _column: _timestamps(values),
    ColumnKind.BOOLEAN: _by_value(to_boolean, pa.bool_()),
    ColumnKind.DATE: _by_value(date_days, pa.int32()),
    ColumnKind.TIME: _by_value(time_micros, pa.int64()),
}


def _first_bad_value(values: Sequence[Any], column: Column, exc: BaseException) -> str:
    """Name the first value that fails alone (the error of a whole column rarely shows it)."""
    if len(values) > 1:
        for value in values:
            if value is None:
                continue
            try:
                to_arrow([value], column)
            except ValueError:
                return f"column '{column.name}' ({column.kind.value}) holds {value!r}"
    return f"column '{column.name}' ({column.kind.value}): {exc}"
