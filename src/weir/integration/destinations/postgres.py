"""PostgreSQL destination: `COPY ... FROM STDIN`, then swap (REPLACE) or insert/merge.

Into tables Weir creates in the same load (REPLACE's staging table, the merge scratch table),
batches are sent as binary COPY, encoded column by column with numpy and Arrow (see
`_pg_binary`); PostgreSQL parses that about twice as fast as text. Columns without a binary
encoder (NUMERIC, UUID, DECIMAL past 18 digits), and APPEND straight into a table whose types
may have been changed by hand, use CSV written by pyarrow. Python never touches a value.

REPLACE copies every batch into a staging table inside one transaction, adds the primary key,
drops the old table, renames the staging table and stores the bookmark, then commits: a failure
anywhere leaves the old table as it was. APPEND copies each batch straight into the
table; MERGE_UPDATE / MERGE_IGNORE copy it into a session-local temporary table and run
`INSERT ... SELECT DISTINCT ON (keys) ... ON CONFLICT (keys) DO UPDATE` / `DO NOTHING` (the last
row of a key within a batch wins). Each of those batches commits together with its bookmark row
in `<schema>._weir_state`.

Type mapping (column kind -> PostgreSQL; the reverse is used to read existing tables):

| kind      | PostgreSQL column      | existing columns read as this kind                   |
|-----------|------------------------|------------------------------------------------------|
| SMALLINT  | smallint               | smallint                                             |
| INTEGER   | integer                | integer                                              |
| BIGINT    | bigint                 | bigint                                               |
| DECIMAL   | numeric(p, s)          | numeric(p, s)                                        |
| NUMERIC   | numeric                | numeric without precision                            |
| DOUBLE    | double precision       | double precision                                     |
| BOOLEAN   | boolean                | boolean                                              |
| TEXT      | text                   | text, varchar(n), char(n)                            |
| TIMESTAMP | timestamptz            | timestamptz, timestamp (values written in UTC)       |
| DATE      | date                   | date                                                 |
| TIME      | time                   | time                                                 |
| UUID      | uuid                   | uuid                                                 |
| JSON      | jsonb                  | jsonb, json                                          |

Columns of other types in an existing table are written as they are (PostgreSQL casts the text).
REPLACE recreates the table, so indexes, grants and views on the old table are not kept (a view
makes the swap fail with a `DestinationError`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import orjson
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

from weir.integration._postgres import connect, describe, is_transient, normalise_conninfo
from weir.integration.base import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    Destination,
    LoadBatch,
    TableSpec,
    WriteDisposition,
)
from weir.integration.columns import Column, ColumnKind
from weir.integration.destinations._pg_binary import (
    HEADER,
    TRAILER,
    binary_supported,
    encode_batch,
)
from weir.integration.errors import ConnectorConfigError, DestinationError
from weir.integration.schema_change import TableChange, plan_table_change

__all__ = ["STATE_TABLE", "PostgresDestination"]

STATE_TABLE = "_weir_state"
"""Holds one bookmark per (state_id, stream), in the destination schema."""

_SQL_TYPES = {
    ColumnKind.SMALLINT: "smallint",
    ColumnKind.INTEGER: "integer",
    ColumnKind.BIGINT: "bigint",
    ColumnKind.NUMERIC: "numeric",
    ColumnKind.DOUBLE: "double precision",
    ColumnKind.BOOLEAN: "boolean",
    ColumnKind.TEXT: "text",
    ColumnKind.TIMESTAMP: "timestamptz",
    ColumnKind.DATE: "date",
    ColumnKind.TIME: "time",
    ColumnKind.UUID: "uuid",
    ColumnKind.JSON: "jsonb",
}
_KINDS_BY_TYPE = {
    "int2": ColumnKind.SMALLINT,
    "int4": ColumnKind.INTEGER,
    "int8": ColumnKind.BIGINT,
    "float8": ColumnKind.DOUBLE,
    "bool": ColumnKind.BOOLEAN,
    "text": ColumnKind.TEXT,
    "varchar": ColumnKind.TEXT,
    "bpchar": ColumnKind.TEXT,
    "timestamptz": ColumnKind.TIMESTAMP,
    "timestamp": ColumnKind.TIMESTAMP,
    "date": ColumnKind.DATE,
    "time": ColumnKind.TIME,
    "uuid": ColumnKind.UUID,
    "jsonb": ColumnKind.JSON,
    "json": ColumnKind.JSON,
}
_TABLE_COLUMNS = """
SELECT a.attname, t.typname,
       CASE WHEN a.atttypmod >= 4 THEN ((a.atttypmod - 4) >> 16) & 65535 END,
       CASE WHEN a.atttypmod >= 4 THEN (a.atttypmod - 4) & 65535 END
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_UNIQUE_KEY_SETS = """
SELECT array_agg(a.attname::text ORDER BY a.attname::text)
FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) AS k(attnum)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indpred IS NULL
GROUP BY i.indexrelid
"""
_WRITE_OPTIONS = pa_csv.WriteOptions(include_header=False, batch_size=4096)


def sql_type(column: Column) -> str:
    """The PostgreSQL type a column kind is created as (see the module table)."""
    if column.kind is ColumnKind.DECIMAL:
        return f"numeric({column.precision},{column.scale})"
    return _SQL_TYPES[column.kind]


class PostgresDestination(Destination):
    """Writes streams as tables of one PostgreSQL schema (created if missing).

    Args:
        conninfo: a libpq connection string or URL; a SQLAlchemy `postgresql+psycopg://` URL is
            accepted too.
        schema: the schema tables and `_weir_state` are written to.
    """

    def __init__(self, conninfo: str, *, schema: str = "public") -> None:
        self._conninfo = normalise_conninfo(conninfo)
        self.schema = schema

    def __repr__(self) -> str:
        return f"PostgresDestination({describe(self._conninfo)!r}, schema={self.schema!r})"

    def check(self) -> None:
        """Connect, and create the schema and the state table if they are missing.

        Raises:
            ConnectorConfigError: the server cannot be reached, or the role may not create
                the schema or tables in it.
        """
        try:
            with connect(self._conninfo) as conn:
                self._prepare(conn)
        except psycopg.Error as exc:
            raise ConnectorConfigError(
                f"cannot prepare schema '{self.schema}' in PostgreSQL "
                f"{describe(self._conninfo)}: {exc}"
            ) from exc

    def read_bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        """Return the committed bookmark of `stream` for `state_id`, or None.

        Raises:
            DestinationError: the database cannot be read (retriable when unreachable).
        """
        table = sql.Identifier(self.schema, STATE_TABLE)
        query = sql.SQL("SELECT bookmark FROM {} WHERE state_id = %s AND stream = %s")
        try:
            with connect(self._conninfo) as conn:
                if not _exists(conn, self._qualified(STATE_TABLE)):
                    return None
                row = conn.execute(query.format(table), (state_id, stream)).fetchone()
        except psycopg.Error as exc:
            raise self._error(exc, "reading the bookmark", stream) from exc
        return None if row is None else cast(dict[str, Any], row[0])

    def write(
        self,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Write a stream (see `Destination.write` and the module docstring).

        Raises:
            SchemaChangeError: an incompatible column change; nothing was altered.
            DestinationError: a statement failed; retriable when the connection was lost or
                the server rolled back (deadlock, serialization failure).
        """
        notify = on_batch or (lambda _rows: None)
        try:
            with connect(self._conninfo) as conn:
                self._prepare(conn)
                if spec.disposition is WriteDisposition.REPLACE:
                    return self._replace(conn, spec, batches, notify)
                return self._write_batches(conn, spec, batches, notify)
        except psycopg.Error as exc:
            raise self._error(
                exc, f"writing table {self._qualified(spec.table)}", spec.stream
            ) from exc

    # -- REPLACE --------------------------------------------------------------------------------
    def _replace(
        self,
        conn: psycopg.Connection[Any],
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        notify: Callable[[int], None],
    ) -> int:
        target = sql.Identifier(self.schema, spec.table)
        stage = sql.Identifier(self.schema, _stage_name(spec.table))
        synced, version = sql.Identifier(SYNCED_AT_COLUMN), sql.Identifier(TABLE_VERSION_COLUMN)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(stage, _column_defs(spec.columns)))
        rows, bookmark = _copy_in(
            conn, stage, spec.columns, batches, notify, exact_types=True, freeze=True
        )
        # Added after the load with a constant default: PostgreSQL stores the value once in the
        # catalog instead of writing it into every row; dropping the default keeps the value.
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ADD COLUMN {} timestamptz NOT NULL DEFAULT now(), "
                "ADD COLUMN {} bigint NOT NULL DEFAULT {}"
            ).format(stage, synced, version, sql.Literal(spec.version or 0))
        )
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT, ALTER COLUMN {} DROP DEFAULT"
            ).format(stage, synced, version)
        )
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage, sql.Identifier(spec.table))
        )
        if spec.merge_keys:
            keys = sql.SQL(", ").join(sql.Identifier(k) for k in spec.merge_keys)
            conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(target, keys))
        if bookmark is not None:
            self._save_bookmark(conn, spec, bookmark)
        conn.commit()
        return rows

    # -- APPEND / MERGE -------------------------------------------------------------------------
    def _write_batches(
        self,
        conn: psycopg.Connection[Any],
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        notify: Callable[[int], None],
    ) -> int:
        self._ensure_table(conn, spec)
        target = sql.Identifier(self.schema, spec.table)
        merge = spec.disposition is not WriteDisposition.APPEND
        scratch = _create_scratch_table(conn, spec) if merge else None
        insert = _merge_statement(target, scratch, spec) if scratch is not None else None
        total = 0
        for batch in batches:
            rows = batch.records.num_rows
            if rows:
                into = scratch or target
                exact = scratch is not None
                _copy_in(conn, into, spec.columns, [batch], lambda _n: None, exact_types=exact)
                if insert is not None:
                    conn.execute(insert)
            if batch.bookmark is not None:
                self._save_bookmark(conn, spec, batch.bookmark)
            conn.commit()
            total += rows
            notify(rows)
        return total

    def _ensure_table(self, conn: psycopg.Connection[Any], spec: TableSpec) -> None:
        """Create the table, or add and widen its columns; commit. Raises before any change."""
        qualified = self._qualified(spec.table)
        target = sql.Identifier(self.schema, spec.table)
        synced = sql.Identifier(SYNCED_AT_COLUMN)
        if not _exists(conn, qualified):
            keys = sql.SQL(", ").join(sql.Identifier(k) for k in spec.merge_keys)
            primary = sql.SQL(", PRIMARY KEY ({})").format(keys) if spec.merge_keys else sql.SQL("")
            conn.execute(
                sql.SQL("CREATE TABLE {} ({}, {} timestamptz DEFAULT now(){})").format(
                    target, _column_defs(spec.columns), synced, primary
                )
            )
            conn.commit()
            return
        existing, unmapped = _read_table(conn, qualified)
        change = plan_table_change(
            existing, unmapped, spec.columns, stream=spec.stream, table=qualified
        )
        for statement in _alter_statements(target, change, SYNCED_AT_COLUMN in existing):
            conn.execute(statement)
        conn.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT now()").format(target, synced)
        )
        if spec.merge_keys and not _has_unique_index(conn, qualified, spec.merge_keys):
            keys = sql.SQL(", ").join(sql.Identifier(k) for k in spec.merge_keys)
            conn.execute(sql.SQL("CREATE UNIQUE INDEX ON {} ({})").format(target, keys))
        conn.commit()

    # -- helpers --------------------------------------------------------------------------------
    def _prepare(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (state_id text NOT NULL, stream text NOT NULL, "
                "bookmark jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), "
                "PRIMARY KEY (state_id, stream))"
            ).format(sql.Identifier(self.schema, STATE_TABLE))
        )
        conn.commit()

    def _save_bookmark(
        self, conn: psycopg.Connection[Any], spec: TableSpec, bookmark: Mapping[str, Any]
    ) -> None:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (state_id, stream, bookmark, updated_at) "
                "VALUES (%s, %s, %s::jsonb, now()) ON CONFLICT (state_id, stream) "
                "DO UPDATE SET bookmark = EXCLUDED.bookmark, updated_at = EXCLUDED.updated_at"
            ).format(sql.Identifier(self.schema, STATE_TABLE)),
            (spec.state_id, spec.stream, orjson.dumps(dict(bookmark)).decode()),
        )

    def _qualified(self, table: str) -> str:
        return sql.Identifier(self.schema, table).as_string(None)

    def _error(self, exc: psycopg.Error, action: str, stream: str) -> DestinationError:
        hint = "retry the sync" if is_transient(exc) else "fix the cause above and run it again"
        if getattr(exc, "sqlstate", None) == "23505":
            hint = "the key properties are not unique in the source; fix them in the catalog"
        return DestinationError(
            f"{action} in PostgreSQL {describe(self._conninfo)} failed: {exc}; {hint}",
            stream=stream,
            retriable=is_transient(exc),
        )


def _stage_name(table: str) -> str:
    """A staging table name within PostgreSQL's 63-byte identifier limit."""
    digest = hashlib.sha1(table.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"_weir_stage_{digest}_{table}"[:63]


def _column_defs(columns: Sequence[Column]) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(sql_type(c))) for c in columns
    )


def _exists(conn: psycopg.Connection[Any], qualified: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()
    return bool(row and row[0])


def _read_table(
    conn: psycopg.Connection[Any], qualified: str
) -> tuple[dict[str, Column], set[str]]:
    """The table's columns whose types map to a kind, and the names of the others."""
    mapped: dict[str, Column] = {}
    unmapped: set[str] = set()
    for name, typname, precision, scale in conn.execute(_TABLE_COLUMNS, (qualified,)):
        if typname == "numeric":
            if precision is not None and 0 < precision <= 38 and 0 <= scale <= precision:
                mapped[name] = Column(name, ColumnKind.DECIMAL, precision=precision, scale=scale)
            else:
                mapped[name] = Column(name, ColumnKind.NUMERIC)
        elif typname in _KINDS_BY_TYPE:
            mapped[name] = Column(name, _KINDS_BY_TYPE[typname])
        else:
            unmapped.add(name)
    return mapped, unmapped


def _has_unique_index(conn: psycopg.Connection[Any], qualified: str, keys: Sequence[str]) -> bool:
    wanted = sorted(keys)
    return any(row[0] == wanted for row in conn.execute(_UNIQUE_KEY_SETS, (qualified,)))


def _alter_statements(
    target: sql.Identifier, change: TableChange, has_synced_at: bool
) -> list[sql.Composed]:
    statements = [
        sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
            target, sql.Identifier(c.name), sql.SQL(sql_type(c))
        )
        for c in change.add
    ]
    statements += [
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {}").format(
            target, sql.Identifier(c.name), sql.SQL(sql_type(c))
        )
        for c in change.widen
    ]
    if not has_synced_at:
        statements.append(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} timestamptz").format(
                target, sql.Identifier(SYNCED_AT_COLUMN)
            )
        )
    return statements


def _create_scratch_table(conn: psycopg.Connection[Any], spec: TableSpec) -> sql.Identifier:
    """A temporary table for one batch, emptied at each commit; `_weir_ord` keeps row order."""
    name = sql.Identifier(_stage_name(spec.table))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(name))
    conn.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE {} ({}, _weir_ord bigint GENERATED ALWAYS AS IDENTITY) "
            "ON COMMIT DELETE ROWS"
        ).format(name, _column_defs(spec.columns))
    )
    conn.commit()
    return name


def _merge_statement(
    target: sql.Identifier, scratch: sql.Identifier, spec: TableSpec
) -> sql.Composed:
    """`INSERT ... SELECT DISTINCT ON (keys) ... ON CONFLICT (keys) DO UPDATE/NOTHING`."""
    names = [c.name for c in spec.columns]
    cols = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    keys = sql.SQL(", ").join(sql.Identifier(k) for k in spec.merge_keys)
    synced = sql.Identifier(SYNCED_AT_COLUMN)
    updates = [n for n in names if n not in spec.merge_keys]
    action: sql.Composable = sql.SQL("DO NOTHING")
    if spec.disposition is WriteDisposition.MERGE_UPDATE:
        sets = sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n))
            for n in [*updates, SYNCED_AT_COLUMN]
        )
        action = sql.SQL("DO UPDATE SET {}").format(sets)
    return sql.SQL(
        "INSERT INTO {target} ({cols}, {synced}) SELECT DISTINCT ON ({keys}) {cols}, now() "
        "FROM {scratch} ORDER BY {keys}, _weir_ord DESC ON CONFLICT ({keys}) {action}"
    ).format(target=target, cols=cols, synced=synced, keys=keys, scratch=scratch, action=action)


def _copy_in(
    conn: psycopg.Connection[Any],
    table: sql.Identifier,
    columns: Sequence[Column],
    batches: Iterable[LoadBatch],
    notify: Callable[[int], None],
    *,
    exact_types: bool = False,
    freeze: bool = False,
) -> tuple[int, Mapping[str, Any] | None]:
    """COPY batches into `table`; return the row count and the last bookmark seen.

    Args:
        conn: the connection, in the transaction that commits the rows.
        table: the table to copy into.
        columns: the batches' columns.
        batches: the batches.
        notify: called with each batch's row count once it is sent.
        exact_types: the table's columns have exactly `sql_type(column)` (Weir created it),
            so binary COPY can be used when every column has a binary encoder.
        freeze: write the rows already frozen (no later vacuum pass); only for a table
            created in the current transaction.
    """
    cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    binary = exact_types and binary_supported(columns)
    options = sql.SQL(", ").join(
        [sql.SQL("FORMAT binary" if binary else "FORMAT csv")]
        + ([sql.SQL("FREEZE")] if freeze else [])
    )
    statement = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(table, cols, options)
    rows = 0
    bookmark: Mapping[str, Any] | None = None
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        sink = _CopySink(copy)
        if binary:
            copy.write(HEADER)
        for batch in batches:
            if batch.records.num_rows and binary:
                copy.write(memoryview(encode_batch(batch.records, columns)))
            elif batch.records.num_rows:
                _write_csv(batch.records, sink)
            rows += batch.records.num_rows
            bookmark = batch.bookmark if batch.bookmark is not None else bookmark
            notify(batch.records.num_rows)
        if binary:
            copy.write(TRAILER)
    return rows, bookmark


class _CopySink(io.RawIOBase):
    """A file-like object that hands what pyarrow's CSV writer writes straight to COPY."""

    def __init__(self, copy: psycopg.Copy) -> None:
        super().__init__()
        self._copy = copy

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._copy.write(data)
        return len(data)


def _write_csv(batch: pa.RecordBatch, sink: _CopySink) -> None:
    """Write a batch as PostgreSQL CSV (NULL unquoted-empty, strings quoted) in small pieces.

    Timestamps are written as naive UTC text (the session time zone is UTC): pyarrow formats
    naive timestamps about 25 times faster than zoned ones. The CSV is never held whole in
    memory: pyarrow writes it `_WRITE_OPTIONS.batch_size` rows at a time.
    """
    arrays = [
        array.cast(pa.timestamp(array.type.unit))
        if pa.types.is_timestamp(array.type) and array.type.tz is not None
        else array
        for array in batch.columns
    ]
    table = pa.Table.from_arrays(arrays, names=batch.schema.names)
    pa_csv.write_csv(table, sink, _WRITE_OPTIONS)  # type: ignore[arg-type]
