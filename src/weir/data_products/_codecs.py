"""One small codec per kind of block output, and the registry that picks one for a value.

The table codecs live in `_table_codecs` and are imported only when a value from pandas, polars
or pyarrow is written or a table output is read, so runs that pass plain Python values never
pay for importing those libraries.

A codec turns one kind of object into one data file (and back) and reports its shape for
`meta.json`. The registry asks each codec in turn whether it `accepts` the value; the first that
does writes it, and if that codec cannot hold this particular value (a pandas column of mixed
types, a dict with integer keys) it raises `CannotEncodeError` and the value is pickled instead,
so any picklable output survives a round trip unchanged.

| kind     | accepts                                   | file                 | read back as       |
|----------|-------------------------------------------|----------------------|--------------------|
| `pandas` | `pandas.DataFrame`                        | Parquet or Arrow IPC | `pandas.DataFrame` |
| `series` | `pandas.Series`                           | Parquet or Arrow IPC | `pandas.Series`    |
| `polars` | `polars.DataFrame` (by module name)       | Parquet or Arrow IPC | `polars.DataFrame` |
| `arrow`  | `pyarrow.Table`, `pyarrow.RecordBatch`    | Parquet or Arrow IPC | `pyarrow.Table`    |
| `json`   | exactly dict, list, str, int, float, bool, None | `data.json`    | the decoded JSON   |
| `pickle` | anything (the fallback)                   | `data.pickle`        | the object         |
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Final, Protocol

import orjson

from weir.data_products.formats import TableFormat

__all__ = ["CODECS", "CannotEncodeError", "Codec", "CodecRegistry", "Encoded", "Schema"]

Schema = tuple[tuple[str, str], ...]


class CannotEncodeError(Exception):
    """The codec that accepts this kind of value cannot hold this value; the message says why."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """What a codec wrote: the `meta.json` fields it knows (the store adds `kind` and `bytes`)."""

    format: str
    file: str
    rows: int | None
    columns: int | None
    schema: Schema | None


class Codec(Protocol):
    """Writes and reads one kind of block output."""

    @property
    def kind(self) -> str:
        """The `kind` written to `meta.json` for outputs this codec writes."""

    def accepts(self, value: object) -> bool:
        """Whether this codec handles values of this type (cheap: a type test, no data scan)."""

    def write(self, value: object, folder: Path, table_format: TableFormat) -> Encoded:
        """Write `value` as one data file into the empty `folder`.

        Raises:
            CannotEncodeError: this value cannot be held by this codec.
        """

    def read(self, path: Path, file_format: str) -> object:
        """Read back the object written to `path` in `file_format`."""


_JSON_TYPES: Final = frozenset({dict, list, str, int, float, bool, type(None)})


def _json_default(value: object) -> object:
    """Encode what orjson does not: a Decimal as its exact digits, a numpy scalar as Python."""
    if isinstance(value, Decimal):
        return str(value)
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()  # a numpy scalar
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class JsonCodec:
    """Plain Python values as JSON (orjson).

    Only these exact types at the top (subclasses such as `defaultdict` are pickled). Inside them,
    datetimes and dates become ISO 8601 strings, Decimals strings of their digits, numpy scalars and
    arrays numbers and lists, tuples lists. Anything else (sets, non-string keys, integers beyond
    64 bits) makes the whole value fall back to pickle. orjson writes NaN and infinities as null.
    """

    kind = "json"

    def accepts(self, value: object) -> bool:
        """Exactly dict, list, str, int, float, bool or None."""
        return type(value) in _JSON_TYPES

    def write(self, value: object, folder: Path, table_format: TableFormat) -> Encoded:
        """Write `data.json`; rows are the length of a list or dict, else null."""
        try:
            data = orjson.dumps(value, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
        except orjson.JSONEncodeError as exc:
            raise CannotEncodeError(f"not JSON serialisable: {exc}") from exc
        (folder / "data.json").write_bytes(data)
        rows = len(value) if isinstance(value, dict | list) else None
        return Encoded("json", "data.json", rows, None, None)

    def read(self, path: Path, file_format: str) -> object:
        """The decoded JSON value."""
        return orjson.loads(path.read_bytes())


def _shape(value: object) -> tuple[int | None, int | None]:
    """Rows and columns from a `shape` attribute (pickled frames, numpy arrays), else unknown."""
    shape = getattr(value, "shape", None)
    if not isinstance(shape, tuple) or not all(isinstance(n, int) for n in shape):
        return None, None
    if len(shape) == 1:
        return shape[0], None
    if len(shape) == 2:
        return shape[0], shape[1]
    return None, None


class PickleCodec:
    """Anything else, with the highest pickle protocol; also the fallback of every other codec."""

    kind = "pickle"

    def accepts(self, value: object) -> bool:
        """Everything."""
        return True

    def write(self, value: object, folder: Path, table_format: TableFormat) -> Encoded:
        """Write `data.pickle`; rows/columns from the value's `shape` when it has one."""
        try:
            with (folder / "data.pickle").open("wb") as file:
                pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise CannotEncodeError(f"{type(value).__qualname__} cannot be pickled: {exc}") from exc
        rows, columns = _shape(value)
        return Encoded("pickle", "data.pickle", rows, columns, None)

    def read(self, path: Path, file_format: str) -> object:
        """Unpickle; the class of the object must be importable."""
        with path.open("rb") as file:
            return pickle.load(file)


#: Kinds written by the table codecs, and the top-level modules whose values they take.
TABLE_KINDS: Final = frozenset({"pandas", "series", "polars", "arrow"})
TABLE_LIBRARIES: Final = frozenset({"pandas", "polars", "pyarrow"})


def _table_codecs() -> Sequence[Codec]:
    from weir.data_products._table_codecs import TABLE_CODECS

    return TABLE_CODECS


class CodecRegistry:
    """Codecs in the order they are asked, plus the fallback used when one cannot encode.

    The table codecs come first but are loaded lazily: only for a value whose type comes from
    pandas, polars or pyarrow, or to read an output of a table kind.
    """

    def __init__(self, codecs: Sequence[Codec], fallback: Codec) -> None:
        self._codecs = tuple(codecs)
        self._fallback = fallback
        self._by_kind: dict[str, Codec] = {c.kind: c for c in (*codecs, fallback)}

    def for_value(self, value: object) -> Codec:
        """The first codec that accepts the value's type, else the fallback."""
        library = type(value).__module__.partition(".")[0]
        candidates = (
            (*_table_codecs(), *self._codecs) if library in TABLE_LIBRARIES else self._codecs
        )
        return next((c for c in candidates if c.accepts(value)), self._fallback)

    def for_kind(self, kind: str) -> Codec | None:
        """The codec that wrote outputs of this `kind`, or None for an unknown kind."""
        if kind in TABLE_KINDS:
            return next((c for c in _table_codecs() if c.kind == kind), None)
        return self._by_kind.get(kind)

    def encode(self, value: object, folder: Path, table_format: TableFormat) -> tuple[str, Encoded]:
        """Write `value` into the empty `folder` with its codec, or the fallback if that fails.

        Returns:
            `(kind, encoded)` of the codec that wrote the file.

        Raises:
            CannotEncodeError: not even the fallback could write the value (e.g. a lambda).
        """
        codec = self.for_value(value)
        try:
            return codec.kind, codec.write(value, folder, table_format)
        except CannotEncodeError:
            if codec is self._fallback:
                raise
        for leftover in folder.iterdir():
            leftover.unlink()
        return self._fallback.kind, self._fallback.write(value, folder, table_format)


CODECS: Final = CodecRegistry((JsonCodec(),), fallback=PickleCodec())
