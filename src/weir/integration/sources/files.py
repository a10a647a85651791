"""File source: CSV, JSON lines and Parquet files, each stream a local path or glob.

Files: a stream's path is a file or a glob (`**` matches folders), expanded in sorted path order
when the stream is discovered or read. The format comes from `file_format`, else from each file's
extension (`.csv`, `.jsonl`/`.ndjson`, `.parquet`/`.pq`, optionally followed by a compression
extension such as `.gz`, which pyarrow decompresses); the files of one stream share a format.

Schema inference: Parquet files give their schema from the footer; CSV and JSON lines files are
typed by pyarrow's own inference on their first block (`INFER_BLOCK_BYTES`), so a value further
down that does not fit the inferred type fails the read with a `SourceError` (give the column
more room by editing the catalog's type, or make the first rows representative). The files'
schemas are unified by name: integers widen, integers and floats become floats, naive and zoned
timestamps become zoned, dates and timestamps become timestamps, any other conflict becomes
text; a column missing from a file is NULL there. In CSV an unquoted empty field is NULL, a quoted
empty field an empty string; nothing else means NULL.

Type mapping (Arrow type found in the files -> column kind -> JSON Schema):

| Arrow (as inferred or stored)                      | kind      | JSON Schema                   |
|----------------------------------------------------|-----------|-------------------------------|
| int8, int16, uint8                                 | SMALLINT  | integer, 16-bit bounds        |
| int32, uint16                                      | INTEGER   | integer, 32-bit bounds        |
| int64, uint32                                      | BIGINT    | integer, 64-bit bounds        |
| uint64                                             | DECIMAL   | number, 20 digits, scale 0    |
| float16, float32, float64                          | DOUBLE    | number                        |
| decimal(p, s), p <= 38                             | DECIMAL   | number, multipleOf 10^-s      |
| decimal(p, s), p > 38                              | NUMERIC   | string, format singer.decimal |
| bool                                               | BOOLEAN   | boolean                       |
| string, large_string, string_view, dictionary      | TEXT      | string                        |
| timestamp (any unit; naive read as UTC)            | TIMESTAMP | string, format date-time      |
| date32, date64                                     | DATE      | string, format date           |
| time32, time64                                     | TIME      | string, format time           |
| struct, list, map (as JSON text)                   | JSON      | object/array                  |
| null (a column empty in the inferred block)        | TEXT      | string                        |
| anything else (binary as hex, durations, ...)      | TEXT      | string                        |

Nanosecond timestamps and times are truncated to the microsecond.

Reading is streamed with pyarrow (Parquet `iter_batches`, CSV and JSON block readers), one file
after another, never a whole file in memory: a batch holds at most `batch_size_rows` rows, and
memory is bounded by one batch plus one Parquet row group or `READ_BLOCK_BYTES` of text.

FULL_TABLE streams read every row, in file order then row order. INCREMENTAL streams re-scan
every file on every sync (files carry no index): rows whose replication key is NULL, and rows
at or before the bookmark in (replication key, key properties) order, are filtered out batch by
batch; the rest are sorted by (replication key, key properties) by DuckDB, which spills to a
temporary folder past `SORT_MEMORY_LIMIT`, and handed on in that order. Ties: with key
properties, a row is read when its (replication key, keys) comes strictly after the bookmark's,
so rows sharing the bookmark's replication-key value but added to the files later are read if
their keys sort after the bookmark's. Without key properties the sync commits only after the last
row of a replication-key value, and the next sync reads rows with a strictly greater value, so
rows added later with a value at or below the bookmark are not read (Singer's rule); pick a
replication key that only grows (e.g. a load timestamp) or add key properties.
"""

from __future__ import annotations

import glob
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, cast, get_args

import duckdb
import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from weir.integration.base import Source, stream_columns
from weir.integration.columns import Column, ColumnKind, arrow_schema
from weir.integration.errors import CatalogError, ConnectorConfigError, SourceError
from weir.integration.singer import Catalog, CatalogEntry, ReplicationMethod
from weir.integration.sources._common import (
    KeysetFilter,
    concat_batches,
    incremental_keys,
    resume_position,
    stream_entry,
)
from weir.integration.sources._sort import sorted_batches

__all__ = [
    "INFER_BLOCK_BYTES",
    "READ_BLOCK_BYTES",
    "SORT_MEMORY_LIMIT",
    "FileFormat",
    "FileSource",
    "arrow_column",
    "conform",
]

FileFormat = Literal["csv", "jsonl", "parquet"]

INFER_BLOCK_BYTES = 1 << 20
"""CSV and JSON lines types are inferred from this many bytes at the start of each file."""

READ_BLOCK_BYTES = 4 << 20
"""CSV and JSON lines files are parsed this many bytes at a time."""

SORT_MEMORY_LIMIT = "32MB"
"""DuckDB's memory limit while sorting an INCREMENTAL stream; past it, it spills to disk."""

_EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSIONS = (".gz", ".bz2", ".zst", ".lz4")
_KEY_KINDS = frozenset(ColumnKind) - {ColumnKind.JSON, ColumnKind.BOOLEAN}


# -- types --------------------------------------------------------------------------------------
_INTEGER_KINDS = {
    pa.int8(): ColumnKind.SMALLINT,
    pa.int16(): ColumnKind.SMALLINT,
    pa.uint8(): ColumnKind.SMALLINT,
    pa.int32(): ColumnKind.INTEGER,
    pa.uint16(): ColumnKind.INTEGER,
    pa.int64(): ColumnKind.BIGINT,
    pa.uint32(): ColumnKind.BIGINT,
}


def arrow_column(name: str, data_type: pa.DataType, nullable: bool = True) -> Column:
    """The column an Arrow type found in a file maps to (see the module table)."""
    t = pa.types
    if t.is_dictionary(data_type):
        return arrow_column(name, data_type.value_type, nullable)
    if data_type in _INTEGER_KINDS:
        return Column(name, _INTEGER_KINDS[data_type], nullable)
    if data_type == pa.uint64():
        return Column(name, ColumnKind.DECIMAL, nullable, precision=20, scale=0)
    if t.is_decimal(data_type) and data_type.precision <= 38:
        return Column(name, ColumnKind.DECIMAL, nullable, data_type.precision, data_type.scale)
    checks = (
        (t.is_decimal, ColumnKind.NUMERIC),
        (t.is_floating, ColumnKind.DOUBLE),
        (t.is_boolean, ColumnKind.BOOLEAN),
        (t.is_timestamp, ColumnKind.TIMESTAMP),
        (t.is_date, ColumnKind.DATE),
        (t.is_time, ColumnKind.TIME),
        (_is_nested, ColumnKind.JSON),
    )
    kind = next((kind for check, kind in checks if check(data_type)), ColumnKind.TEXT)
    return Column(name, kind, nullable)


def _is_nested(data_type: pa.DataType) -> bool:
    t = pa.types
    return bool(
        t.is_struct(data_type)
        or t.is_list(data_type)
        or t.is_large_list(data_type)
        or t.is_fixed_size_list(data_type)
        or t.is_map(data_type)
    )


def _merge_types(old: pa.DataType, new: pa.DataType) -> pa.DataType:
    """The type that holds values of both (see the module docstring)."""
    if old == new:
        return old
    try:
        one, two = pa.schema([("c", old)]), pa.schema([("c", new)])
        unified: pa.DataType = (
            pa.unify_schemas([one, two], promote_options="permissive").field("c").type
        )
        return unified
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    t = pa.types
    if (t.is_timestamp(old) or t.is_date(old)) and (t.is_timestamp(new) or t.is_date(new)):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def _unify(schemas: Sequence[pa.Schema]) -> pa.Schema:
    types: dict[str, pa.DataType] = {}
    for schema in schemas:
        for field in schema:
            known = types.get(field.name)
            types[field.name] = field.type if known is None else _merge_types(known, field.type)
    return pa.schema(list(types.items()))


# -- converting batches to the stream's schema --------------------------------------------------
def conform(batch: pa.RecordBatch, columns: Sequence[Column]) -> pa.RecordBatch:
    """Return `batch` with exactly the stream's columns, each in its kind's Arrow type.

    Columns the batch lacks are NULL. Nested values become JSON text, binary hex text, other
    types are cast by pyarrow (nanoseconds truncated to microseconds, naive timestamps read as
    UTC).

    Raises:
        pyarrow.ArrowInvalid: a value cannot be cast (e.g. an integer too large for its kind).
    """
    names = batch.schema.names
    arrays = []
    for column in columns:
        if column.name in names:
            arrays.append(_convert(batch.column(names.index(column.name)), column))
        else:
            arrays.append(_nulls(batch.num_rows, column.arrow_type))
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(columns))


def _convert(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    target = column.arrow_type
    if pa.types.is_dictionary(array.type):
        array = cast("pa.DictionaryArray[Any, Any]", array).dictionary_decode()
    if array.type == target:
        return array
    if pa.types.is_null(array.type):
        return _nulls(len(array), target)
    if target == pa.string() and (_is_nested(array.type) or column.kind is ColumnKind.JSON):
        return pa.array([None if v is None else _json_text(v) for v in array.to_pylist()], target)
    if target == pa.string() and (
        pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type)
    ):
        return pa.array([None if v is None else "\\x" + v.hex() for v in array.to_pylist()], target)
    if pa.types.is_string(array.type) and pa.types.is_timestamp(target):
        array = _parse_timestamps(array, target)
    if (
        pa.types.is_timestamp(array.type)
        and array.type.tz is None
        and pa.types.is_timestamp(target)
    ):
        unit = array.type.unit
        array = array.cast(pa.timestamp(unit, tz="UTC"))
    return array.cast(target, safe=not _truncates(array.type, target))


def _parse_timestamps(array: pa.Array[Any], target: pa.TimestampType) -> pa.Array[Any]:
    """ISO 8601 text as timestamps: with its offset when it has one, else naive (read as UTC)."""
    try:
        return array.cast(pa.timestamp(target.unit, tz="UTC"))
    except pa.ArrowInvalid:
        return array.cast(pa.timestamp(target.unit))


def _nulls(size: int, data_type: pa.DataType) -> pa.Array[Any]:
    return cast("pa.Array[Any]", pa.nulls(size, cast(Any, data_type)))


def _truncates(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether a cast only loses sub-microsecond digits (allowed, as documented)."""
    t = pa.types
    same_family = (t.is_timestamp(source) and t.is_timestamp(target)) or (
        t.is_time(source) and t.is_time(target)
    )
    return same_family and getattr(source, "unit", None) == "ns"


def _json_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- the files of a stream ----------------------------------------------------------------------
def _expand(pattern: str) -> list[Path]:
    if glob.has_magic(pattern):
        return [Path(p) for p in sorted(glob.glob(pattern, recursive=True)) if Path(p).is_file()]
    path = Path(pattern)
    return [path] if path.is_file() else []


def _format_of(path: Path) -> FileFormat | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes.pop()
    return _EXTENSIONS.get(suffixes[-1]) if suffixes else None


class _StreamFiles:
    """One stream's files, their format and unified schema."""

    def __init__(self, stream: str, files: list[Path], file_format: FileFormat) -> None:
        self.stream, self.files, self.format = stream, files, file_format
        self.current: Path | None = None

    def schema(self) -> pa.Schema:
        return _unify([self._file_schema(f) for f in self.files])

    def _file_schema(self, path: Path) -> pa.Schema:
        if self.format == "parquet":
            return pq.read_schema(path)
        if self.format == "csv":
            read = pa_csv.ReadOptions(block_size=INFER_BLOCK_BYTES)
            with pa_csv.open_csv(
                path, read_options=read, parse_options=_CSV_PARSE, convert_options=_csv_convert()
            ) as reader:
                return reader.schema
        return _promote_iso_timestamps(*_json_head(path))

    def batches(
        self, parse_schema: pa.Schema, names: Sequence[str], rows: int
    ) -> Iterator[tuple[Path, pa.RecordBatch]]:
        """Each file's batches, as stored (only `names` that the file has).

        `current` names the file being read, for error messages.
        """
        for path in self.files:
            self.current = path
            for batch in self._file_batches(path, parse_schema, names, rows):
                yield path, batch

    def _file_batches(
        self, path: Path, schema: pa.Schema, names: Sequence[str], rows: int
    ) -> Iterator[pa.RecordBatch]:
        if self.format == "parquet":
            with pq.ParquetFile(path) as parquet:
                present = [n for n in names if n in parquet.schema_arrow.names]
                yield from parquet.iter_batches(batch_size=rows, columns=present, use_threads=True)
            return
        wanted = pa.schema([schema.field(n) for n in names if n in schema.names])
        if self.format == "csv":
            read = pa_csv.ReadOptions(block_size=READ_BLOCK_BYTES)
            convert = _csv_convert(wanted)
            with pa_csv.open_csv(
                path, read_options=read, parse_options=_CSV_PARSE, convert_options=convert
            ) as reader:
                yield from reader
            return
        # pyarrow's JSON parser does not turn numbers into text, nor ISO 8601 text with a
        # fraction of a second into timestamps: parse each column as the file holds it and let
        # `conform` cast it to the stream's type.
        raw, _ = _json_head(path)
        wanted = pa.schema([_json_parse_field(f, raw) for f in wanted])
        parse = pa_json.ParseOptions(explicit_schema=wanted, unexpected_field_behavior="ignore")
        read_json = pa_json.ReadOptions(block_size=READ_BLOCK_BYTES)
        with pa_json.open_json(path, read_options=read_json, parse_options=parse) as reader:
            yield from reader


_CSV_PARSE = pa_csv.ParseOptions(newlines_in_values=True)


def _json_head(path: Path) -> tuple[pa.Schema, pa.RecordBatch | None]:
    """The schema pyarrow infers for a JSON lines file, and the file's first block of rows."""
    with pa_json.open_json(
        path, read_options=pa_json.ReadOptions(block_size=INFER_BLOCK_BYTES)
    ) as reader:
        try:
            return reader.schema, reader.read_next_batch()
        except StopIteration:
            return reader.schema, None


def _promote_iso_timestamps(schema: pa.Schema, head: pa.RecordBatch | None) -> pa.Schema:
    """Type text columns whose values in `head` are all ISO 8601 date-times as timestamps.

    pyarrow infers `"2024-02-29T23:59:59"` as a timestamp but leaves the same text with a fraction
    of a second (`...59.999999`) as a string; this makes both timestamps (zoned when every value
    carries an offset or `Z`, else naive, read as UTC like every naive timestamp here).
    """
    if head is None:
        return schema
    fields = []
    for field in schema:
        promoted = None
        if field.type == pa.string():
            promoted = _iso_timestamp_type(head.column(schema.get_field_index(field.name)))
        fields.append(field.with_type(promoted) if promoted is not None else field)
    return pa.schema(fields).with_metadata(schema.metadata or {})


def _iso_timestamp_type(values: pa.Array[Any]) -> pa.DataType | None:
    if values.null_count == len(values):
        return None
    for candidate in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
        try:
            values.cast(candidate)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return candidate
    return None


def _json_parse_field(field: pa.Field[Any], raw: pa.Schema) -> pa.Field[Any]:
    """How to parse `field` from a JSON file whose own inferred schema is `raw`."""
    if field.name not in raw.names:
        return field
    own = raw.field(field.name)
    if field.type == pa.string() and _non_text(own):
        return own  # a number or bool in this file where the stream's type is text
    if pa.types.is_timestamp(field.type) and own.type == pa.string():
        return own  # ISO 8601 text that pyarrow's JSON parser cannot read as a timestamp
    return field


def _non_text(field: pa.Field[Any]) -> bool:
    return field.type != pa.string() and not pa.types.is_null(field.type)


def _csv_convert(schema: pa.Schema | None = None) -> pa_csv.ConvertOptions:
    """CSV conversion: only unquoted empty fields are NULL; fixed types when `schema` is given."""
    options: dict[str, Any] = {
        "null_values": [""],
        "strings_can_be_null": True,
        "quoted_strings_can_be_null": False,
    }
    if schema is not None:
        options |= {
            # A column empty in the inferred block is text (its kind is TEXT): parsing it as
            # text keeps values such as "007" intact.
            "column_types": {
                f.name: pa.string() if pa.types.is_null(f.type) else f.type for f in schema
            },
            "include_columns": schema.names,
            "include_missing_columns": True,
        }
    return pa_csv.ConvertOptions(**options)


# -- the source ---------------------------------------------------------------------------------
class FileSource(Source):
    """Reads streams from local CSV, JSON lines or Parquet files.

    Args:
        streams: stream name -> a file path or a glob (`data/orders/*.parquet`,
            `logs/**/*.jsonl`); relative paths are relative to the working directory.
        file_format: the format of every file; None infers it from each file's extension.

    Raises:
        ValueError: `file_format` is not one of csv, jsonl, parquet.
    """

    def __init__(
        self, streams: Mapping[str, str], *, file_format: FileFormat | None = None
    ) -> None:
        if file_format is not None and file_format not in get_args(FileFormat):
            raise ValueError(f"file_format must be csv, jsonl or parquet; got {file_format!r}")
        self.streams = dict(streams)
        self.file_format = file_format

    def __repr__(self) -> str:
        return f"FileSource({self.streams!r}, file_format={self.file_format!r})"

    def check(self) -> None:
        """Check every stream's path matches at least one file of a known format.

        Raises:
            ConnectorConfigError: a path matches no file, or a file's format is unknown or
                differs from the other files of its stream.
        """
        empty = [f"'{s}' ({p})" for s, p in self.streams.items() if not _expand(p)]
        if empty:
            raise ConnectorConfigError(
                f"no files match the paths of streams {', '.join(empty)}; fix the paths or "
                "globs in the source's config"
            )
        for stream in self.streams:
            self._files(stream)

    def discover(self, *, streams: Collection[str] | None = None) -> Catalog:
        """Describe each stream from its files' unified schema (see the module docstring).

        Streams have no key properties; set `key_properties` in the catalog to merge on them.
        The root metadata holds `file-format`, `path`, `valid-replication-keys` and, for
        Parquet, `row-count` (from the footers). A stream whose path matches no file is left
        out.

        Raises:
            ConnectorConfigError: a file's format is unknown, or a file cannot be read.
        """
        entries = []
        for stream, pattern in self.streams.items():
            if (streams is not None and stream not in streams) or not _expand(pattern):
                continue
            files = self._files(stream)
            schema = self._schema(files)
            entries.append(_catalog_entry(files, pattern, schema))
        return Catalog(tuple(entries))

    def read(
        self,
        stream: CatalogEntry,
        *,
        bookmark: Mapping[str, Any] | None,
        batch_size_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        """Read one stream's files as Arrow batches (see `Source.read` and the module docstring).

        Raises:
            CatalogError: the stream is not configured, or its replication key or keys are not
                columns of its files.
            SourceError: a file cannot be read, or a value does not fit its column's type.
        """
        if batch_size_rows < 1:
            raise ValueError("batch_size_rows must be at least 1")
        if stream.stream not in self.streams:
            raise CatalogError(
                f"the file source has no stream '{stream.stream}'; add its path to the source",
                stream=stream.stream,
            )
        columns = stream_columns(stream)
        files = self._files(stream.stream)
        conformed = self._conformed(files, columns, batch_size_rows)
        if stream.effective_replication_method is not ReplicationMethod.INCREMENTAL:
            yield from _rebatch(conformed, batch_size_rows)
            return
        by_name = {c.name: c for c in columns}
        key, ties = incremental_keys(stream, by_name, among="selected columns")
        position = resume_position(bookmark, key, ties)
        keep = KeysetFilter.of(key, position, lambda name, value: _scalar(value, by_name[name]))
        try:
            with tempfile.TemporaryDirectory(prefix="weir-sort-") as spill:
                yield from sorted_batches(
                    (keep.keep(b) for b in conformed),
                    arrow_schema(columns),
                    [key, *ties],
                    batch_size_rows,
                    memory_limit=SORT_MEMORY_LIMIT,
                    spill_dir=Path(spill),
                )
        except duckdb.Error as exc:
            raise SourceError(
                f"sorting the rows of {stream.stream} failed: {exc}", stream=stream.stream
            ) from exc

    def _files(self, stream: str) -> _StreamFiles:
        files = _expand(self.streams[stream])
        formats = {self.file_format or _format_of(f) for f in files}
        if None in formats or len(formats) > 1:
            found = ", ".join(f"{f.name}: {self.file_format or _format_of(f)}" for f in files[:5])
            raise ConnectorConfigError(
                f"stream '{stream}': every file must be csv, jsonl or parquet, all the same "
                f"({found}); set file_format, or narrow the glob"
            )
        (file_format,) = formats
        assert file_format is not None
        return _StreamFiles(stream, files, file_format)

    def _schema(self, files: _StreamFiles) -> pa.Schema:
        try:
            return files.schema()
        except (OSError, pa.ArrowException) as exc:
            raise ConnectorConfigError(
                f"stream '{files.stream}': cannot read the schema of its files: {exc}"
            ) from exc

    def _conformed(
        self, files: _StreamFiles, columns: Sequence[Column], rows: int
    ) -> Iterator[pa.RecordBatch]:
        schema = self._schema(files)
        names = [c.name for c in columns]
        batches = files.batches(schema, names, rows)
        try:
            for _path, batch in batches:
                if batch.num_rows:
                    yield conform(batch, columns)
        except (OSError, pa.ArrowException) as exc:
            where = f"file {files.current}" if files.current else f"the files of {files.stream}"
            raise SourceError(
                f"reading {where} failed: {exc}. If a value does not fit the type inferred "
                "from the first rows, set the column's type in the catalog",
                stream=files.stream,
            ) from exc


def _catalog_entry(files: _StreamFiles, pattern: str, schema: pa.Schema) -> CatalogEntry:
    columns = [arrow_column(f.name, f.type) for f in schema]
    root: dict[str, Any] = {"file-format": files.format, "path": pattern}
    if files.format == "parquet":
        root["row-count"] = sum(pq.read_metadata(f).num_rows for f in files.files)
    return stream_entry(
        files.stream,
        columns,
        key_properties=(),
        replication_keys=[c.name for c in columns if c.kind in _KEY_KINDS],
        root=root,
        fields={f.name: {"arrow-datatype": str(f.type)} for f in schema},
    )


def _rebatch(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Cut and join batches into batches of exactly `rows` rows (the last may be smaller)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        rest = batch
        while rest.num_rows:
            take = min(rows - held, rest.num_rows)
            pending.append(rest.slice(0, take))
            held += take
            rest = rest.slice(take)
            if held == rows:
                yield concat_batches(pending)
                pending, held = [], 0
    if held:
        yield concat_batches(pending)


def _scalar(value: object, column: Column) -> pa.Scalar[Any]:
    """A bookmark value (JSON) as an Arrow scalar of the column's type."""
    parsers = {
        ColumnKind.TIMESTAMP: datetime.fromisoformat,
        ColumnKind.DATE: date.fromisoformat,
        ColumnKind.TIME: time.fromisoformat,
        ColumnKind.DECIMAL: Decimal,
    }
    parse = parsers.get(column.kind)
    if parse is not None and value is not None:
        value = parse(str(value))
    return pa.scalar(value, column.arrow_type)
