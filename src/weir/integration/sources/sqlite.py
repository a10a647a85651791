r"""SQLite source: discovery from `PRAGMA table_xinfo`, reads in keyset-ordered batches.

FULL_TABLE reads of tables are paginated: each batch is one short query, `SELECT ... WHERE
rowid > (last row read) ORDER BY rowid LIMIT n` (the primary key for `WITHOUT ROWID` tables), an
index seek, so no read transaction (and no lock on the file) is held while the destination
writes. Such a read is not one snapshot: a row updated during the read is read in one of its
versions; rows that existed throughout are read exactly once.

INCREMENTAL reads run one query, `WHERE (replication key, key properties) > (bookmark) ORDER
BY replication key, key properties, rowid`, fetched a batch at a time, as the PostgreSQL source
does: the order is by converted values (below), which no index serves, so a query per batch
would sort the table once per batch. The query holds SQLite's shared lock while it runs; in a
database in WAL mode writers go on meanwhile, in rollback-journal mode their commits wait (and
may time out). Views are always read by one query.

Types: see `weir.integration.sources.sqlite_types`, which maps declared types to column kinds by
SQLite's affinity rules and converts what SQLite stores (it does not enforce declared types);
a value that does not fit its column fails the batch with a `SourceError` naming the column and
the value.

Replication keys (`valid-replication-keys`) are columns of kinds BIGINT, DOUBLE, DECIMAL, TEXT
(TEXT affinity), TIMESTAMP, DATE and TIME. They are ordered and compared by their converted value,
the same value the batch holds: timestamps, dates and times through SQL functions Weir registers
(microseconds since the epoch, days, microseconds since midnight), decimals as doubles rounded to
their scale, text byte-wise (`COLLATE BINARY`, whatever the column's collation). Rows whose
replication key is NULL are never read by INCREMENTAL syncs (Singer's rule).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from weir.integration.base import Source, stream_columns
from weir.integration.columns import Column, ColumnKind, arrow_schema
from weir.integration.errors import CatalogError, ConnectorConfigError, SourceError
from weir.integration.singer import Catalog, CatalogEntry, ReplicationMethod
from weir.integration.sources._common import (
    concat_batches,
    incremental_keys,
    quote_identifier,
    require_columns,
    resume_position,
    stream_entry,
)
from weir.integration.sources.sqlite_types import (
    affinity,
    date_days,
    sqlite_column,
    time_micros,
    timestamp_micros,
    to_arrow,
    to_boolean,
)

__all__ = ["FETCH_ROWS", "MAX_BATCH_BYTES", "SQLiteSource"]

FETCH_ROWS = 10_000
"""Rows fetched from SQLite as Python objects at a time before they are converted to Arrow."""

MAX_BATCH_BYTES = 64 * 1024 * 1024
"""A batch is cut early once its Arrow data reaches this size, bounding memory for wide rows."""

_ROWID_ALIASES = ("_rowid_", "rowid", "oid")
_KEY_KINDS = frozenset(
    {
        ColumnKind.BIGINT,
        ColumnKind.DOUBLE,
        ColumnKind.DECIMAL,
        ColumnKind.TEXT,
        ColumnKind.TIMESTAMP,
        ColumnKind.DATE,
        ColumnKind.TIME,
    }
)


# -- the live schema ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _LiveColumn:
    name: str
    declared: str
    nullable: bool
    primary_key_index: int
    text_affinity: bool

    def column(self) -> Column:
        return sqlite_column(self.name, self.declared, self.nullable)


@dataclass(frozen=True, slots=True)
class _LiveTable:
    """A table or view as the database has it now.

    Attributes:
        rowid: the name that selects the rowid (None for views and WITHOUT ROWID tables).
    """

    name: str
    is_view: bool
    columns: dict[str, _LiveColumn]
    rowid: str | None

    @property
    def primary_key(self) -> tuple[str, ...]:
        keyed = sorted((c for c in self.columns.values() if c.primary_key_index), key=_pk_index)
        return tuple(c.name for c in keyed)

    def unique_order(self) -> list[str] | None:
        """Column expressions that order the rows uniquely, or None (views)."""
        if self.rowid is not None:
            return [self.rowid]
        if not self.is_view and self.primary_key:
            return [quote_identifier(k) for k in self.primary_key]
        return None


def _pk_index(column: _LiveColumn) -> int:
    return column.primary_key_index


def _live_tables(conn: sqlite3.Connection, names: Collection[str] | None) -> dict[str, _LiveTable]:
    """Table name -> live table, in name order, columns in column order."""
    rows = conn.execute(
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).fetchall()
    out: dict[str, _LiveTable] = {}
    for name, kind in rows:
        if names is None or name in names:
            columns = _live_columns(conn, name)
            rowid = None if kind == "view" else _rowid_alias(conn, name, columns)
            out[name] = _LiveTable(name, kind == "view", columns, rowid)
    return out


def _live_columns(conn: sqlite3.Connection, table: str) -> dict[str, _LiveColumn]:
    """The columns of `PRAGMA table_xinfo` (generated columns too, not hidden virtual ones)."""
    out: dict[str, _LiveColumn] = {}
    query = 'SELECT name, type, "notnull", pk, hidden FROM pragma_table_xinfo(?)'
    for name, declared_or_none, notnull, pk, hidden in conn.execute(query, (table,)):
        if hidden == 1:
            continue
        declared = declared_or_none or ""
        # An INTEGER PRIMARY KEY is the rowid, never NULL; other key columns may be (SQLite).
        rowid_key = bool(pk) and declared.upper() == "INTEGER"
        text = affinity(declared) == "TEXT"
        out[name] = _LiveColumn(name, declared, not notnull and not rowid_key, pk, text)
    return out


def _rowid_alias(conn: sqlite3.Connection, table: str, columns: Collection[str]) -> str | None:
    for alias in _ROWID_ALIASES:
        if alias in columns:
            continue
        try:
            conn.execute(f"SELECT {alias} FROM {quote_identifier(table)} LIMIT 0")
        except sqlite3.OperationalError:
            return None  # a WITHOUT ROWID table
        return alias
    return None


def _catalog_entry(table: _LiveTable) -> CatalogEntry:
    columns = [c.column() for c in table.columns.values()]
    text_affinity = {c.name for c in table.columns.values() if c.text_affinity}
    return stream_entry(
        table.name,
        columns,
        key_properties=() if table.is_view else table.primary_key,
        replication_keys=[
            c.name
            for c in columns
            if c.kind in _KEY_KINDS and (c.kind is not ColumnKind.TEXT or c.name in text_affinity)
        ],
        root={"schema-name": "main", "is-view": table.is_view},
        fields={c.name: {"sql-datatype": c.declared} for c in table.columns.values()},
    )


# -- reading ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _OrderTerm:
    """One term of the read order: its SQL expression and how a bookmark value maps to it."""

    expression: str
    parameter: Callable[[Any], Any]


def _order_term(name: str, column: Column) -> _OrderTerm:
    """The order term of a key column: by its converted value (see the module docstring)."""
    ident = quote_identifier(name)
    if column.kind is ColumnKind.DECIMAL:
        scale = column.scale or 0
        return _OrderTerm(
            f"round({ident}, {scale})", lambda v: round(float(Decimal(str(v))), scale)
        )
    template, parameter = _ORDER_TERMS.get(column.kind, ("{}", _same))
    return _OrderTerm(template.format(ident), parameter)


def _same(value: Any) -> Any:
    return value


def _date_parameter(value: object) -> int:
    return date_days(str(value)[:10])


_ORDER_TERMS: dict[ColumnKind, tuple[str, Callable[[Any], Any]]] = {
    ColumnKind.TIMESTAMP: ("weir_timestamp_key({})", timestamp_micros),
    ColumnKind.DATE: ("weir_date_key({})", _date_parameter),
    ColumnKind.TIME: ("weir_time_key({})", time_micros),
    ColumnKind.TEXT: ("{} COLLATE BINARY", str),
    ColumnKind.UUID: ("{} COLLATE BINARY", str),
    ColumnKind.BOOLEAN: ("{}", lambda v: int(to_boolean(v))),
    ColumnKind.BIGINT: ("{}", int),
    ColumnKind.DOUBLE: ("{}", float),
}


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    """The query pieces of one read.

    Attributes:
        select: the data columns' expressions.
        order: the order terms (each also selected, after the data columns).
        where: conditions every row must meet.
        start: the first page's position condition and parameters, or None.
        paginate: True to run one query per batch, resuming after the last row read.
    """

    table: str
    select: list[str]
    order: list[_OrderTerm]
    where: list[str]
    start: tuple[str, list[Any]] | None
    paginate: bool

    def query(self, after: Sequence[Any] | None, limit: int | None) -> tuple[str, list[Any]]:
        exprs = [*self.select, *(t.expression for t in self.order)]
        where, params = list(self.where), list[Any]()
        if after is not None:
            where.append(_row_greater([t.expression for t in self.order], strict=True))
            params.extend(after)
        elif self.start is not None:
            where.append(self.start[0])
            params.extend(self.start[1])
        sql = f"SELECT {', '.join(exprs)} FROM {quote_identifier(self.table)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if self.order:
            sql += " ORDER BY " + ", ".join(t.expression for t in self.order)
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, params


def _row_greater(expressions: Sequence[str], *, strict: bool) -> str:
    marks = ", ".join("?" for _ in expressions)
    return f"({', '.join(expressions)}) {'>' if strict else '>='} ({marks})"


def _plan(
    stream: CatalogEntry,
    columns: Sequence[Column],
    table: _LiveTable,
    bookmark: Mapping[str, Any] | None,
) -> _ReadPlan:
    name = stream.stream
    require_columns(name, columns, table.columns, f"SQLite table {name}")
    select = [quote_identifier(c.name) for c in columns]
    unique = table.unique_order()
    if stream.effective_replication_method is not ReplicationMethod.INCREMENTAL:
        tail = [_OrderTerm(e, _same) for e in unique or []]
        return _ReadPlan(name, select, tail, [], None, unique is not None)
    key, ties = incremental_keys(stream, table.columns)
    by_name = {c.name: c for c in columns}
    terms = [_order_term(n, by_name.get(n) or table.columns[n].column()) for n in [key, *ties]]
    start = None
    position = resume_position(bookmark, key, ties)
    if position is not None:
        used = terms[: len(position.values)]
        values = [t.parameter(v) for t, v in zip(used, position.values.values(), strict=True)]
        start = (_row_greater([t.expression for t in used], strict=position.strict), values)
    rowid = [_OrderTerm(table.rowid, _same)] if table.rowid else []
    where = [f"{quote_identifier(key)} IS NOT NULL"]
    return _ReadPlan(name, select, [*terms, *rowid], where, start, paginate=False)


class SQLiteSource(Source):
    """Reads the tables and views of one SQLite database file.

    Each table or view is a stream named after it. The file is opened read-only; it is never
    changed.

    Args:
        path: the database file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SQLiteSource({str(self.path)!r})"

    def check(self) -> None:
        """Open the file and read its schema.

        Raises:
            ConnectorConfigError: the file is missing, unreadable or not a SQLite database.
        """
        try:
            with closing(self._connect()) as conn:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise ConnectorConfigError(f"cannot open SQLite database {self.path}: {exc}") from exc

    def discover(self, *, streams: Collection[str] | None = None) -> Catalog:
        """Describe every table and view (SQLite's own `sqlite_*` tables are left out).

        Key properties are the primary key's columns, in key order (none for views). Each
        field's metadata holds `sql-datatype` (the declared type); primary-key fields are
        `inclusion: automatic`. The root metadata holds `table-key-properties`, `schema-name`
        (`main`), `is-view` and `valid-replication-keys`. Nothing is selected.

        Raises:
            ConnectorConfigError: the file cannot be read.
        """
        try:
            with closing(self._connect()) as conn:
                tables = _live_tables(conn, streams)
        except sqlite3.Error as exc:
            raise ConnectorConfigError(
                f"cannot discover SQLite database {self.path}: {exc}"
            ) from exc
        return Catalog(tuple(_catalog_entry(t) for t in tables.values()))

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
            SourceError: a query failed (retriable when the file was locked), or a value does
                not fit its column's kind.
        """
        if batch_size_rows < 1:
            raise ValueError("batch_size_rows must be at least 1")
        columns = stream_columns(stream)
        keys = _KeyFunctions()
        try:
            with closing(self._connect(keys)) as conn:
                table = _live_tables(conn, [stream.stream]).get(stream.stream)
                if table is None:
                    raise CatalogError(
                        f"SQLite {self.path} has no table {stream.stream}; run discovery again",
                        stream=stream.stream,
                    )
                plan = _plan(stream, columns, table, bookmark)
                yield from _batches(conn, plan, columns, batch_size_rows, stream.stream)
        except sqlite3.Error as exc:
            raise self._error(exc, keys, stream.stream) from exc

    def _connect(self, keys: _KeyFunctions | None = None) -> sqlite3.Connection:
        if not self.path.is_file():
            raise sqlite3.OperationalError(f"no such file: {self.path}")
        uri = self.path.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        if keys is not None:
            keys.register(conn)
        return conn

    def _error(self, exc: sqlite3.Error, keys: _KeyFunctions, stream: str) -> SourceError:
        if keys.failure is not None:
            return SourceError(
                f"a replication key value in SQLite {self.path} cannot be read: "
                f"{keys.failure}; fix the value, or choose another replication key",
                stream=stream,
            )
        busy = getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")
        return SourceError(
            f"reading from SQLite {self.path} failed: {exc}"
            + ("; another process holds a lock, retry the sync" if busy else ""),
            stream=stream,
            retriable=busy,
        )


class _KeyFunctions:
    """The SQL functions that order replication keys by their converted value.

    A function that raises inside SQLite surfaces only as "user-defined function raised
    exception"; the original error is kept in `failure` for the message.
    """

    def __init__(self) -> None:
        self.failure: BaseException | None = None

    def register(self, conn: sqlite3.Connection) -> None:
        for name, function in (
            ("weir_timestamp_key", timestamp_micros),
            ("weir_date_key", date_days),
            ("weir_time_key", time_micros),
        ):
            conn.create_function(name, 1, self._guarded(function), deterministic=True)

    def _guarded(self, function: Callable[[object], int]) -> Callable[[object], int | None]:
        def call(value: object) -> int | None:
            if value is None:
                return None
            try:
                return function(value)
            except (ValueError, OverflowError) as exc:
                self.failure = exc
                raise

        return call


def _batches(
    conn: sqlite3.Connection,
    plan: _ReadPlan,
    columns: Sequence[Column],
    batch_size_rows: int,
    stream: str,
) -> Iterator[pa.RecordBatch]:
    """Yield batches: one query each when paginating, else slices of one query."""
    schema = arrow_schema(columns)
    width = len(columns)
    after: Sequence[Any] | None = None
    cursor = None
    while True:
        if cursor is None:
            sql, params = plan.query(after, batch_size_rows if plan.paginate else None)
            cursor = conn.execute(sql, params)
        pieces: list[pa.RecordBatch] = []
        rows = size = 0
        while rows < batch_size_rows and size < MAX_BATCH_BYTES:
            fetched = cursor.fetchmany(min(FETCH_ROWS, batch_size_rows - rows))
            if not fetched:
                break
            pieces.append(_convert(fetched, columns, schema, stream))
            rows += len(fetched)
            size += pieces[-1].nbytes
            after = fetched[-1][width:]
        if pieces:
            yield concat_batches(pieces)
        if plan.paginate:
            cursor.close()
            cursor = None
        if rows == 0 or (rows < batch_size_rows and size < MAX_BATCH_BYTES):
            return


def _convert(
    rows: list[tuple[Any, ...]], columns: Sequence[Column], schema: pa.Schema, stream: str
) -> pa.RecordBatch:
    transposed = list(zip(*rows, strict=True))
    try:
        arrays = [to_arrow(transposed[i], column) for i, column in enumerate(columns)]
    except ValueError as exc:
        raise SourceError(
            f"{exc}, which does not fit the column's declared type (SQLite does not enforce "
            "types); fix the value, or deselect the column",
            stream=stream,
        ) from exc
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
