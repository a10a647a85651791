"""Encode Arrow batches as PostgreSQL binary COPY data, vectorised (no Python per value).

PostgreSQL parses binary COPY about twice as fast as CSV (no text to convert for integers,
timestamps and numerics), and the load is the slowest part of a PostgreSQL -> PostgreSQL sync.
Each column is turned into two Arrow binary arrays, the 4-byte big-endian field length and the
field's bytes, using numpy byte swaps; `pyarrow.compute.binary_join_element_wise` then
concatenates, row by row, the field count and every column's parts, and the data buffer of that
array is the COPY payload.

Binary data must match the column types exactly, so this is only used for tables Weir created
with `postgres.sql_type` in the same load (the staging and scratch tables). Columns of kinds
without an encoder here (NUMERIC, UUID, DECIMAL wider than 18 digits) make `binary_supported`
false, and the load uses CSV instead.

Formats (PostgreSQL's `*_send` functions): integers and float8 big-endian; bool one byte;
timestamptz and time int64 microseconds (timestamptz counted from 2000-01-01 UTC); date int32 days
from 2000-01-01; text its UTF-8 bytes; jsonb a version byte 1 then the text; numeric
(ndigits, weight, sign, dscale) as int16 then ndigits base-10000 int16 digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as _pc

from weir.integration.columns import Column, ColumnKind

__all__ = ["HEADER", "TRAILER", "binary_supported", "encode_batch"]

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"

# pyarrow-stubs' overloads reject valid mixes of arrays and scalars in these kernels.
pc: Any = _pc

_EPOCH_2000_US = 946_684_800_000_000
_EPOCH_2000_DAYS = 10_957
_MAX_INT64_DIGITS = 18
_EMPTY = pa.scalar(b"", pa.binary())
_FIXED = {
    ColumnKind.SMALLINT: ">i2",
    ColumnKind.INTEGER: ">i4",
    ColumnKind.BIGINT: ">i8",
    ColumnKind.DOUBLE: ">f8",
    ColumnKind.TIME: ">i8",
}


def binary_supported(columns: Sequence[Column]) -> bool:
    """Whether every column has a binary encoder here (else load as CSV)."""
    return all(_supported(c) for c in columns)


def _supported(column: Column) -> bool:
    if column.kind is ColumnKind.DECIMAL:
        precision, scale = column.precision or 0, column.scale or 0
        return precision <= _MAX_INT64_DIGITS and scale + (-scale % 4) <= _MAX_INT64_DIGITS
    return column.kind not in (ColumnKind.NUMERIC, ColumnKind.UUID)


def encode_batch(batch: pa.RecordBatch, columns: Sequence[Column]) -> pa.Buffer:
    """Encode a batch's rows as binary COPY tuples (without the header and trailer).

    Args:
        batch: rows with `columns.arrow_schema(columns)`.
        columns: the columns, all `binary_supported`.

    Returns:
        The tuples, ready for `COPY ... FROM STDIN (FORMAT binary)` after `HEADER`.
    """
    count = len(columns).to_bytes(2, "big")
    parts: list[Any] = [pa.scalar(count, pa.binary())]
    for column, array in zip(columns, batch.columns, strict=True):
        parts.extend(_field(column, array))
    joined = pc.binary_join_element_wise(
        *parts, _EMPTY, null_handling="replace", null_replacement=b""
    )
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)[joined.offset :]
    start, end = int(offsets[0]), int(offsets[len(joined)])
    data: pa.Buffer = joined.buffers()[2]
    return data.slice(start, end - start)


def _field(column: Column, array: Any) -> tuple[Any, Any]:
    """The length prefix and the bytes of one column's values (empty for NULL)."""
    kind = column.kind
    if kind in (ColumnKind.TEXT, ColumnKind.JSON):
        data = array.cast(pa.binary())
        if kind is ColumnKind.JSON:
            data = pc.binary_join_element_wise(pa.scalar(b"\x01", pa.binary()), data, _EMPTY)
        lengths = pc.fill_null(pc.binary_length(data), -1)
        return _int32_be(lengths), data
    if kind is ColumnKind.DECIMAL:
        return _fixed(array, _numeric(array, column.precision or 0, column.scale or 0))
    if kind is ColumnKind.BOOLEAN:
        values = np.asarray(pc.fill_null(array, False), dtype=np.uint8)
        return _fixed(array, values.reshape(-1, 1))
    return _fixed(array, _big_endian(array, kind))


def _big_endian(array: Any, kind: ColumnKind) -> Any:
    """Values as big-endian bytes, shape (rows, width)."""
    if kind is ColumnKind.TIMESTAMP:
        micros = np.asarray(pc.fill_null(array.cast(pa.int64()), 0)) - _EPOCH_2000_US
        values = micros.astype(">i8")
    elif kind is ColumnKind.DATE:
        days = np.asarray(pc.fill_null(array.cast(pa.int32()), 0)) - _EPOCH_2000_DAYS
        values = days.astype(">i4")
    elif kind is ColumnKind.TIME:
        values = np.asarray(pc.fill_null(array.cast(pa.int64()), 0)).astype(">i8")
    else:
        zero = pa.scalar(0, array.type)
        values = np.asarray(pc.fill_null(array, zero)).astype(_FIXED[kind])
    return values.view(np.uint8).reshape(len(array), -1)


def _numeric(array: Any, precision: int, scale: int) -> Any:
    """decimal128 values (at most 18 digits) as PostgreSQL numeric, shape (rows, width).

    The unscaled value splits into an integer and a fraction part, each cut into base-10000
    digits; the fraction is padded with zeros to whole digits. PostgreSQL strips the leading
    and trailing zero digits itself.
    """
    words = np.frombuffer(array.buffers()[1], dtype=np.int64)
    unscaled = words[2 * array.offset : 2 * (array.offset + len(array)) : 2].copy()
    unscaled[~np.asarray(array.is_valid(), dtype=bool)] = 0
    magnitude = np.abs(unscaled)
    pad = -scale % 4
    whole, fraction = np.divmod(magnitude, 10**scale)
    fraction = fraction * 10**pad
    int_digits, frac_digits = -(-(precision - scale) // 4), (scale + pad) // 4
    digits = np.zeros((len(array), 4 + int_digits + frac_digits), dtype=">i2")
    digits[:, 0] = int_digits + frac_digits
    digits[:, 1] = int_digits - 1
    digits[:, 2] = np.where(unscaled < 0, 0x4000, 0)
    digits[:, 3] = scale
    for index in range(int_digits):
        whole, digits[:, 3 + int_digits - index] = np.divmod(whole, 10_000)
    for index in range(frac_digits):
        fraction, digits[:, 3 + int_digits + frac_digits - index] = np.divmod(fraction, 10_000)
    return digits.view(np.uint8).reshape(len(array), -1)


def _fixed(array: Any, values: Any) -> tuple[Any, Any]:
    width = values.shape[1]
    packed: Any = np.ascontiguousarray(values)
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(array), [None, pa.py_buffer(packed)]
    )
    valid = pc.is_valid(array)
    data = pc.if_else(valid, fixed.cast(pa.binary()), _EMPTY)
    lengths = pc.if_else(valid, pa.scalar(width, pa.int32()), pa.scalar(-1, pa.int32()))
    return _int32_be(lengths), data


def _int32_be(lengths: Any) -> Any:
    values = np.asarray(lengths, dtype=np.int32).astype(">i4")
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(4), len(lengths), [None, pa.py_buffer(values.tobytes())]
    )
    return fixed.cast(pa.binary())
