"""PostgreSQL source: discovery from the system catalogs, reads as `COPY ... TO STDOUT` in CSV.

Reading: one `COPY (SELECT ...) TO STDOUT (FORMAT csv)` per stream; rows are gathered into
batches of at most `batch_size_rows` rows (and about `MAX_BATCH_BYTES` of CSV) and each batch is
parsed into Arrow by pyarrow's multi-threaded CSV reader, with the column types fixed up front.
Python never touches a value: a 1M-row table reads about as fast as `psql` copies it out.
(Binary COPY would need a per-value decoder in Python; a server-side cursor builds a Python
object per value. Both are several times slower.) INCREMENTAL streams add
`WHERE (key, ...) > (bookmark)` and `ORDER BY` the replication key and key properties, so one
consistent snapshot is streamed in keyset order and any batch boundary is a resumable position.

Type mapping (PostgreSQL -> column kind -> JSON Schema, see `weir.integration.columns`):

| PostgreSQL                                  | kind      | JSON Schema                          |
|---------------------------------------------|-----------|--------------------------------------|
| smallint                                    | SMALLINT  | integer, 16-bit bounds               |
| integer                                     | INTEGER   | integer, 32-bit bounds               |
| bigint                                      | BIGINT    | integer, 64-bit bounds               |
| numeric(p, s), 0 < p <= 38, 0 <= s <= p     | DECIMAL   | number, multipleOf 10^-s, bounds     |
| numeric (no precision, or p > 38)           | NUMERIC   | string, format singer.decimal        |
| real, double precision                      | DOUBLE    | number                               |
| boolean                                     | BOOLEAN   | boolean                              |
| text, varchar(n), char(n), name, citext     | TEXT      | string                               |
| timestamp with time zone                    | TIMESTAMP | string, format date-time             |
| timestamp (without time zone; read as UTC)  | TIMESTAMP | string, format date-time             |
| date                                        | DATE      | string, format date                  |
| time (without time zone)                    | TIME      | string, format time                  |
| json, jsonb                                 | JSON      | object/array                         |
| uuid                                        | UUID      | string, format uuid                  |
| arrays of any type (read with `to_json`)    | JSON      | object/array                         |
| any other type, read as `::text`            | TEXT      | string                               |

"Any other type" covers interval, inet, enums, bytea (hex text), money, timetz and the rest.

Not supported (the batch fails with a `SourceError` naming the stream): dates and timestamps
before year 1 or `infinity`, and `NaN` in a numeric(p, s) column. Rows whose replication key is
NULL are never read by INCREMENTAL syncs (Singer's rule).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

from weir.integration._postgres import connect, describe, is_transient, normalise_conninfo
from weir.integration.base import Source, stream_columns
from weir.integration.columns import Column, ColumnKind, arrow_schema
from weir.integration.errors import CatalogError, ConnectorConfigError, SourceError
from weir.integration.singer import Catalog, CatalogEntry, ReplicationMethod
from weir.integration.sources._common import (
    incremental_keys,
    require_columns,
    resume_position,
    stream_entry,
)

__all__ = ["MAX_BATCH_BYTES", "PostgresSource"]

MAX_BATCH_BYTES = 4 * 1024 * 1024
"""A batch is cut early when its CSV text reaches this size, bounding memory for wide rows."""

_INTEGERS = {"int2": ColumnKind.SMALLINT, "int4": ColumnKind.INTEGER, "int8": ColumnKind.BIGINT}
_SIMPLE_KINDS = {
    **_INTEGERS,
    "float4": ColumnKind.DOUBLE,
    "float8": ColumnKind.DOUBLE,
    "bool": ColumnKind.BOOLEAN,
    "timestamptz": ColumnKind.TIMESTAMP,
    "timestamp": ColumnKind.TIMESTAMP,
    "date": ColumnKind.DATE,
    "time": ColumnKind.TIME,
    "json": ColumnKind.JSON,
    "jsonb": ColumnKind.JSON,
    "uuid": ColumnKind.UUID,
}
_TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name", "citext"})
_STRING_KINDS = frozenset({ColumnKind.TEXT, ColumnKind.UUID, ColumnKind.NUMERIC, ColumnKind.JSON})

_COLUMNS_QUERY = """
SELECT c.relname, c.relkind, greatest(c.reltuples, 0)::bigint, a.attname,
       format_type(a.atttypid, a.atttypmod), coalesce(bt.typname, t.typname),
       t.typcategory = 'A', NOT a.attnotnull,
       CASE WHEN a.atttypmod >= 4 THEN ((a.atttypmod - 4) >> 16) & 65535 END,
       CASE WHEN a.atttypmod >= 4 THEN (a.atttypmod - 4) & 65535 END,
       coalesce(a.attnum = ANY (pk.indkey), false)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND (%(tables)s::text[] IS NULL OR c.relname = ANY (%(tables)s::text[]))
ORDER BY c.relname, a.attnum
"""


@dataclass(frozen=True, slots=True)
class _LiveColumn:
    """A column as the database has it now."""

    table: str
    name: str
    sql_type: str
    base_type: str
    is_array: bool
    nullable: bool
    precision: int | None
    scale: int | None
    in_primary_key: bool

    def column(self) -> Column:
        if self.is_array:
            return Column(self.name, ColumnKind.JSON, self.nullable)
        if self.base_type == "numeric":
            p, s = self.precision, self.scale
            if p is not None and s is not None and 0 < p <= 38 and 0 <= s <= p:
                return Column(self.name, ColumnKind.DECIMAL, self.nullable, precision=p, scale=s)
            return Column(self.name, ColumnKind.NUMERIC, self.nullable)
        if self.base_type in _TEXT_TYPES:
            return Column(self.name, ColumnKind.TEXT, self.nullable)
        return Column(self.name, _SIMPLE_KINDS.get(self.base_type, ColumnKind.TEXT), self.nullable)

    def select_expression(self, kind: ColumnKind) -> sql.Composable:
        """The SELECT expression whose CSV text Arrow parses as `kind`."""
        ident = sql.Identifier(self.name)
        if self.is_array and kind is ColumnKind.JSON:
            return sql.SQL("to_json({})").format(ident)
        if self.base_type == "timestamp" and kind is ColumnKind.TIMESTAMP:
            return sql.SQL("{} AT TIME ZONE 'UTC'").format(ident)
        if kind in _STRING_KINDS and self.base_type not in _TEXT_TYPES | {"json", "jsonb"}:
            return sql.SQL("{}::text").format(ident)
        return ident


class PostgresSource(Source):
    """Reads the tables and views of one PostgreSQL schema.

    Each table or view is a stream whose `tap_stream_id` and `stream` are the table name (as in
    Mage, which syncs one schema per source).

    Args:
        conninfo: a libpq connection string or URL (`postgresql://user@host:5432/db`); a
            SQLAlchemy `postgresql+psycopg://` URL is accepted too.
        schema: the schema whose tables are streams.
    """

    def __init__(self, conninfo: str, *, schema: str = "public") -> None:
        self._conninfo = normalise_conninfo(conninfo)
        self.schema = schema

    def __repr__(self) -> str:
        return f"PostgresSource({describe(self._conninfo)!r}, schema={self.schema!r})"

    def check(self) -> None:
        """Connect and check the schema exists.

        Raises:
            ConnectorConfigError: the server cannot be reached, refuses the login, or has no
                such schema.
        """
        try:
            with connect(self._conninfo) as conn:
                found = conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
                ).fetchone()
        except psycopg.Error as exc:
            where = describe(self._conninfo)
            raise ConnectorConfigError(f"cannot connect to PostgreSQL {where}: {exc}") from exc
        if found is None:
            raise ConnectorConfigError(
                f"PostgreSQL {describe(self._conninfo)} has no schema '{self.schema}'; "
                "set the source's schema to one that exists"
            )

    def discover(self, *, streams: Collection[str] | None = None) -> Catalog:
        """Describe every table, view and materialised view of the schema.

        Key properties are the primary key's columns (none for views). Each field's metadata
        holds `sql-datatype`; primary-key fields are `inclusion: automatic`. The root metadata
        holds `table-key-properties`, `schema-name`, `is-view` and `row-count` (the planner's
        estimate). Nothing is selected.

        Raises:
            ConnectorConfigError: the database cannot be reached.
        """
        try:
            with connect(self._conninfo) as conn:
                tables = _live_tables(conn, self.schema, streams)
        except psycopg.Error as exc:
            where = describe(self._conninfo)
            raise ConnectorConfigError(f"cannot discover PostgreSQL {where}: {exc}") from exc
        entries = [_catalog_entry(self.schema, table) for table in tables.values()]
        return Catalog(tuple(entries))

    def read(
        self,
        stream: CatalogEntry,
        *,
        bookmark: Mapping[str, Any] | None,
        batch_size_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        """Stream one table as Arrow batches (see `Source.read`).

        Raises:
            CatalogError: the table or a selected column no longer exists.
            SourceError: the query failed or a value could not be parsed; retriable when the
                connection was lost.
        """
        if batch_size_rows < 1:
            raise ValueError("batch_size_rows must be at least 1")
        columns = stream_columns(stream)
        try:
            with connect(self._conninfo) as conn:
                table = _live_tables(conn, self.schema, [stream.stream]).get(stream.stream)
                query = self._query(stream, columns, table, bookmark)
                yield from _copy_batches(conn, query, columns, batch_size_rows, stream.stream)
        except psycopg.Error as exc:
            raise SourceError(
                f"reading {self.schema}.{stream.stream} from {describe(self._conninfo)} "
                f"failed: {exc}",
                stream=stream.stream,
                retriable=is_transient(exc),
            ) from exc

    def _query(
        self,
        stream: CatalogEntry,
        columns: Sequence[Column],
        table: _LiveTable | None,
        bookmark: Mapping[str, Any] | None,
    ) -> sql.Composed:
        name = stream.stream
        if table is None:
            raise CatalogError(
                f"table {self.schema}.{name} does not exist; run discovery again",
                stream=name,
            )
        live = table.columns
        require_columns(name, columns, live, f"{self.schema}.{name}")
        select = sql.SQL(", ").join(live[c.name].select_expression(c.kind) for c in columns)
        query = sql.SQL("SELECT {} FROM {}").format(select, sql.Identifier(self.schema, name))
        if stream.effective_replication_method is ReplicationMethod.INCREMENTAL:
            query = sql.SQL(" ").join([query, _incremental_clause(stream, live, bookmark)])
        return sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)


@dataclass(frozen=True, slots=True)
class _LiveTable:
    """A table as the database has it now: relkind, the planner's row estimate, its columns."""

    name: str
    relkind: str
    row_estimate: int
    columns: dict[str, _LiveColumn]


def _live_tables(
    conn: psycopg.Connection[Any], schema: str, tables: Collection[str] | None
) -> dict[str, _LiveTable]:
    """Table name -> live table, in name order, columns in column order."""
    params = {"schema": schema, "tables": None if tables is None else list(tables)}
    out: dict[str, _LiveTable] = {}
    for row in conn.execute(_COLUMNS_QUERY, params):
        table, relkind, rows, name, sql_type, base, is_array, nullable, prec, scale, pk = row
        live = out.setdefault(table, _LiveTable(table, relkind, rows, {}))
        live.columns[name] = _LiveColumn(
            table, name, sql_type, base, is_array, nullable, prec, scale, pk
        )
    return out


def _catalog_entry(schema: str, table: _LiveTable) -> CatalogEntry:
    live = table.columns.values()
    return stream_entry(
        table.name,
        [c.column() for c in live],
        key_properties=[c.name for c in live if c.in_primary_key],
        replication_keys=[c.name for c in live if not c.is_array],
        root={
            "schema-name": schema,
            "is-view": table.relkind in ("v", "m"),
            "row-count": table.row_estimate,
        },
        fields={c.name: {"sql-datatype": c.sql_type} for c in live},
    )


def _incremental_clause(
    stream: CatalogEntry, live: Mapping[str, _LiveColumn], bookmark: Mapping[str, Any] | None
) -> sql.Composed:
    """`WHERE rk IS NOT NULL [AND (rk, keys) > (bookmark)] ORDER BY rk, keys`."""
    key, ties = incremental_keys(stream, live)
    where = sql.SQL("WHERE {} IS NOT NULL").format(sql.Identifier(key))
    position = resume_position(bookmark, key, ties)
    if position is not None:
        names = list(position.values)
        left = sql.SQL(", ").join(sql.Identifier(n) for n in names)
        right = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Literal(_text(v)), sql.SQL(live[n].sql_type))
            for n, v in position.values.items()
        )
        operator = sql.SQL(">" if position.strict else ">=")
        where = sql.SQL("{} AND ({}) {} ({})").format(where, left, operator, right)
    order_by = sql.SQL(", ").join(sql.Identifier(n) for n in [key, *ties])
    return sql.SQL("{} ORDER BY {}").format(where, order_by)


def _text(value: object) -> str | None:
    """A bookmark value (JSON) as the text PostgreSQL casts to the column's type."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_options(columns: Sequence[Column]) -> tuple[Any, Any, Any]:
    names = [c.name for c in columns]
    read = pa_csv.ReadOptions(column_names=names, use_threads=True)
    # A row whose only selected column is NULL is an empty line: it must stay a row.
    parse = pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    convert = pa_csv.ConvertOptions(
        column_types={c.name: c.arrow_type for c in columns},
        true_values=["t"],
        false_values=["f"],
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    return read, parse, convert


def _copy_batches(
    conn: psycopg.Connection[Any],
    query: sql.Composed,
    columns: Sequence[Column],
    batch_size_rows: int,
    stream: str,
) -> Iterator[pa.RecordBatch]:
    """Run a COPY TO STDOUT (CSV) and yield its rows as Arrow batches."""
    options = _csv_options(columns)
    schema = arrow_schema(columns)
    buffer = bytearray()
    rows = 0
    with conn.cursor() as cursor, cursor.copy(query) as copy:
        for row in copy:
            buffer += row
            rows += 1
            if rows >= batch_size_rows or len(buffer) >= MAX_BATCH_BYTES:
                yield _parse(buffer, options, schema, stream)
                buffer, rows = bytearray(), 0
    if rows:
        yield _parse(buffer, options, schema, stream)


def _parse(
    data: bytearray, options: tuple[Any, Any, Any], schema: pa.Schema, stream: str
) -> pa.RecordBatch:
    """Parse CSV rows (PostgreSQL's CSV: NULL unquoted empty, '' quoted) into one batch."""
    read, parse, convert = options
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(pa.py_buffer(data)),  # type: ignore[arg-type]
            read_options=read,
            parse_options=parse,
            convert_options=convert,
        )
    except pa.ArrowInvalid as exc:
        raise SourceError(
            f"a value could not be converted: {exc}. If a column's type changed, run "
            "discovery again; see the PostgreSQL source's type table for unsupported values",
            stream=stream,
        ) from exc
    arrays = [column.combine_chunks() for column in table.columns]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
