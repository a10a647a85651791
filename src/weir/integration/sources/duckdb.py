"""DuckDB source: discovery from `duckdb_columns()`, reads as native Arrow record batches.

Reading: one query per stream on a read-only connection (one consistent snapshot), whose result
DuckDB hands over as Arrow record batches of `batch_size_rows` rows (`to_arrow_reader`, the
successor of `fetch_record_batch`): no value passes through Python. Each column is cast in SQL
to its kind's type, so the batches already have the stream's Arrow schema. INCREMENTAL streams
add `WHERE (key, ...) > (bookmark)` and `ORDER BY` the replication key and key properties; the
comparison and the order use the cast values, the very values the batches carry.

Type mapping (DuckDB -> column kind -> JSON Schema; Arrow by `weir.integration.columns`):

| DuckDB                                         | kind      | JSON Schema                    |
|------------------------------------------------|-----------|--------------------------------|
| TINYINT, SMALLINT, UTINYINT                    | SMALLINT  | integer, 16-bit bounds         |
| INTEGER, USMALLINT                             | INTEGER   | integer, 32-bit bounds         |
| BIGINT, UINTEGER                               | BIGINT    | integer, 64-bit bounds         |
| UBIGINT                                        | DECIMAL   | number, 20 digits, scale 0     |
| HUGEINT, UHUGEINT, BIGNUM                      | NUMERIC   | string, format singer.decimal  |
| DECIMAL(p, s)                                  | DECIMAL   | number, multipleOf 10^-s       |
| FLOAT, DOUBLE                                  | DOUBLE    | number                         |
| BOOLEAN                                        | BOOLEAN   | boolean                        |
| VARCHAR                                        | TEXT      | string                         |
| TIMESTAMP WITH TIME ZONE                       | TIMESTAMP | string, format date-time       |
| TIMESTAMP, TIMESTAMP_S/_MS/_NS (read as UTC)   | TIMESTAMP | string, format date-time       |
| DATE                                           | DATE      | string, format date            |
| TIME                                           | TIME      | string, format time            |
| UUID                                           | UUID      | string, format uuid            |
| JSON                                           | JSON      | object/array                   |
| LIST, ARRAY, STRUCT, MAP, UNION (`to_json`)    | JSON      | object/array                   |
| any other type, cast to VARCHAR                | TEXT      | string                         |

"Any other type" covers BLOB (escaped text), INTERVAL, ENUM, BIT and TIME WITH TIME ZONE.
TIMESTAMP_NS values are rounded to the microsecond. Weir's own bookkeeping tables (`_weir_*`,
written by the DuckDB destination) are not streams. Rows whose replication key is NULL are never
read by INCREMENTAL syncs (Singer's rule).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from weir.integration.base import Source, stream_columns
from weir.integration.columns import Column, ColumnKind, arrow_schema
from weir.integration.errors import CatalogError, ConnectorConfigError, SourceError
from weir.integration.singer import Catalog, CatalogEntry, ReplicationMethod
from weir.integration.sources._common import (
    incremental_keys,
    quote_identifier,
    require_columns,
    resume_position,
    stream_entry,
)

__all__ = ["DEFAULT_MEMORY_LIMIT", "DuckDBSource"]

DEFAULT_MEMORY_LIMIT = "64MB"
"""DuckDB's buffer pool limit for a read (sorting for INCREMENTAL reads spills past it)."""

_KINDS = {
    "TINYINT": ColumnKind.SMALLINT,
    "SMALLINT": ColumnKind.SMALLINT,
    "UTINYINT": ColumnKind.SMALLINT,
    "INTEGER": ColumnKind.INTEGER,
    "USMALLINT": ColumnKind.INTEGER,
    "BIGINT": ColumnKind.BIGINT,
    "UINTEGER": ColumnKind.BIGINT,
    "HUGEINT": ColumnKind.NUMERIC,
    "UHUGEINT": ColumnKind.NUMERIC,
    "BIGNUM": ColumnKind.NUMERIC,
    "FLOAT": ColumnKind.DOUBLE,
    "DOUBLE": ColumnKind.DOUBLE,
    "BOOLEAN": ColumnKind.BOOLEAN,
    "VARCHAR": ColumnKind.TEXT,
    "TIMESTAMP WITH TIME ZONE": ColumnKind.TIMESTAMP,
    "TIMESTAMP": ColumnKind.TIMESTAMP,
    "TIMESTAMP_S": ColumnKind.TIMESTAMP,
    "TIMESTAMP_MS": ColumnKind.TIMESTAMP,
    "TIMESTAMP_NS": ColumnKind.TIMESTAMP,
    "DATE": ColumnKind.DATE,
    "TIME": ColumnKind.TIME,
    "UUID": ColumnKind.UUID,
    "JSON": ColumnKind.JSON,
}
_CAST_TYPES = {
    ColumnKind.SMALLINT: "SMALLINT",
    ColumnKind.INTEGER: "INTEGER",
    ColumnKind.BIGINT: "BIGINT",
    ColumnKind.NUMERIC: "VARCHAR",
    ColumnKind.DOUBLE: "DOUBLE",
    ColumnKind.BOOLEAN: "BOOLEAN",
    ColumnKind.TEXT: "VARCHAR",
    ColumnKind.TIMESTAMP: "TIMESTAMPTZ",
    ColumnKind.DATE: "DATE",
    ColumnKind.TIME: "TIME",
    ColumnKind.UUID: "VARCHAR",
    ColumnKind.JSON: "VARCHAR",
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_NESTED = re.compile(r"^(STRUCT|MAP|UNION)\(|\]$")
_KEY_KINDS = frozenset(_CAST_TYPES) - {ColumnKind.JSON, ColumnKind.NUMERIC, ColumnKind.BOOLEAN}
_COLUMNS_QUERY = """
SELECT c.table_name, v.view_name IS NOT NULL, c.column_name, c.data_type, c.is_nullable
FROM duckdb_columns() c
LEFT JOIN duckdb_views() v
  ON v.database_name = c.database_name AND v.schema_name = c.schema_name
 AND v.view_name = c.table_name
WHERE c.database_name = current_database() AND c.schema_name = ? AND NOT c.internal
  AND c.table_name NOT LIKE '\\_weir\\_%' ESCAPE '\\'
ORDER BY c.table_name, c.column_index
"""
_KEYS_QUERY = """
SELECT table_name, constraint_column_names FROM duckdb_constraints()
WHERE database_name = current_database() AND schema_name = ? AND constraint_type = 'PRIMARY KEY'
"""


@dataclass(frozen=True, slots=True)
class _LiveColumn:
    """A column as the database has it now."""

    name: str
    data_type: str
    nullable: bool

    def column(self) -> Column:
        decimal = _DECIMAL.fullmatch(self.data_type)
        if decimal:
            precision, scale = int(decimal[1]), int(decimal[2])
            return Column(self.name, ColumnKind.DECIMAL, self.nullable, precision, scale)
        if self.data_type == "UBIGINT":
            return Column(self.name, ColumnKind.DECIMAL, self.nullable, 20, 0)
        if _NESTED.search(self.data_type):
            return Column(self.name, ColumnKind.JSON, self.nullable)
        return Column(self.name, _KINDS.get(self.data_type, ColumnKind.TEXT), self.nullable)

    def select_expression(self, column: Column) -> str:
        """The SQL expression whose Arrow type is `column.arrow_type`."""
        ident = quote_identifier(self.name)
        if column.kind is ColumnKind.JSON and _NESTED.search(self.data_type):
            return f"CAST(to_json({ident}) AS VARCHAR)"
        return f"CAST({ident} AS {cast_type(column)})"


def cast_type(column: Column) -> str:
    """The DuckDB type a column is cast to when read (see the module table)."""
    if column.kind is ColumnKind.DECIMAL:
        return f"DECIMAL({column.precision},{column.scale})"
    return _CAST_TYPES[column.kind]


@dataclass(frozen=True, slots=True)
class _LiveTable:
    name: str
    is_view: bool
    columns: dict[str, _LiveColumn]
    primary_key: tuple[str, ...]


class DuckDBSource(Source):
    """Reads the tables and views of one schema of a DuckDB database file.

    Each table or view is a stream named after it. The file is opened read-only; DuckDB lets
    several processes read a file at once, but not while another process writes it.

    Args:
        path: the database file.
        schema: the schema whose tables are streams.
        memory_limit: DuckDB's buffer pool limit while reading (DuckDB's size syntax).
    """

    def __init__(
        self, path: str | Path, *, schema: str = "main", memory_limit: str = DEFAULT_MEMORY_LIMIT
    ) -> None:
        self.path = Path(path)
        self.schema = schema
        self.memory_limit = memory_limit

    def __repr__(self) -> str:
        return f"DuckDBSource({str(self.path)!r}, schema={self.schema!r})"

    def check(self) -> None:
        """Open the file and check the schema exists.

        Raises:
            ConnectorConfigError: the file is missing, locked by a writer, not a DuckDB
                database, or has no such schema.
        """
        try:
            with closing(self._connect()) as conn:
                found = conn.execute(
                    "SELECT count(*) FROM duckdb_schemas() "
                    "WHERE database_name = current_database() AND schema_name = ?",
                    [self.schema],
                ).fetchone()
        except duckdb.Error as exc:
            raise ConnectorConfigError(f"cannot open DuckDB database {self.path}: {exc}") from exc
        if not found or not found[0]:
            raise ConnectorConfigError(
                f"DuckDB database {self.path} has no schema '{self.schema}'; set the source's "
                "schema to one that exists"
            )

    def discover(self, *, streams: Collection[str] | None = None) -> Catalog:
        """Describe every table and view of the schema.

        Key properties are the primary key's columns (none for views). Each field's metadata
        holds `sql-datatype`; primary-key fields are `inclusion: automatic`. The root metadata
        holds `table-key-properties`, `schema-name`, `is-view` and `valid-replication-keys`.
        Nothing is selected.

        Raises:
            ConnectorConfigError: the file cannot be read.
        """
        try:
            with closing(self._connect()) as conn:
                tables = _live_tables(conn, self.schema, streams)
        except duckdb.Error as exc:
            raise ConnectorConfigError(f"cannot discover DuckDB {self.path}: {exc}") from exc
        return Catalog(tuple(_catalog_entry(self.schema, t) for t in tables.values()))

    def read(
        self,
        stream: CatalogEntry,
        *,
        bookmark: Mapping[str, Any] | None,
        batch_size_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        """Stream one table or view as Arrow batches (see `Source.read`).

        Raises:
            CatalogError: the table or a selected column no longer exists.
            SourceError: the query failed (retriable when another process holds the file).
        """
        if batch_size_rows < 1:
            raise ValueError("batch_size_rows must be at least 1")
        columns = stream_columns(stream)
        schema = arrow_schema(columns)
        try:
            with closing(self._connect()) as conn:
                table = _live_tables(conn, self.schema, [stream.stream]).get(stream.stream)
                query, params = self._query(stream, columns, table, bookmark)
                reader = conn.sql(query, params=params).to_arrow_reader(batch_size_rows)
                for batch in reader:
                    if batch.num_rows:
                        yield batch if batch.schema == schema else batch.cast(schema)
        except duckdb.Error as exc:
            raise SourceError(
                f"reading {self.schema}.{stream.stream} from DuckDB {self.path} failed: {exc}",
                stream=stream.stream,
                retriable=isinstance(exc, duckdb.IOException),
            ) from exc

    def _query(
        self,
        stream: CatalogEntry,
        columns: Sequence[Column],
        table: _LiveTable | None,
        bookmark: Mapping[str, Any] | None,
    ) -> tuple[str, list[Any]]:
        name = stream.stream
        if table is None:
            raise CatalogError(
                f"DuckDB {self.path} has no table {self.schema}.{name}; run discovery again",
                stream=name,
            )
        require_columns(name, columns, table.columns, f"{self.schema}.{name}")
        select = ", ".join(
            f"{table.columns[c.name].select_expression(c)} AS {quote_identifier(c.name)}"
            for c in columns
        )
        query = f"SELECT {select} FROM {quote_identifier(self.schema)}.{quote_identifier(name)}"
        if stream.effective_replication_method is not ReplicationMethod.INCREMENTAL:
            return query, []
        clause, params = _incremental_clause(stream, columns, table, bookmark)
        return f"{query} {clause}", params

    def _connect(self) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect(
            str(self.path), read_only=True, config={"memory_limit": self.memory_limit}
        )
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET enable_progress_bar = false")  # it would print to the terminal
        return conn


def _live_tables(
    conn: duckdb.DuckDBPyConnection, schema: str, names: Collection[str] | None
) -> dict[str, _LiveTable]:
    """Table name -> live table, in name order, columns in column order."""
    keys = {
        table: tuple(columns) for table, columns in conn.execute(_KEYS_QUERY, [schema]).fetchall()
    }
    out: dict[str, _LiveTable] = {}
    for table, is_view, name, data_type, nullable in conn.execute(
        _COLUMNS_QUERY, [schema]
    ).fetchall():
        if names is not None and table not in names:
            continue
        live = out.setdefault(table, _LiveTable(table, is_view, {}, keys.get(table, ())))
        live.columns[name] = _LiveColumn(name, data_type, nullable)
    return out


def _catalog_entry(schema: str, table: _LiveTable) -> CatalogEntry:
    columns = [c.column() for c in table.columns.values()]
    return stream_entry(
        table.name,
        columns,
        key_properties=table.primary_key,
        replication_keys=[c.name for c in columns if c.kind in _KEY_KINDS],
        root={"schema-name": schema, "is-view": table.is_view},
        fields={c.name: {"sql-datatype": c.data_type} for c in table.columns.values()},
    )


def _incremental_clause(
    stream: CatalogEntry,
    columns: Sequence[Column],
    table: _LiveTable,
    bookmark: Mapping[str, Any] | None,
) -> tuple[str, list[Any]]:
    """`WHERE key IS NOT NULL [AND (key, ...) > (bookmark)] ORDER BY key, ...`."""
    key, ties = incremental_keys(stream, table.columns)
    by_name = {c.name: c for c in columns}
    order = [by_name.get(n) or table.columns[n].column() for n in [key, *ties]]
    expressions = [table.columns[c.name].select_expression(c) for c in order]
    where = f"WHERE {quote_identifier(key)} IS NOT NULL"
    params: list[Any] = []
    position = resume_position(bookmark, key, ties)
    if position is not None:
        used = order[: len(position.values)]
        left = ", ".join(expressions[: len(used)])
        right = ", ".join(f"CAST(? AS {cast_type(c)})" for c in used)
        operator = ">" if position.strict else ">="
        where += f" AND ({left}) {operator} ({right})"
        params = [_parameter(v) for v in position.values.values()]
    return f"{where} ORDER BY {', '.join(expressions)}", params


def _parameter(value: object) -> object:
    """A bookmark value as a query parameter: text, or a plain number (cast in SQL)."""
    if value is None or (isinstance(value, int | float | str) and not isinstance(value, bool)):
        return value
    return str(value)
