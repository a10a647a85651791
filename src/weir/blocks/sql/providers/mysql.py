"""MySQL/MariaDB (pymysql): upload upstream frames in batches, materialise the SELECT, read back.

As the PostgreSQL provider, with these differences:

- Names are quoted with backticks; the "schema" is a database: `data_provider_schema`, else the
  profile's `MYSQL_DATABASE`. Tables are always named with it, so a SQL upstream's table is found
  from any block on the same server.
- Upstream rows are sent with `executemany` in batches of `UPLOAD_BATCH_ROWS` (pymysql turns each
  batch into one multi-row INSERT).
- MySQL commits implicitly around DDL, so a write cannot be one transaction. `replace` therefore
  builds the new table under a temporary name and swaps it in with one atomic
  `RENAME TABLE target TO old, new TO target`, then drops the old table: readers see the old rows or
  the new ones, never a missing table. `append` inserts in one transaction.
- Timezone-aware timestamps are stored as UTC in `DATETIME(6)` (MySQL has no zoned type).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pymysql
from pymysql.constants import CLIENT, FIELD_TYPE
from pymysql.cursors import Cursor

from weir.blocks.sql.config import WritePolicy
from weir.blocks.sql.providers.base import BlockContext, TableTarget
from weir.blocks.sql.providers.server import ServerSqlProvider
from weir.blocks.sql.sqltext import SqlPosition, quote_backtick
from weir.blocks.sql.tables import array_from_values
from weir.connections import MySQLSettings, mysql_settings
from weir.errors import BlockExecutionError, ConfigError

__all__ = ["ARROW_TO_MYSQL", "MYSQL_TO_ARROW", "UPLOAD_BATCH_ROWS", "MySQLProvider"]

UPLOAD_BATCH_ROWS = 5_000

_Rule = tuple[Callable[[Any], bool], Callable[[Any], str]]


def _fixed(ddl: str) -> Callable[[pa.DataType], str]:
    return lambda _: ddl


def _is_view(data_type: pa.DataType, kind: str) -> bool:
    check = getattr(pa.types, f"is_{kind}_view", None)
    return bool(check and check(data_type))


ARROW_TO_MYSQL: tuple[_Rule, ...] = (
    (pa.types.is_boolean, _fixed("BOOLEAN")),
    (pa.types.is_int8, _fixed("TINYINT")),
    (pa.types.is_int16, _fixed("SMALLINT")),
    (pa.types.is_int32, _fixed("INT")),
    (pa.types.is_int64, _fixed("BIGINT")),
    (pa.types.is_uint8, _fixed("TINYINT UNSIGNED")),
    (pa.types.is_uint16, _fixed("SMALLINT UNSIGNED")),
    (pa.types.is_uint32, _fixed("INT UNSIGNED")),
    (pa.types.is_uint64, _fixed("BIGINT UNSIGNED")),
    (lambda t: pa.types.is_float16(t) or pa.types.is_float32(t), _fixed("FLOAT")),
    (pa.types.is_float64, _fixed("DOUBLE")),
    (pa.types.is_decimal, lambda t: f"DECIMAL({min(t.precision, 65)},{min(t.scale, 30)})"),
    (
        lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or _is_view(t, "string"),
        _fixed("LONGTEXT"),
    ),
    (
        lambda t: (
            pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
            or pa.types.is_fixed_size_binary(t)
            or _is_view(t, "binary")
        ),
        _fixed("LONGBLOB"),
    ),
    (pa.types.is_date, _fixed("DATE")),
    (pa.types.is_timestamp, _fixed("DATETIME(6)")),
    (lambda t: pa.types.is_time(t) or pa.types.is_duration(t), _fixed("TIME(6)")),
    (pa.types.is_nested, _fixed("JSON")),
    (pa.types.is_null, _fixed("LONGTEXT")),
)
"""Arrow type -> MySQL column type; first matching rule wins. Anything else: LONGTEXT (`str()`)."""

MYSQL_TO_ARROW: dict[int, pa.DataType] = {
    FIELD_TYPE.TINY: pa.int8(),
    FIELD_TYPE.SHORT: pa.int16(),
    FIELD_TYPE.INT24: pa.int32(),
    FIELD_TYPE.LONG: pa.int32(),
    FIELD_TYPE.LONGLONG: pa.int64(),
    FIELD_TYPE.YEAR: pa.int16(),
    FIELD_TYPE.FLOAT: pa.float32(),
    FIELD_TYPE.DOUBLE: pa.float64(),
    FIELD_TYPE.DATE: pa.date32(),
    FIELD_TYPE.NEWDATE: pa.date32(),
    FIELD_TYPE.DATETIME: pa.timestamp("us"),
    FIELD_TYPE.TIMESTAMP: pa.timestamp("us"),
    FIELD_TYPE.TIME: pa.duration("us"),
    FIELD_TYPE.JSON: pa.string(),
}
"""Result column type code -> Arrow type when reading rows back; others (DECIMAL, text, blobs)
are inferred from the values (an unsigned value too large for the type widens the same way)."""

_LINE_RE = re.compile(r"at line (\d+)")


class MySQLProvider(ServerSqlProvider):
    """Run a SQL block in a MySQL/MariaDB database named by an io_config profile."""

    driver_errors = (pymysql.MySQLError,)

    name = "mysql"
    backslash_escapes = True

    def __init__(self, context: BlockContext) -> None:
        super().__init__(context)
        try:
            self._settings: MySQLSettings = mysql_settings(context.load_profile())
        except ConfigError as error:
            raise context.config_failure(error) from error
        self._schema = context.config.schema or self._settings.database
        self._connection: pymysql.connections.Connection[Cursor] | None = None

    @property
    def database(self) -> str:
        """`host:port/database`."""
        return self._settings.describe()

    @property
    def identity(self) -> str:
        """`mysql://host:port` (tables are always named with their database)."""
        return f"mysql://{self._settings.host}:{self._settings.port}"

    def materialize(self, sql: str, target: TableTarget, policy: WritePolicy) -> None:
        """Write the SELECT's rows to `target` per `policy` (see the module notes on DDL)."""
        statement = self.one_statement(sql)
        with self._open().cursor() as cursor:
            exists = self._exists(cursor, target.name)
            if exists and policy is WritePolicy.FAIL:
                raise BlockExecutionError(
                    self.context.block_uuid,
                    f"mysql: table {target.sql} already exists in {self.database} and "
                    "export_write_policy is 'fail'; drop it or choose append or replace",
                )
            if policy is WritePolicy.REPLACE:
                temporary = _temporary_name()
                try:
                    self._run(cursor, sql, self._create_prefix(temporary), f"{statement}\n) AS q")
                    self._swap_in(cursor, temporary, target.name)
                finally:
                    cursor.execute(f"DROP TABLE IF EXISTS {self._qualified(temporary)}")
            elif exists:
                self._insert(cursor, sql, statement, target)
            else:
                self._run(cursor, sql, self._create_prefix(target.name), f"{statement}\n) AS q")
        self._open().commit()
        self.log("%s rows into %s (%s)", policy.value, target.sql, self.database)

    def run_raw(self, sql: str) -> pa.Table | None:
        """Send the SQL as is (multi-statement); the last statement's rows, if it returns any."""
        connection = self._open()
        with connection.cursor() as cursor:
            try:
                cursor.execute(sql)
                while cursor.nextset():
                    pass
            except pymysql.MySQLError as error:
                raise self.failure(sql, error, _position(error)) from error
            table = _arrow_from_cursor(cursor) if cursor.description else None
        connection.commit()
        return table

    def read_table(self, target: TableTarget) -> pa.Table:
        """Every row of `target`."""
        with self._open().cursor() as cursor:
            cursor.execute(f"SELECT * FROM {target.sql}")
            table = _arrow_from_cursor(cursor)
        self._open().commit()
        return table

    def connect(self) -> None:
        """Connect with the profile's settings (multi-statement queries allowed for raw SQL)."""
        try:
            self._connection = pymysql.connect(
                **self._settings.connect_kwargs(), client_flag=CLIENT.MULTI_STATEMENTS
            )
        except pymysql.MySQLError as error:
            raise self.step_failure("connecting", error) from error

    def close(self) -> None:
        """Close the connection (rolling back anything uncommitted)."""
        if self._connection is not None:
            if self._connection.open:
                self._connection.close()
            self._connection = None

    def _open(self) -> pymysql.connections.Connection[Cursor]:
        if self._connection is None:
            raise RuntimeError("MySQLProvider used outside `with provider:`")
        return self._connection

    def _rows(self, cursor: Cursor) -> pa.Table:
        return _arrow_from_cursor(cursor)

    def _qualified(self, name: str) -> str:
        return f"{quote_backtick(self._schema)}.{quote_backtick(name)}"

    def _create_prefix(self, name: str) -> str:
        return f"CREATE TABLE {self._qualified(name)} AS SELECT * FROM ("

    def _run(self, cursor: Cursor, sql: str, prefix: str, statement: str) -> None:
        """Execute `prefix + statement`; on error, point into `sql` (same line numbers)."""
        try:
            cursor.execute(prefix + statement)
        except pymysql.MySQLError as error:
            raise self.failure(sql, error, _position(error)) from error

    def _insert(self, cursor: Cursor, sql: str, statement: str, target: TableTarget) -> None:
        self._run(cursor, sql, "SELECT * FROM (", f"{statement}\n) AS q LIMIT 0")
        columns = ", ".join(quote_backtick(column[0]) for column in cursor.description or ())
        prefix = f"INSERT INTO {target.sql} ({columns}) SELECT {columns} FROM ("
        self._run(cursor, sql, prefix, f"{statement}\n) AS q")

    def _exists(self, cursor: Cursor, name: str) -> bool:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = %s",
            (self._schema, name),
        )
        row = cursor.fetchone()
        return bool(row and row[0])

    def _swap_in(self, cursor: Cursor, temporary: str, name: str) -> None:
        """Put table `temporary` in place of `name` with one atomic RENAME, then drop the old."""
        if not self._exists(cursor, name):
            cursor.execute(f"RENAME TABLE {self._qualified(temporary)} TO {self._qualified(name)}")
            return
        old = _temporary_name()
        cursor.execute(
            f"RENAME TABLE {self._qualified(name)} TO {self._qualified(old)}, "
            f"{self._qualified(temporary)} TO {self._qualified(name)}"
        )
        cursor.execute(f"DROP TABLE {self._qualified(old)}")

    def _upload(self, table: pa.Table, name: str) -> None:
        plans = [_column_plan(field) for field in table.schema]
        temporary = _temporary_name()
        definition = ", ".join(f"{quote_backtick(n)} {ddl}" for n, ddl, _ in plans)
        names = ", ".join(quote_backtick(n) for n, _, _ in plans)
        placeholders = ", ".join(["%s"] * len(plans))
        insert = f"INSERT INTO {self._qualified(temporary)} ({names}) VALUES ({placeholders})"
        connection = self._open()
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {self._qualified(temporary)} ({definition})")
            try:
                for batch in table.to_batches(max_chunksize=UPLOAD_BATCH_ROWS):
                    values = [
                        convert(column)
                        for column, (_, _, convert) in zip(batch.columns, plans, strict=True)
                    ]
                    cursor.executemany(insert, list(zip(*values, strict=True)))
                connection.commit()
                self._swap_in(cursor, temporary, name)
            finally:
                cursor.execute(f"DROP TABLE IF EXISTS {self._qualified(temporary)}")


def _column_plan(field: pa.Field[Any]) -> tuple[str, str, Callable[[pa.Array[Any]], list[Any]]]:
    """(name, MySQL column type, Arrow column -> Python values) of one uploaded column."""
    data_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    for matches, ddl in ARROW_TO_MYSQL:
        if matches(data_type):
            return field.name, ddl(data_type), _converter(data_type)
    return field.name, "LONGTEXT", lambda column: [_text(v) for v in _values(column)]


def _converter(data_type: pa.DataType) -> Callable[[pa.Array[Any]], list[Any]]:
    if pa.types.is_timestamp(data_type) and data_type.tz:
        return lambda column: pc.cast(_decoded(column), pa.timestamp(data_type.unit)).to_pylist()
    if pa.types.is_nested(data_type):
        return lambda column: [
            None if v is None else json.dumps(v, default=str) for v in _values(column)
        ]
    return _values


def _decoded(column: pa.Array[Any]) -> pa.Array[Any]:
    if pa.types.is_dictionary(column.type):
        return pc.cast(column, column.type.value_type)
    return column


def _values(column: pa.Array[Any]) -> list[Any]:
    return list(_decoded(column).to_pylist())


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _temporary_name() -> str:
    return f"weir_tmp_{secrets.token_hex(6)}"


def _arrow_from_cursor(cursor: Cursor) -> pa.Table:
    description = cursor.description or ()
    rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in description]
    arrays = [
        array_from_values(values, MYSQL_TO_ARROW.get(column[1]))
        for column, values in zip(description, columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=[column[0] for column in description])


def _position(error: BaseException) -> SqlPosition | None:
    match = _LINE_RE.search(str(error))
    return SqlPosition(line=int(match.group(1))) if match else None
