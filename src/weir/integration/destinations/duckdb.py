"""DuckDB destination: Arrow batches inserted straight from memory, one file database.

Batches reach DuckDB as Arrow data (no copy to text). REPLACE streams every batch into a staging
table with one `INSERT ... SELECT` over an Arrow stream (DuckDB writes full row groups to the
file as they fill, so memory stays flat; separate inserts in one transaction would hold the
whole load in memory), then drops the old table and renames the staging table in one
transaction; a failed load drops the staging table and leaves the old table as it was
(`on_batch` is then called from DuckDB's scan thread).

APPEND inserts; MERGE_UPDATE / MERGE_IGNORE run `MERGE INTO` matched on the merge keys
(`IS NOT DISTINCT FROM`), keeping the last row of a key within a batch. Each of those batches
commits together with its bookmark row in `<schema>._weir_state`.

Weir creates DuckDB tables without a primary key: `MERGE INTO` needs none, and DuckDB's index
would block the later `ALTER TABLE`s that schema evolution needs.

Type mapping (column kind -> DuckDB; the reverse is used to read existing tables):

| kind      | DuckDB column              | existing columns read as this kind          |
|-----------|----------------------------|---------------------------------------------|
| SMALLINT  | SMALLINT                   | SMALLINT                                    |
| INTEGER   | INTEGER                    | INTEGER                                     |
| BIGINT    | BIGINT                     | BIGINT                                      |
| DECIMAL   | DECIMAL(p, s)              | DECIMAL(p, s)                               |
| NUMERIC   | VARCHAR (exact text; DuckDB decimals stop at 38 digits) | (as TEXT)      |
| DOUBLE    | DOUBLE                     | DOUBLE                                      |
| BOOLEAN   | BOOLEAN                    | BOOLEAN                                     |
| TEXT      | VARCHAR                    | VARCHAR                                     |
| TIMESTAMP | TIMESTAMPTZ                | TIMESTAMP WITH TIME ZONE, TIMESTAMP         |
| DATE      | DATE                       | DATE                                        |
| TIME      | TIME                       | TIME                                        |
| UUID      | UUID                       | UUID                                        |
| JSON      | JSON                       | JSON                                        |
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, cast

import duckdb
import orjson
import pyarrow as pa

from weir.integration.base import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    Destination,
    LoadBatch,
    TableSpec,
    WriteDisposition,
)
from weir.integration.columns import Column, ColumnKind, arrow_schema
from weir.integration.errors import ConnectorConfigError, DestinationError
from weir.integration.schema_change import plan_table_change

__all__ = ["DEFAULT_MEMORY_LIMIT", "STATE_TABLE", "DuckDBDestination"]

STATE_TABLE = "_weir_state"
"""Holds one bookmark per (state_id, stream), in the destination schema."""

DEFAULT_MEMORY_LIMIT = "48MB"
"""Enough for loads and merges of batches; raise it for merges into very large tables."""

_BATCH_VIEW = "_weir_batch"
_ORDER_COLUMN = "_weir_ord"
_SQL_TYPES = {
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
    ColumnKind.UUID: "UUID",
    ColumnKind.JSON: "JSON",
}
_KINDS_BY_TYPE = {
    "SMALLINT": ColumnKind.SMALLINT,
    "INTEGER": ColumnKind.INTEGER,
    "BIGINT": ColumnKind.BIGINT,
    "DOUBLE": ColumnKind.DOUBLE,
    "BOOLEAN": ColumnKind.BOOLEAN,
    "VARCHAR": ColumnKind.TEXT,
    "TIMESTAMP WITH TIME ZONE": ColumnKind.TIMESTAMP,
    "TIMESTAMP": ColumnKind.TIMESTAMP,
    "DATE": ColumnKind.DATE,
    "TIME": ColumnKind.TIME,
    "UUID": ColumnKind.UUID,
    "JSON": ColumnKind.JSON,
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def quote(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def sql_type(column: Column) -> str:
    """The DuckDB type a column kind is created as (see the module table)."""
    if column.kind is ColumnKind.DECIMAL:
        return f"DECIMAL({column.precision},{column.scale})"
    return _SQL_TYPES[column.kind]


def _stored(column: Column) -> Column:
    """The column as DuckDB stores it: NUMERIC is kept as text."""
    if column.kind is ColumnKind.NUMERIC:
        return Column(column.name, ColumnKind.TEXT, column.nullable)
    return column


class DuckDBDestination(Destination):
    """Writes streams as tables of one schema in a DuckDB database file (created if missing).

    Args:
        path: the database file.
        schema: the schema tables and `_weir_state` are written to.
        memory_limit: DuckDB's own buffer pool limit (DuckDB's size syntax, e.g. `"1GB"`).
            DuckDB otherwise takes up to 80% of the machine's memory and keeps every block it
            wrote cached; past the limit it writes out or spills to disk.
    """

    def __init__(
        self, path: str | Path, *, schema: str = "main", memory_limit: str = DEFAULT_MEMORY_LIMIT
    ) -> None:
        self.path = Path(path)
        self.schema = schema
        self.memory_limit = memory_limit

    def __repr__(self) -> str:
        return f"DuckDBDestination({str(self.path)!r}, schema={self.schema!r})"

    def check(self) -> None:
        """Open the file and create the schema and state table if missing.

        Raises:
            ConnectorConfigError: the file cannot be opened (missing folder, locked by another
                process, not a DuckDB file).
        """
        try:
            with self._connect() as conn:
                self._prepare(conn)
        except duckdb.Error as exc:
            raise ConnectorConfigError(f"cannot open DuckDB database {self.path}: {exc}") from exc

    def read_bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        """Return the committed bookmark of `stream` for `state_id`, or None.

        Raises:
            DestinationError: the file cannot be read.
        """
        if not self.path.exists():
            return None
        try:
            with self._connect() as conn:
                if not _exists(conn, self.schema, STATE_TABLE):
                    return None
                row = conn.execute(
                    f"SELECT bookmark FROM {self._name(STATE_TABLE)} "
                    "WHERE state_id = ? AND stream = ?",
                    [state_id, stream],
                ).fetchone()
        except duckdb.Error as exc:
            raise self._error(exc, "reading the bookmark", stream) from exc
        return None if row is None else cast(dict[str, Any], orjson.loads(row[0]))

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
            DestinationError: a statement failed; committed batches stay.
        """
        notify = on_batch or (lambda _rows: None)
        try:
            with self._connect() as conn:
                self._prepare(conn)
                if spec.disposition is WriteDisposition.REPLACE:
                    return self._replace(conn, spec, batches, notify)
                return self._write_batches(conn, spec, batches, notify)
        except duckdb.Error as exc:
            raise self._error(exc, f"writing table {self._name(spec.table)}", spec.stream) from exc

    def _replace(
        self,
        conn: duckdb.DuckDBPyConnection,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        notify: Callable[[int], None],
    ) -> int:
        stage = self._name(f"_weir_stage_{spec.table}")
        extra = f"{quote(SYNCED_AT_COLUMN)} TIMESTAMPTZ, {quote(TABLE_VERSION_COLUMN)} BIGINT"
        conn.execute(f"CREATE OR REPLACE TABLE {stage} ({_column_defs(spec.columns)}, {extra})")
        insert = (
            f"INSERT INTO {stage} SELECT {_select_list(spec.columns)}, now(), "
            f"{int(spec.version or 0)} FROM {_BATCH_VIEW}"
        )
        feed = _Feed(batches, notify)
        try:
            # One INSERT reads every batch through an Arrow stream: DuckDB writes full row
            # groups to the file as they fill instead of holding the load in memory.
            conn.register(_BATCH_VIEW, feed.reader(arrow_schema(spec.columns)))
            try:
                conn.execute(insert)
            except duckdb.Error:
                feed.reraise()
                raise
            conn.unregister(_BATCH_VIEW)
            rows, bookmark = feed.rows, feed.bookmark
            conn.begin()
            conn.execute(f"DROP TABLE IF EXISTS {self._name(spec.table)}")
            conn.execute(f"ALTER TABLE {stage} RENAME TO {quote(spec.table)}")
            if bookmark is not None:
                self._save_bookmark(conn, spec, bookmark)
            conn.commit()
        except BaseException:
            _drop_quietly(conn, stage)
            raise
        return rows

    def _write_batches(
        self,
        conn: duckdb.DuckDBPyConnection,
        spec: TableSpec,
        batches: Iterable[LoadBatch],
        notify: Callable[[int], None],
    ) -> int:
        self._ensure_table(conn, spec)
        statement = self._insert_or_merge(spec)
        merge = spec.disposition is not WriteDisposition.APPEND
        total = 0
        for batch in batches:
            rows = batch.records.num_rows
            conn.begin()
            if rows:
                records = _with_order(batch.records) if merge else batch.records
                with _registered(conn, records):
                    conn.execute(statement)
            if batch.bookmark is not None:
                self._save_bookmark(conn, spec, batch.bookmark)
            conn.commit()
            total += rows
            notify(rows)
        return total

    def _ensure_table(self, conn: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
        """Create the table, or add and widen its columns, in one transaction."""
        target = self._name(spec.table)
        conn.begin()
        if not _exists(conn, self.schema, spec.table):
            conn.execute(
                f"CREATE TABLE {target} ({_column_defs(spec.columns)}, "
                f"{quote(SYNCED_AT_COLUMN)} TIMESTAMPTZ)"
            )
            conn.commit()
            return
        existing, unmapped = self._read_table(conn, spec.table)
        wanted = [_stored(c) for c in spec.columns]
        change = plan_table_change(existing, unmapped, wanted, stream=spec.stream, table=target)
        for column in change.add:
            conn.execute(f"ALTER TABLE {target} ADD COLUMN {quote(column.name)} {sql_type(column)}")
        for column in change.widen:
            conn.execute(
                f"ALTER TABLE {target} ALTER COLUMN {quote(column.name)} "
                f"SET DATA TYPE {sql_type(column)}"
            )
        if SYNCED_AT_COLUMN not in existing:
            conn.execute(f"ALTER TABLE {target} ADD COLUMN {quote(SYNCED_AT_COLUMN)} TIMESTAMPTZ")
        conn.commit()

    def _insert_or_merge(self, spec: TableSpec) -> str:
        target = self._name(spec.table)
        names = [c.name for c in spec.columns]
        cols = ", ".join(quote(n) for n in [*names, SYNCED_AT_COLUMN])
        if spec.disposition is WriteDisposition.APPEND:
            select = _select_list(spec.columns)
            return f"INSERT INTO {target} ({cols}) SELECT {select}, now() FROM {_BATCH_VIEW}"
        keys = ", ".join(quote(k) for k in spec.merge_keys)
        latest = (
            f"SELECT {_select_list(spec.columns)} FROM {_BATCH_VIEW} QUALIFY row_number() "
            f"OVER (PARTITION BY {keys} ORDER BY {_ORDER_COLUMN} DESC) = 1"
        )
        match = " AND ".join(
            f"t.{quote(k)} IS NOT DISTINCT FROM s.{quote(k)}" for k in spec.merge_keys
        )
        values = ", ".join(f"s.{quote(n)}" for n in names)
        insert = f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values}, now())"
        update = ""
        if spec.disposition is WriteDisposition.MERGE_UPDATE:
            sets = ", ".join(
                f"{quote(n)} = s.{quote(n)}" for n in names if n not in spec.merge_keys
            )
            sets = f"{sets}, " if sets else ""
            update = f"WHEN MATCHED THEN UPDATE SET {sets}{quote(SYNCED_AT_COLUMN)} = now() "
        return f"MERGE INTO {target} AS t USING ({latest}) AS s ON ({match}) {update}{insert}"

    def _read_table(
        self, conn: duckdb.DuckDBPyConnection, table: str
    ) -> tuple[dict[str, Column], set[str]]:
        mapped: dict[str, Column] = {}
        unmapped: set[str] = set()
        rows = conn.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
            [self.schema, table],
        ).fetchall()
        for name, data_type in rows:
            decimal = _DECIMAL.fullmatch(data_type)
            if decimal:
                precision, scale = int(decimal[1]), int(decimal[2])
                mapped[name] = Column(name, ColumnKind.DECIMAL, precision=precision, scale=scale)
            elif data_type in _KINDS_BY_TYPE:
                mapped[name] = Column(name, _KINDS_BY_TYPE[data_type])
            else:
                unmapped.add(name)
        return mapped, unmapped

    def _prepare(self, conn: duckdb.DuckDBPyConnection) -> None:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.schema)}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self._name(STATE_TABLE)} (state_id VARCHAR NOT NULL, "
            "stream VARCHAR NOT NULL, bookmark JSON NOT NULL, updated_at TIMESTAMPTZ NOT NULL)"
        )

    def _save_bookmark(
        self, conn: duckdb.DuckDBPyConnection, spec: TableSpec, bookmark: Mapping[str, Any]
    ) -> None:
        state = self._name(STATE_TABLE)
        conn.execute(
            f"DELETE FROM {state} WHERE state_id = ? AND stream = ?", [spec.state_id, spec.stream]
        )
        conn.execute(
            f"INSERT INTO {state} VALUES (?, ?, ?, now())",
            [spec.state_id, spec.stream, orjson.dumps(dict(bookmark)).decode()],
        )

    def _name(self, table: str) -> str:
        return f"{quote(self.schema)}.{quote(table)}"

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = duckdb.connect(str(self.path), config={"memory_limit": self.memory_limit})
        try:
            yield conn
        finally:
            conn.close()

    def _error(self, exc: duckdb.Error, action: str, stream: str) -> DestinationError:
        # Another process holding the file's lock is the one failure that passes by itself.
        retriable = isinstance(exc, duckdb.IOException)
        hint = "retry the sync" if retriable else "fix the cause above and run it again"
        return DestinationError(
            f"{action} in DuckDB {self.path} failed: {exc}; {hint}",
            stream=stream,
            retriable=retriable,
        )


class _Feed:
    """Hands batches to DuckDB as an Arrow stream, counting rows and keeping the bookmark.

    An exception raised while producing a batch (a source error) reaches DuckDB as text;
    `reraise` raises the original instead, so its type and retriability survive.
    """

    def __init__(self, batches: Iterable[LoadBatch], notify: Callable[[int], None]) -> None:
        self._batches, self._notify = batches, notify
        self.rows = 0
        self.bookmark: Mapping[str, Any] | None = None
        self._error: BaseException | None = None
        self._pending = 0

    def reader(self, schema: pa.Schema) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(schema, self._records())

    def _records(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._batches:
                # DuckDB asks for the next batch once it has inserted the previous one.
                if self._pending:
                    self._notify(self._pending)
                self._pending = batch.records.num_rows
                self.rows += batch.records.num_rows
                self.bookmark = batch.bookmark if batch.bookmark is not None else self.bookmark
                yield batch.records
            if self._pending:
                self._notify(self._pending)
        except BaseException as exc:
            self._error = exc
            raise

    def reraise(self) -> None:
        if self._error is not None:
            raise self._error


def _drop_quietly(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    """Best effort: remove a staging table after a failed load (the next load replaces it)."""
    with suppress(duckdb.Error):
        conn.rollback()
    with suppress(duckdb.Error):
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _column_defs(columns: Sequence[Column]) -> str:
    return ", ".join(f"{quote(c.name)} {sql_type(c)}" for c in columns)


def _select_list(columns: Sequence[Column]) -> str:
    """Batch columns cast to their DuckDB types (JSON and UUID arrive as Arrow strings)."""
    return ", ".join(f"CAST({quote(c.name)} AS {sql_type(c)}) AS {quote(c.name)}" for c in columns)


def _exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def _with_order(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Append `_weir_ord` (0, 1, ...) so a merge can keep the last row of each key."""
    order = pa.array(range(batch.num_rows), pa.int64())
    return pa.RecordBatch.from_arrays(
        [*batch.columns, order], names=[*batch.schema.names, _ORDER_COLUMN]
    )


@contextmanager
def _registered(conn: duckdb.DuckDBPyConnection, batch: pa.RecordBatch) -> Iterator[None]:
    """Expose `batch` as the view `_weir_batch` while the block runs.

    Not unregistered when the block fails: the transaction is aborted then, unregistering
    would raise and hide the real error, and the connection is closed anyway.
    """
    conn.register(_BATCH_VIEW, pa.Table.from_batches([batch]))
    yield
    conn.unregister(_BATCH_VIEW)
