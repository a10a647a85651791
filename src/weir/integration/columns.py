"""Column types shared by every connector: JSON Schema <-> `Column` <-> Arrow.

The catalog's JSON Schema is the contract between a source and a destination. Each property is
read into a `Column` of one `ColumnKind`; the kind fixes the Arrow type the data travels in and
each destination maps kinds to its own SQL types (see the table in each destination module).

| kind      | JSON Schema (nullable columns add "null" to `type`)            | Arrow              |
|-----------|----------------------------------------------------------------|--------------------|
| SMALLINT  | integer, minimum -32768, maximum 32767                         | int16              |
| INTEGER   | integer, minimum -2^31, maximum 2^31-1                         | int32              |
| BIGINT    | integer (other bounds or none)                                 | int64              |
| DECIMAL   | number, multipleOf 10^-s, maximum 10^(p-s) exclusive, p <= 38  | decimal128(p, s)   |
| NUMERIC   | string, format `singer.decimal` (any precision, as text)       | string             |
| DOUBLE    | number (no decimal hints)                                      | float64            |
| BOOLEAN   | boolean                                                        | bool               |
| TEXT      | string; also any mix of scalar types (values as text)          | string             |
| TIMESTAMP | string, format date-time                                       | timestamp[us, UTC] |
| DATE      | string, format date                                            | date32             |
| TIME      | string, format time                                            | time64[us]         |
| UUID      | string, format uuid                                            | string             |
| JSON      | object and/or array, or no `type` at all                       | string (JSON text) |

`anyOf`/`oneOf` use their first non-null branch. A `multipleOf` that is not a power of ten, or a
decimal wider than 38 digits, reads as DOUBLE.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyarrow as pa

__all__ = [
    "Column",
    "ColumnKind",
    "arrow_schema",
    "columns_from_json_schema",
    "widen",
]

MAX_DECIMAL_PRECISION = 38
_INT_BOUNDS = {
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
}
_INT_DIGITS = {"SMALLINT": 5, "INTEGER": 10, "BIGINT": 19}


class ColumnKind(StrEnum):
    """The logical type of a column; see the module table."""

    SMALLINT = "SMALLINT"
    INTEGER = "INTEGER"
    BIGINT = "BIGINT"
    DECIMAL = "DECIMAL"
    NUMERIC = "NUMERIC"
    DOUBLE = "DOUBLE"
    BOOLEAN = "BOOLEAN"
    TEXT = "TEXT"
    TIMESTAMP = "TIMESTAMP"
    DATE = "DATE"
    TIME = "TIME"
    UUID = "UUID"
    JSON = "JSON"


_INTEGERS = (ColumnKind.SMALLINT, ColumnKind.INTEGER, ColumnKind.BIGINT)
_ARROW: dict[ColumnKind, pa.DataType] = {
    ColumnKind.SMALLINT: pa.int16(),
    ColumnKind.INTEGER: pa.int32(),
    ColumnKind.BIGINT: pa.int64(),
    ColumnKind.NUMERIC: pa.string(),
    ColumnKind.DOUBLE: pa.float64(),
    ColumnKind.BOOLEAN: pa.bool_(),
    ColumnKind.TEXT: pa.string(),
    ColumnKind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnKind.DATE: pa.date32(),
    ColumnKind.TIME: pa.time64("us"),
    ColumnKind.UUID: pa.string(),
    ColumnKind.JSON: pa.string(),
}
_STRING_FORMATS = {
    "date-time": ColumnKind.TIMESTAMP,
    "date": ColumnKind.DATE,
    "time": ColumnKind.TIME,
    "uuid": ColumnKind.UUID,
    "singer.decimal": ColumnKind.NUMERIC,
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a stream.

    Attributes:
        name: the column name, as in the source.
        kind: its logical type.
        nullable: whether it may hold NULL.
        precision: total digits, DECIMAL only (1..38).
        scale: digits after the point, DECIMAL only (0..precision).
    """

    name: str
    kind: ColumnKind
    nullable: bool = True
    precision: int | None = None
    scale: int | None = None

    def __post_init__(self) -> None:
        if self.kind is ColumnKind.DECIMAL and not (
            self.precision is not None
            and self.scale is not None
            and 0 < self.precision <= MAX_DECIMAL_PRECISION
            and 0 <= self.scale <= self.precision
        ):
            raise ValueError(f"column '{self.name}': DECIMAL needs 0 <= scale <= precision <= 38")

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type values of this column travel in."""
        if self.kind is ColumnKind.DECIMAL:
            return pa.decimal128(self.precision or MAX_DECIMAL_PRECISION, self.scale or 0)
        return _ARROW[self.kind]

    @property
    def integer_digits(self) -> int | None:
        """Digits before the point this column can hold (integers, DECIMAL), else None."""
        if self.kind in _INTEGERS:
            return _INT_DIGITS[self.kind.value]
        if self.kind is ColumnKind.DECIMAL:
            return (self.precision or 0) - (self.scale or 0)
        return None

    def json_schema(self) -> dict[str, Any]:
        """Return this column's JSON Schema property (Singer draft-4 style)."""
        base, extra = _json_base(self)
        types = [base] if isinstance(base, str) else list(base)
        if self.nullable:
            types = ["null", *types]
        return {"type": types if len(types) > 1 else types[0], **extra}

    @classmethod
    def from_json_schema(cls, name: str, prop: Mapping[str, Any]) -> Column:
        """Read a JSON Schema property into a Column, by the module table."""
        prop, nullable = _first_branch(prop)
        types = _types(prop)
        nullable = nullable or "null" in types or not types
        scalars = types - {"null"}
        if not scalars or scalars & {"object", "array"}:
            return cls(name, ColumnKind.JSON, nullable)
        if scalars == {"integer"}:
            return cls(name, _integer_kind(prop), nullable)
        if scalars <= {"integer", "number"}:
            return _number_column(name, prop, nullable)
        if scalars == {"boolean"}:
            return cls(name, ColumnKind.BOOLEAN, nullable)
        kind = ColumnKind.TEXT
        if scalars == {"string"}:
            kind = _STRING_FORMATS.get(str(prop.get("format")), ColumnKind.TEXT)
        return cls(name, kind, nullable)


def _json_base(column: Column) -> tuple[str | list[str], dict[str, Any]]:
    kind = column.kind
    if kind in _INTEGERS:
        low, high = _INT_BOUNDS[kind.value]
        return "integer", {"minimum": low, "maximum": high}
    if kind is ColumnKind.DECIMAL:
        scale, limit = column.scale or 0, 10 ** (column.integer_digits or 0)
        step: float | int = 1 if scale == 0 else float(f"1e-{scale}")
        bounds = {"minimum": -limit, "exclusiveMinimum": True}
        return "number", {"multipleOf": step, "maximum": limit, "exclusiveMaximum": True, **bounds}
    if kind is ColumnKind.DOUBLE:
        return "number", {}
    if kind is ColumnKind.BOOLEAN:
        return "boolean", {}
    if kind is ColumnKind.JSON:
        return ["object", "array"], {}
    formats = {v: k for k, v in _STRING_FORMATS.items()}
    return "string", ({"format": formats[kind]} if kind in formats else {})


def _first_branch(prop: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    branches = prop.get("anyOf") or prop.get("oneOf")
    if not isinstance(branches, list):
        return prop, False
    non_null = [b for b in branches if isinstance(b, Mapping) and _types(b) != {"null"}]
    nullable = len(non_null) < len(branches)
    return (non_null[0] if non_null else {}), nullable


def _types(prop: Mapping[str, Any]) -> set[str]:
    kind = prop.get("type")
    if isinstance(kind, str):
        return {kind}
    return {str(k) for k in kind} if isinstance(kind, list) else set()


def _integer_kind(prop: Mapping[str, Any]) -> ColumnKind:
    low, high = prop.get("minimum"), prop.get("maximum")
    if isinstance(low, int) and isinstance(high, int):
        for kind in _INTEGERS:
            kind_low, kind_high = _INT_BOUNDS[kind.value]
            if kind_low <= low and high <= kind_high:
                return kind
    return ColumnKind.BIGINT


def _number_column(name: str, prop: Mapping[str, Any], nullable: bool) -> Column:
    step = prop.get("multipleOf")
    if not isinstance(step, int | float) or step <= 0:
        return Column(name, ColumnKind.DOUBLE, nullable)
    scale = round(-math.log10(step))
    if scale < 0 or not math.isclose(step, 10.0**-scale, rel_tol=1e-9):
        return Column(name, ColumnKind.DOUBLE, nullable)
    limit = prop.get("maximum")
    if isinstance(prop.get("exclusiveMaximum"), int | float) and not isinstance(
        prop.get("exclusiveMaximum"), bool
    ):
        limit = prop["exclusiveMaximum"]
    digits = MAX_DECIMAL_PRECISION - scale
    if isinstance(limit, int | float) and limit >= 1:
        digits = max(0, math.ceil(math.log10(limit) - 1e-9))
    if digits + scale > MAX_DECIMAL_PRECISION or digits + scale == 0:
        return Column(name, ColumnKind.DOUBLE, nullable)
    return Column(name, ColumnKind.DECIMAL, nullable, precision=digits + scale, scale=scale)


def columns_from_json_schema(
    schema: Mapping[str, Any], names: Sequence[str] | None = None
) -> tuple[Column, ...]:
    """Read the columns of a stream's JSON Schema.

    Args:
        schema: `{"type": "object", "properties": {...}}`.
        names: the columns to read, in this order; None reads every property in schema order.

    Returns:
        One Column per name.

    Raises:
        KeyError: a name is not a property of the schema.
    """
    props = schema.get("properties") or {}
    wanted = list(props) if names is None else list(names)
    missing = [n for n in wanted if n not in props]
    if missing:
        raise KeyError(f"schema has no properties {missing}")
    return tuple(Column.from_json_schema(n, props[n]) for n in wanted)


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Arrow schema batches of these columns have (every field nullable)."""
    return pa.schema([pa.field(c.name, c.arrow_type) for c in columns])


def widen(existing: Column, incoming: Column) -> Column | None:
    """Decide how a destination column must change to hold the incoming column's values.

    Args:
        existing: the column as the destination has it.
        incoming: the column as the source now sends it.

    Returns:
        `existing` when it already holds every incoming value; a wider column to alter it to
        (SMALLINT < INTEGER < BIGINT; integers and decimals to a DECIMAL with enough digits on
        both sides of the point, or to NUMERIC past 38 digits; integers to DOUBLE); or None when
        the change is incompatible (e.g. TEXT -> BIGINT, TIMESTAMP -> DATE, DECIMAL -> DOUBLE).
    """
    if existing.kind is incoming.kind and existing.kind is not ColumnKind.DECIMAL:
        return existing
    old_digits, new_digits = existing.integer_digits, incoming.integer_digits
    if old_digits is not None and new_digits is not None:
        return _widen_exact(existing, incoming, old_digits, new_digits)
    holds = (
        (existing.kind is ColumnKind.NUMERIC and new_digits is not None)
        or (existing.kind is ColumnKind.DOUBLE and incoming.kind in _INTEGERS)
        or (existing.kind is ColumnKind.TEXT and incoming.kind is ColumnKind.UUID)
    )
    if holds:
        return existing
    if incoming.kind is ColumnKind.DOUBLE and existing.kind in _INTEGERS:
        return Column(existing.name, ColumnKind.DOUBLE, existing.nullable)
    if old_digits is not None and incoming.kind is ColumnKind.NUMERIC:
        return Column(existing.name, ColumnKind.NUMERIC, existing.nullable)
    return None


def _widen_exact(existing: Column, incoming: Column, old: int, new: int) -> Column:
    if existing.kind in _INTEGERS and incoming.kind in _INTEGERS:
        wider = max(existing.kind, incoming.kind, key=_INTEGERS.index)
        if wider is existing.kind:
            return existing
        return Column(existing.name, wider, existing.nullable)
    scale = max(existing.scale or 0, incoming.scale or 0)
    digits = max(old, new)
    if existing.kind is ColumnKind.DECIMAL and (existing.scale or 0) == scale and old == digits:
        return existing
    if digits + scale > MAX_DECIMAL_PRECISION:
        return Column(existing.name, ColumnKind.NUMERIC, existing.nullable)
    return Column(
        existing.name, ColumnKind.DECIMAL, existing.nullable, precision=digits + scale, scale=scale
    )
