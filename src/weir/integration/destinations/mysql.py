"""MySQL/MariaDB destination: `LOAD DATA LOCAL INFILE` from CSV, staging swap or insert/merge.

Loading. Each Arrow batch is written to a CSV file by pyarrow (C++, no Python per value) and
sent with `LOAD DATA LOCAL INFILE`. With LOCAL, the server turns every bad value, truncation and
duplicate key into a warning and carries on, even in strict mode, so after each load the
destination reads the warnings and the row count, and any warning (a note included) fails the
batch with the server's words. When the server has `local_infile` off, rows go in as multi-row
`INSERT`s of about 1 MB instead (`LoadMethod.INSERT`, about half as fast). The destination
does not switch `local_infile` on itself: it is a server-wide security setting, for the
server's administrator to choose.

REPLACE. MySQL commits implicitly around every DDL statement, so a load cannot be one
transaction as in PostgreSQL. The batches are loaded, batch by batch, into a staging table
created for this load; then one `RENAME TABLE target TO old, stage TO target` swaps it in
atomically (readers see the old rows or the new ones, never a missing table) and the old table
is dropped. A failure before the swap drops the staging table (a killed process leaves it for
the next load to drop) and leaves the old table as it was. The bookmark cannot share a
transaction with the swap, so it is written in two steps that cannot lose data (nor claim data
that is not there):

1. before the swap, the bookmark is stored as *pending* in `_weir_state`, with the target
   table's name and a random load id that is also the staging table's comment;
2. the swap;
3. the pending bookmark is promoted to the stream's bookmark (one transaction).

A sync killed between 1 and 2 leaves a pending bookmark whose table does not carry its load id:
it is ignored (and cleared by the next write). Killed between 2 and 3, the target's comment is
the pending load id, so `read_bookmark` returns the pending bookmark, exactly what the table
holds, and the next write promotes it.

APPEND loads each batch straight into the table. MERGE_UPDATE / MERGE_IGNORE load it into a
session-temporary table and run `INSERT ... SELECT ... ON DUPLICATE KEY UPDATE` (the last row of
a key within a batch wins) or the same with a no-op update (the existing row, or else the
batch's last row of the key, is kept; `INSERT IGNORE` would also hide bad values). Each of those
batches commits together with its bookmark row in `<database>._weir_state`.

Type mapping (column kind -> MySQL; the reverse is used to read existing tables):

| kind      | MySQL column                                  | existing columns read as this kind  |
|-----------|-----------------------------------------------|-------------------------------------|
| SMALLINT  | SMALLINT                                      | tinyint, smallint                   |
| INTEGER   | INT                                           | mediumint, int                      |
| BIGINT    | BIGINT                                        | bigint                              |
| DECIMAL   | DECIMAL(p, s); LONGTEXT when s > 30 (MySQL's limit) | decimal(p, s), p <= 38        |
| NUMERIC   | LONGTEXT (exact text; MySQL decimals stop at 65 digits, scale 30) | (as TEXT)       |
| DOUBLE    | DOUBLE                                        | double                              |
| BOOLEAN   | BOOLEAN (tinyint(1))                          | tinyint(1)                          |
| TEXT      | LONGTEXT; VARCHAR(255) as a key column        | char, varchar, text types, enum, set |
| TIMESTAMP | DATETIME(6), in UTC                           | datetime, timestamp                 |
| DATE      | DATE                                          | date                                |
| TIME      | TIME(6)                                       | time                                |
| UUID      | CHAR(36)                                      | uuid (MariaDB)                      |
| JSON      | JSON (MariaDB: LONGTEXT checked by json_valid) | json                               |

Tables are created InnoDB, utf8mb4 with a binary no-pad collation (`utf8mb4_nopad_bin` on
MariaDB, `utf8mb4_0900_bin` on MySQL 8), so text keys compare byte by byte as in the source.
Columns of other types in an existing table (unsigned integers, float, bit, year, decimals over
38 digits, ...) are written as they are and the server converts the values; a value that does
not fit fails the batch. Not storable,
so the batch fails: infinite and NaN doubles, text keys longer than 255 characters. REPLACE
recreates the table, so indexes, grants and triggers of the old table are not kept.
`ON DUPLICATE KEY` fires on any unique index of the table, not only the merge keys'.
Connecting with `local_infile` lets the server ask the client for any file it can read: use it
with servers you trust (or `load_method="insert"`).
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson
import pymysql

from weir.integration._mysql import (
    Loader,
    LoadMethod,
    MySQLParams,
    column_from_mysql,
    connect,
    is_transient,
    json_columns,
    quote,
)
from weir.integration.base import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    Destination,
    LoadBatch,
    TableSpec,
    WriteDisposition,
)
from weir.integration.columns import Column, ColumnKind
from weir.integration.errors import ConnectorConfigError, DestinationError
from weir.integration.schema_change import TableChange, plan_table_change

__all__ = ["STATE_TABLE", "TEXT_KEY_LENGTH", "LoadMethod", "MySQLDestination", "sql_type"]

STATE_TABLE = "_weir_state"
"""Holds one bookmark per (state_id, stream), in the destination database."""

TEXT_KEY_LENGTH = 255
"""Characters of a TEXT key column (InnoDB cannot index LONGTEXT whole)."""

_MAX_DECIMAL_SCALE = 30
_LOAD_MARK = "weir-load:"
_SCRATCH = "_weir_batch"
_ORDER_COLUMN = "_weir_ord"
_NOW = "UTC_TIMESTAMP(6)"
_BLOB_TEXT_TYPES = frozenset({"tinytext", "text", "mediumtext", "longtext"})
_UNMAPPED_TYPES = frozenset({"bit", "year", "float"})
_SQL_TYPES = {
    ColumnKind.SMALLINT: "SMALLINT",
    ColumnKind.INTEGER: "INT",
    ColumnKind.BIGINT: "BIGINT",
    ColumnKind.NUMERIC: "LONGTEXT",
    ColumnKind.DOUBLE: "DOUBLE",
    ColumnKind.BOOLEAN: "BOOLEAN",
    ColumnKind.TEXT: "LONGTEXT",
    ColumnKind.TIMESTAMP: "DATETIME(6)",
    ColumnKind.DATE: "DATE",
    ColumnKind.TIME: "TIME(6)",
    ColumnKind.UUID: "CHAR(36)",
    ColumnKind.JSON: "JSON",
}
_STATE_COLUMNS = (
    "state_id VARCHAR(255) NOT NULL, stream VARCHAR(255) NOT NULL, bookmark LONGTEXT NULL, "
    "updated_at DATETIME(6) NOT NULL, pending_bookmark LONGTEXT NULL, "
    "pending_table VARCHAR(64) NULL, pending_load VARCHAR(64) NULL, "
    "PRIMARY KEY (state_id, stream)"
)


def sql_type(column: Column, *, key: bool = False) -> str:
    """The MySQL type a column kind is created as (see the module table).

    Args:
        column: the column.
        key: the column is part of the table's key (text types get a bounded length).
    """
    if column.kind is ColumnKind.DECIMAL and (column.scale or 0) <= _MAX_DECIMAL_SCALE:
        return f"DECIMAL({column.precision},{column.scale})"
    if column.kind is ColumnKind.UUID:
        return _SQL_TYPES[column.kind]
    if _stored(column).kind is ColumnKind.TEXT:
        return f"VARCHAR({TEXT_KEY_LENGTH})" if key else "LONGTEXT"
    return _SQL_TYPES[column.kind]


def _stored(column: Column) -> Column:
    """The column as MySQL stores it: NUMERIC, and decimals of scale > 30, as text."""
    wide = column.kind is ColumnKind.DECIMAL and (column.scale or 0) > _MAX_DECIMAL_SCALE
    if column.kind is ColumnKind.NUMERIC or wide:
        return Column(column.name, ColumnKind.TEXT, column.nullable)
    return column


class MySQLDestination(Destination):
    """Writes streams as tables of one MySQL or MariaDB database (created if missing).

    Args:
        host: server host name or address.
        port: server port.
        user: the user to log in as; it needs CREATE, ALTER, DROP, INSERT, UPDATE, DELETE and
            SELECT on the database (and CREATE to create it).
        password: its password (empty for none).
        database: the database tables and `_weir_state` are written to.
        load_method: how rows are sent (see `LoadMethod`).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int = 3306,
        user: str,
        password: str = "",
        database: str,
        load_method: LoadMethod | str = LoadMethod.AUTO,
    ) -> None:
        self._params = MySQLParams(host, port, user, password, database)
        self.database = database
        self.load_method = LoadMethod(load_method)

    def __repr__(self) -> str:
        return f"MySQLDestination({self._params.describe()!r})"

    def check(self) -> None:
        """Connect, and create the database and the state table if they are missing.

        Raises:
            ConnectorConfigError: the server cannot be reached, or the user may not create
                the database or tables in it.
        """
        try:
            with self._connection() as conn:
                self._prepare(conn)
        except pymysql.MySQLError as exc:
            raise ConnectorConfigError(
                f"cannot prepare database '{self.database}' in MySQL "
                f"{self._params.describe()}: {exc}"
            ) from exc

    def read_bookmark(self, state_id: str, stream: str) -> Mapping[str, Any] | None:
        """Return the committed bookmark of `stream` for `state_id`, or None.

        A REPLACE whose swap happened but whose bookmark was not yet promoted counts as
        committed (see the module docstring).

        Raises:
            DestinationError: the database cannot be read (retriable when unreachable).
        """
        try:
            with self._connection() as conn:
                if not _exists(conn, self.database, STATE_TABLE):
                    return None
                row = self._state_row(conn, state_id, stream)
                if row is None:
                    return None
                bookmark, pending, pending_table, load_id = row
                if load_id is not None and _load_of(conn, self.database, pending_table) == load_id:
                    bookmark = pending
        except pymysql.MySQLError as exc:
            raise self._error(exc, "reading the bookmark", stream) from exc
        return None if bookmark is None else dict(orjson.loads(bookmark))

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
            DestinationError: a statement failed or the server rejected a value; retriable
                when the connection was lost or the server rolled back (deadlock, lock wait).
        """
        notify = on_batch or (lambda _rows: None)
        try:
            with self._connection() as conn, tempfile.TemporaryDirectory(prefix="weir-") as tmp:
                self._prepare(conn)
                self._settle_pending(conn, spec)
                loader = Loader(conn, self._method(conn), Path(tmp), spec.stream)
                writer = _Writer(conn, self.database, spec, loader, _binary_collation(conn))
                if spec.disposition is WriteDisposition.REPLACE:
                    return writer.replace(batches, notify)
                return writer.write_batches(batches, notify)
        except pymysql.MySQLError as exc:
            raise self._error(
                exc, f"writing table {self._qualified(spec.table)}", spec.stream
            ) from exc

    # -- helpers --------------------------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[Any]:
        conn = connect(self._params, database=False, local_infile=True)
        try:
            yield conn
        finally:
            with suppress(pymysql.MySQLError):
                conn.close()

    def _prepare(self, conn: Any) -> None:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (self.database,)
            )
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE DATABASE {quote(self.database)} CHARACTER SET utf8mb4")
            conn.select_db(self.database)
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {quote(STATE_TABLE)} ({_STATE_COLUMNS}) "
                f"ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={_binary_collation(conn)}"
            )
        conn.commit()

    def _method(self, conn: Any) -> LoadMethod:
        if self.load_method is not LoadMethod.AUTO:
            return self.load_method
        with conn.cursor() as cursor:
            cursor.execute("SELECT @@GLOBAL.local_infile")
            row = cursor.fetchone()
        return LoadMethod.LOAD_DATA if row and int(row[0]) else LoadMethod.INSERT

    def _state_row(self, conn: Any, state_id: str, stream: str) -> tuple[Any, ...] | None:
        # pymysql fills parameters with `%`: a `%` in the database name must be doubled.
        state = f"{quote(self.database)}.{quote(STATE_TABLE)}".replace("%", "%%")
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT bookmark, pending_bookmark, pending_table, pending_load FROM "
                f"{state} WHERE state_id = %s AND stream = %s",
                (state_id, stream),
            )
            row = cursor.fetchone()
        return None if row is None else tuple(row)

    def _settle_pending(self, conn: Any, spec: TableSpec) -> None:
        """Promote a pending REPLACE bookmark whose swap happened; drop one whose swap did not."""
        row = self._state_row(conn, spec.state_id, spec.stream)
        if row is None or row[3] is None:
            return
        swapped = _load_of(conn, self.database, row[2]) == row[3]
        _finish_pending(conn, spec, row[3], promote=swapped)
        conn.commit()

    def _qualified(self, table: str) -> str:
        return f"{quote(self.database)}.{quote(table)}"

    def _error(self, exc: pymysql.MySQLError, action: str, stream: str) -> DestinationError:
        hint = "retry the sync" if is_transient(exc) else "fix the cause above and run it again"
        if exc.args and exc.args[0] == 1062:
            hint = "the key properties are not unique in the source; fix them in the catalog"
        return DestinationError(
            f"{action} in MySQL {self._params.describe()} failed: {exc}; {hint}",
            stream=stream,
            retriable=is_transient(exc),
        )


class _Writer:
    """Writes one stream's batches over one connection (the database is selected)."""

    def __init__(
        self, conn: Any, database: str, spec: TableSpec, loader: Loader, collation: str
    ) -> None:
        self.conn, self.database, self.spec, self.loader = conn, database, spec, loader
        self.table_options = f"ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}"
        self.target = quote(spec.table)

    def execute(self, statement: str, args: Sequence[Any] | None = None) -> int:
        with self.conn.cursor() as cursor:
            return int(cursor.execute(statement, args))

    # -- REPLACE --------------------------------------------------------------------------------
    def replace(self, batches: Iterable[LoadBatch], notify: Callable[[int], None]) -> int:
        spec = self.spec
        stage_name, old_name = _side_table(spec.table, "stage"), _side_table(spec.table, "old")
        stage, old = quote(stage_name), quote(old_name)
        load_id = secrets.token_hex(16)
        self.execute(f"DROP TABLE IF EXISTS {stage}, {old}")
        extra = f"{quote(SYNCED_AT_COLUMN)} DATETIME(6), {quote(TABLE_VERSION_COLUMN)} BIGINT"
        self.execute(
            f"CREATE TABLE {stage} ({_column_defs(spec.columns, spec.merge_keys)}, {extra}"
            f"{_primary_key(spec.merge_keys)}) {self.table_options} "
            f"COMMENT={self.conn.escape(_LOAD_MARK + load_id)}"
        )
        extras = {SYNCED_AT_COLUMN: _NOW, TABLE_VERSION_COLUMN: str(int(spec.version or 0))}
        rows = 0
        bookmark: Mapping[str, Any] | None = None
        try:
            for batch in batches:
                if batch.records.num_rows:
                    self.loader.load(stage, spec.columns, batch.records, extras)
                self.conn.commit()
                rows += batch.records.num_rows
                bookmark = batch.bookmark if batch.bookmark is not None else bookmark
                notify(batch.records.num_rows)
            if bookmark is not None:
                _save_pending(self.conn, spec, bookmark, load_id)
                self.conn.commit()
            self._swap(stage, old)
        except BaseException:
            with suppress(pymysql.MySQLError):
                self.conn.rollback()
            with suppress(pymysql.MySQLError):
                self.execute(f"DROP TABLE IF EXISTS {stage}")
            raise
        if bookmark is not None:
            _finish_pending(self.conn, spec, load_id, promote=True)
            self.conn.commit()
        self.execute(f"DROP TABLE IF EXISTS {old}")
        return rows

    def _swap(self, stage: str, old: str) -> None:
        """Put the staging table in the target's place in one atomic RENAME."""
        if _exists(self.conn, self.database, self.spec.table):
            self.execute(f"RENAME TABLE {self.target} TO {old}, {stage} TO {self.target}")
        else:
            self.execute(f"RENAME TABLE {stage} TO {self.target}")

    # -- APPEND / MERGE -------------------------------------------------------------------------
    def write_batches(self, batches: Iterable[LoadBatch], notify: Callable[[int], None]) -> int:
        spec = self.spec
        self.ensure_table()
        merge = spec.disposition is not WriteDisposition.APPEND
        scratch = quote(_SCRATCH)
        if merge:
            self.execute(f"DROP TEMPORARY TABLE IF EXISTS {scratch}")
            self.execute(
                f"CREATE TEMPORARY TABLE {scratch} ({_column_defs(spec.columns, ())}, "
                f"{quote(_ORDER_COLUMN)} BIGINT AUTO_INCREMENT PRIMARY KEY) {self.table_options}"
            )
        total = 0
        for batch in batches:
            rows = batch.records.num_rows
            if rows and merge:
                self.execute(f"TRUNCATE TABLE {scratch}")  # between transactions: commits nothing
                self.loader.load(scratch, spec.columns, batch.records, {})
                self.execute(_merge_statement(self.target, scratch, spec))
                self.loader.check(None, None, self.target)
            elif rows:
                self.loader.load(self.target, spec.columns, batch.records, {SYNCED_AT_COLUMN: _NOW})
            if batch.bookmark is not None:
                _save_bookmark(self.conn, spec, batch.bookmark)
            self.conn.commit()
            total += rows
            notify(rows)
        return total

    def ensure_table(self) -> None:
        """Create the table, or add and widen its columns in one ALTER. Raises before any change."""
        spec = self.spec
        if not _exists(self.conn, self.database, spec.table):
            self.execute(
                f"CREATE TABLE {self.target} ({_column_defs(spec.columns, spec.merge_keys)}, "
                f"{quote(SYNCED_AT_COLUMN)} DATETIME(6){_primary_key(spec.merge_keys)}) "
                f"{self.table_options}"
            )
            return
        existing, unmapped, types = _read_table(self.conn, self.database, spec.table)
        change = plan_table_change(
            existing,
            unmapped,
            [_stored(c) for c in spec.columns],
            stream=spec.stream,
            table=f"{self.database}.{spec.table}",
        )
        clauses = _alter_clauses(change, types, spec.merge_keys)
        if SYNCED_AT_COLUMN not in existing:
            clauses.append(f"ADD COLUMN {quote(SYNCED_AT_COLUMN)} DATETIME(6)")
        if spec.merge_keys and not _has_unique_index(self.conn, self.database, spec):
            clauses.append(f"ADD UNIQUE KEY ({', '.join(quote(k) for k in spec.merge_keys)})")
        if clauses:
            self.execute(f"ALTER TABLE {self.target} {', '.join(clauses)}")


def _side_table(table: str, role: str) -> str:
    """`_weir_<role>_<hash>_<table>`, within MySQL's 64-character identifier limit."""
    digest = hashlib.sha1(table.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"_weir_{role}_{digest}_{table}"[:64]


def _column_defs(columns: Sequence[Column], keys: Sequence[str]) -> str:
    return ", ".join(f"{quote(c.name)} {sql_type(c, key=c.name in keys)}" for c in columns)


def _primary_key(keys: Sequence[str]) -> str:
    return f", PRIMARY KEY ({', '.join(quote(k) for k in keys)})" if keys else ""


def _alter_clauses(
    change: TableChange, types: Mapping[str, tuple[str, bool]], keys: Sequence[str]
) -> list[str]:
    """ADD / MODIFY clauses for a planned change; text key columns become VARCHAR(255)."""
    clauses = [f"ADD COLUMN {quote(c.name)} {sql_type(c, key=c.name in keys)}" for c in change.add]
    for column in change.widen:
        not_null = "" if types[column.name][1] else " NOT NULL"
        clauses.append(f"MODIFY COLUMN {quote(column.name)} {sql_type(column)}{not_null}")
    for key in keys:
        data_type, nullable = types.get(key, ("", True))
        if data_type in _BLOB_TEXT_TYPES:
            not_null = "" if nullable else " NOT NULL"
            clauses.append(f"MODIFY COLUMN {quote(key)} VARCHAR({TEXT_KEY_LENGTH}){not_null}")
    return clauses


def _merge_statement(target: str, scratch: str, spec: TableSpec) -> str:
    """`INSERT ... SELECT ... ON DUPLICATE KEY UPDATE`: upsert, or keep the existing row."""
    names = [quote(c.name) for c in spec.columns]
    cols = ", ".join(names)
    synced = quote(SYNCED_AT_COLUMN)
    if spec.disposition is WriteDisposition.MERGE_UPDATE:
        keys = {quote(k) for k in spec.merge_keys}
        sets = [f"{n} = VALUES({n})" for n in [*names, synced] if n not in keys]
        order = "ASC"  # later rows of a key update earlier ones: the last one wins
    else:
        first = f"{target}.{quote(spec.merge_keys[0])}"
        sets = [f"{first} = {first}"]  # a no-op: duplicates keep the existing row
        order = "DESC"  # the last row of a key in the batch is the one inserted
    return (
        f"INSERT INTO {target} ({cols}, {synced}) SELECT {cols}, {_NOW} FROM {scratch} "
        f"ORDER BY {quote(_ORDER_COLUMN)} {order} ON DUPLICATE KEY UPDATE {', '.join(sets)}"
    )


def _exists(conn: Any, database: str, table: str) -> bool:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (database, table),
        )
        return cursor.fetchone() is not None


def _load_of(conn: Any, database: str, table: str | None) -> str | None:
    """The load id in a table's comment (`weir-load:<id>`), or None."""
    if table is None:
        return None
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_COMMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (database, table),
        )
        row = cursor.fetchone()
    comment = str(row[0]) if row else ""
    return comment[len(_LOAD_MARK) :] if comment.startswith(_LOAD_MARK) else None


def _read_table(
    conn: Any, database: str, table: str
) -> tuple[dict[str, Column], set[str], dict[str, tuple[str, bool]]]:
    """Read a table's columns.

    Returns:
        The columns whose types map to a kind, the names of the others, and each column's
        (data type, nullable).
    """
    json = json_columns(conn, database, {table})
    mapped: dict[str, Column] = {}
    unmapped: set[str] = set()
    types: dict[str, tuple[str, bool]] = {}
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE = 'YES', NUMERIC_PRECISION, "
            "NUMERIC_SCALE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        rows = cursor.fetchall()
    for name, raw_type, column_type, nullable, precision, scale in rows:
        data_type = str(raw_type).lower()
        types[name] = (data_type, bool(nullable))
        column = None
        exotic = "unsigned" in str(column_type).lower() or data_type in _UNMAPPED_TYPES
        if not exotic:
            column = column_from_mysql(
                name,
                data_type,
                str(column_type),
                precision=precision,
                scale=scale,
                is_json=(table, name) in json,
            )
        if column is None or column.kind is ColumnKind.NUMERIC:
            unmapped.add(name)
        else:
            mapped[name] = column
    return mapped, unmapped, types


def _has_unique_index(conn: Any, database: str, spec: TableSpec) -> bool:
    """Whether a unique index covers exactly the merge keys (whole values, no prefix)."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0",
            (database, spec.table),
        )
        rows = cursor.fetchall()
    indexes: dict[str, set[str]] = {}
    prefixed: set[str] = set()
    for index, column, sub_part in rows:
        indexes.setdefault(index, set()).add(column)
        if sub_part is not None:
            prefixed.add(index)
    wanted = set(spec.merge_keys)
    return any(cols == wanted and name not in prefixed for name, cols in indexes.items())


def _binary_collation(conn: Any) -> str:
    """A utf8mb4 collation comparing bytes without padding, the best the server has."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN "
            "('utf8mb4_nopad_bin', 'utf8mb4_0900_bin') ORDER BY COLLATION_NAME DESC"
        )
        row = cursor.fetchone()
    return str(row[0]) if row else "utf8mb4_bin"


def _save_bookmark(conn: Any, spec: TableSpec, bookmark: Mapping[str, Any]) -> None:
    with conn.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(STATE_TABLE)} (state_id, stream, bookmark, updated_at) "
            f"VALUES (%s, %s, %s, {_NOW}) ON DUPLICATE KEY UPDATE "
            "bookmark = VALUES(bookmark), updated_at = VALUES(updated_at)",
            (spec.state_id, spec.stream, orjson.dumps(dict(bookmark)).decode()),
        )


def _save_pending(conn: Any, spec: TableSpec, bookmark: Mapping[str, Any], load_id: str) -> None:
    """Step 1 of a REPLACE's bookmark: pending until the table carries `load_id`."""
    with conn.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(STATE_TABLE)} (state_id, stream, updated_at, pending_bookmark, "
            f"pending_table, pending_load) VALUES (%s, %s, {_NOW}, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE pending_bookmark = VALUES(pending_bookmark), "
            "pending_table = VALUES(pending_table), pending_load = VALUES(pending_load)",
            (
                spec.state_id,
                spec.stream,
                orjson.dumps(dict(bookmark)).decode(),
                spec.table,
                load_id,
            ),
        )


def _finish_pending(conn: Any, spec: TableSpec, load_id: str, *, promote: bool) -> None:
    """Step 3: make the pending bookmark the stream's (`promote`), or forget it."""
    promoted = f"bookmark = pending_bookmark, updated_at = {_NOW}, " if promote else ""
    with conn.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(STATE_TABLE)} SET {promoted}pending_bookmark = NULL, "
            "pending_table = NULL, pending_load = NULL "
            "WHERE state_id = %s AND stream = %s AND pending_load = %s",
            (spec.state_id, spec.stream, load_id),
        )
