"""Singer RECORDs to Arrow: a stream's records as one record batch typed by its JSON Schema.

A Singer tap sends every value as JSON; the stream's schema (`weir.integration.columns`) fixes
each column's kind and Arrow type. Each column is converted in one vectorised step when its
values have the usual JSON types, and value by value otherwise, so that a value that does not
fit fails with a `SourceError` naming the stream, the column and the value.

Type mapping (the tap's JSON Schema -> column kind -> Arrow, by `weir.integration.columns`),
with the RECORD values each kind accepts:

| JSON Schema                           | kind      | Arrow              | RECORD values accepted            |
|---------------------------------------|-----------|--------------------|-----------------------------------|
| integer, 16-bit bounds                | SMALLINT  | int16              | integers, whole floats, digits    |
| integer, 32-bit bounds                | INTEGER   | int32              | (as SMALLINT)                     |
| integer (other bounds, none)          | BIGINT    | int64              | (as SMALLINT)                     |
| number, multipleOf 10^-s, p <= 38     | DECIMAL   | decimal128(p, s)   | numbers (rounded to s), strings   |
| number (other)                        | DOUBLE    | float64            | numbers, numeric strings          |
| string, format singer.decimal         | NUMERIC   | string             | strings, numbers (as text)        |
| boolean                               | BOOLEAN   | bool               | booleans, "true"/"f"/"1"/...      |
| string                                | TEXT      | string             | any scalar (as text)              |
| string, format date-time              | TIMESTAMP | timestamp[us, UTC] | ISO 8601; no offset means UTC     |
| string, format date                   | DATE      | date32             | ISO dates; a date-time's date     |
| string, format time                   | TIME      | time64[us]         | `HH:MM:SS[.ffffff]`, offset drops |
| string, format uuid                   | UUID      | string             | strings                           |
| object, array, or no type             | JSON      | string (JSON text) | any JSON value                    |

What pipelinewise-tap-postgres 1.8 discovers, for example: smallint/integer/bigint as bounded
integers; numeric(p, s) as DECIMAL; unbounded numeric as a number with multipleOf 1e-38 and
hence DOUBLE; real/double as DOUBLE; text, varchar and uuid as TEXT; timestamp, timestamptz
and date as TIMESTAMP (date-time); time as TIME; json, jsonb and arrays as JSON.

Numbers are parsed by orjson as 64-bit floats: a decimal with more than 15 significant digits
(e.g. an unbounded `numeric` tap-postgres sends as a JSON number) loses precision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import orjson
import pyarrow as pa

from weir.integration.columns import Column, ColumnKind, arrow_schema
from weir.integration.errors import SourceError

__all__ = ["records_to_batch", "to_arrow"]


def records_to_batch(
    records: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, stream: str
) -> pa.RecordBatch:
    """Convert RECORD objects into one Arrow batch with `arrow_schema(columns)`.

    Args:
        records: the records' `record` objects; keys not in `columns` are ignored, missing
            keys are NULL.
        columns: the stream's columns, in batch order.
        stream: the stream name, for messages.

    Returns:
        A batch of `len(records)` rows (values accepted as in the module table).

    Raises:
        SourceError: a value does not fit its column's kind; names the column and value.
    """
    arrays = [to_arrow([r.get(c.name) for r in records], c, stream) for c in columns]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(columns))


_CONVERSION_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    TypeError,
    ValueError,
    OverflowError,
    InvalidOperation,
)
_INTEGER_KINDS = (ColumnKind.SMALLINT, ColumnKind.INTEGER, ColumnKind.BIGINT)
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def to_arrow(values: list[Any], column: Column, stream: str) -> pa.Array[Any]:
    """One column's RECORD values as an Arrow array of `column.arrow_type`.

    A vectorised conversion is tried first; values it does not take are converted one by one
    (see the module table).

    Raises:
        SourceError: a value does not fit the column's kind; names the stream, column, value.
    """
    target = column.arrow_type
    try:
        fast = _fast_array(values, column, target)
        if fast is not None:
            return fast
    except _CONVERSION_ERRORS:
        pass
    convert = _CONVERTERS[column.kind]
    converted: list[Any] = []
    for value in values:
        try:
            converted.append(None if value is None else convert(value, column))
        except _CONVERSION_ERRORS as exc:
            raise _bad_value(column, value, stream, exc) from exc
    try:
        return pa.array(converted, target)
    except _CONVERSION_ERRORS as exc:
        raise _bad_value(column, None, stream, exc) from exc


def _bad_value(column: Column, value: object, stream: str, exc: Exception) -> SourceError:
    shown = "a value" if value is None else f"{value!r:.80}"
    return SourceError(
        f"column '{column.name}' is {column.kind} but the tap sent {shown} ({exc}); run "
        "discovery again if the source's type changed, or deselect the column",
        stream=stream,
    )


def _fast_array(values: list[Any], column: Column, target: pa.DataType) -> pa.Array[Any] | None:
    """A vectorised conversion for the usual value types, or None to go value by value."""
    kind = column.kind
    if kind in _INTEGER_KINDS or kind is ColumnKind.BOOLEAN:
        plain = bool if kind is ColumnKind.BOOLEAN else int
        usual = all(type(v) is plain or v is None for v in values)
        return pa.array(values, target) if usual else None
    if kind in (ColumnKind.DOUBLE, ColumnKind.TEXT, ColumnKind.UUID, ColumnKind.NUMERIC):
        return pa.array(values, target)
    if kind is ColumnKind.TIME:
        # Arrow casts no string to a time; it does cast a timestamp.
        stamps = [None if v is None else "1970-01-01T" + v for v in values]
        return pa.array(stamps, pa.string()).cast(pa.timestamp("us")).cast(target)
    if kind in (ColumnKind.TIMESTAMP, ColumnKind.DATE):
        return pa.array(values, pa.string()).cast(target)
    return None


def _integer(value: Any, _column: Column) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("not a whole number")
    return int(value)


def _decimal(value: Any, column: Column) -> Decimal:
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not exact.is_finite():
        raise ValueError("NaN and infinity do not fit a DECIMAL")
    return exact.quantize(Decimal(1).scaleb(-(column.scale or 0)), rounding=ROUND_HALF_EVEN)


def _double(value: Any, _column: Column) -> float:
    return float(value)


def _boolean(value: Any, _column: Column) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not a boolean")


def _text(value: Any, _column: Column) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list | bool):
        return orjson.dumps(value).decode()
    return str(value)


# The ISO parsers below raise TypeError on anything but a string.
def _timestamp(value: Any, _column: Column) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _date(value: Any, _column: Column) -> date:
    return date.fromisoformat(value[:10])


def _time(value: Any, _column: Column) -> time_of_day:
    return time_of_day.fromisoformat(value).replace(tzinfo=None)


def _json(value: Any, _column: Column) -> str:
    return orjson.dumps(value).decode()


_CONVERTERS: dict[ColumnKind, Any] = {
    ColumnKind.SMALLINT: _integer,
    ColumnKind.INTEGER: _integer,
    ColumnKind.BIGINT: _integer,
    ColumnKind.DECIMAL: _decimal,
    ColumnKind.NUMERIC: _text,
    ColumnKind.DOUBLE: _double,
    ColumnKind.BOOLEAN: _boolean,
    ColumnKind.TEXT: _text,
    ColumnKind.TIMESTAMP: _timestamp,
    ColumnKind.DATE: _date,
    ColumnKind.TIME: _time,
    ColumnKind.UUID: _text,
    ColumnKind.JSON: _json,
}
