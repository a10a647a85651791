"""Stand-in for `mage_ai.io.mysql`: MySQL and MariaDB through pymysql.

```python
with MySQL.with_config(ConfigFileLoader(config_path, config_profile)) as loader:
    df = loader.load('SELECT ...')
    loader.export(df, schema_name=None, table_name=table_name, index=False, if_exists='replace')
```

Export sends the rows in batches of `INSERT_BATCH_ROWS` with `executemany` (pymysql turns each
batch into one multi-row INSERT); `unique_conflict_method` becomes `ON DUPLICATE KEY UPDATE`
(`UPDATE`) or `INSERT IGNORE` (`IGNORE`). `schema_name` names a database on the server; None is
the profile's `MYSQL_DATABASE`. MySQL commits implicitly around DDL, so creating or dropping a
table is not undone by a failed write; deleting and inserting rows is one transaction.

Differences from Mage, which lose data there: text columns are `LONGTEXT` (Mage: `CHAR(255)`,
which cuts longer values), floats are `DOUBLE` (Mage: `DECIMAL`, which rounds them to integers),
booleans are `BOOLEAN` (Mage: `CHAR(52)`). Key columns of `unique_constraints` that hold text or
bytes are `VARCHAR(255)`/`VARBINARY(255)`, since MySQL cannot index unbounded text; a longer
value is then refused by the server in strict mode, never cut silently by Weir.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pymysql
from pymysql.cursors import Cursor

from weir.compat.mage.io.base import ExportWritePolicy
from weir.compat.mage.io.config import BaseConfigLoader, profile_of
from weir.compat.mage.io.sql import BaseSQL, ConflictMethod, ExportPlan, TableName, strip_quotes
from weir.connections import DEFAULT_CONNECT_TIMEOUT_SECONDS, MySQLSettings, mysql_settings
from weir.errors import ConfigError

__all__ = ["INSERT_BATCH_ROWS", "MySQL", "mysql_column_type"]

INSERT_BATCH_ROWS = 5_000


def mysql_column_type(data_type: pa.DataType, *, key: bool = False) -> str:
    """The MySQL column type for an Arrow type.

    Args:
        data_type: a column's Arrow type (dictionaries already decoded).
        key: the column is part of a UNIQUE key (text and bytes get a bounded type).

    Returns:
        The DDL type, e.g. `DOUBLE`; `LONGTEXT` for anything unknown (values as `str()`).
    """
    t = pa.types
    if t.is_decimal(data_type):
        return f"DECIMAL({min(data_type.precision, 65)},{min(data_type.scale, 30)})"
    if t.is_string(data_type) or t.is_large_string(data_type) or t.is_null(data_type):
        return "VARCHAR(255)" if key else "LONGTEXT"
    if t.is_binary(data_type) or t.is_large_binary(data_type) or t.is_fixed_size_binary(data_type):
        return "VARBINARY(255)" if key else "LONGBLOB"
    rules: list[tuple[Callable[[Any], bool], str]] = [
        (t.is_boolean, "BOOLEAN"),
        (t.is_int8, "TINYINT"),
        (t.is_int16, "SMALLINT"),
        (t.is_int32, "INT"),
        (t.is_int64, "BIGINT"),
        (t.is_uint8, "TINYINT UNSIGNED"),
        (t.is_uint16, "SMALLINT UNSIGNED"),
        (t.is_uint32, "INT UNSIGNED"),
        (t.is_uint64, "BIGINT UNSIGNED"),
        (lambda d: t.is_float16(d) or t.is_float32(d), "FLOAT"),
        (t.is_float64, "DOUBLE"),
        (t.is_date, "DATE"),
        (t.is_timestamp, "DATETIME(6)"),
        (lambda d: t.is_time(d) or t.is_duration(d), "TIME(6)"),
        (t.is_nested, "JSON"),
    ]
    return next((ddl for matches, ddl in rules if matches(data_type)), "LONGTEXT")


def _values(column: pa.ChunkedArray[Any] | pa.Array[Any]) -> list[Any]:
    """One column as Python values pymysql can send (UTC-naive datetimes, JSON text)."""
    data_type = column.type
    if pa.types.is_timestamp(data_type):
        # MySQL has no zoned type: store UTC; microseconds are all DATETIME(6) keeps.
        column = pc.cast(column, pa.timestamp("us"), safe=False)
    elif pa.types.is_duration(data_type):
        column = pc.cast(column, pa.duration("us"), safe=False)
    values = column.to_pylist()
    if pa.types.is_nested(data_type):
        return [None if v is None else json.dumps(v, default=str) for v in values]
    if mysql_column_type(data_type) == "LONGTEXT" and not pa.types.is_string(data_type):
        return [None if v is None else str(v) for v in values]
    return values


def _quote(name: str) -> str:
    bare, _ = strip_quotes(name, "`")
    return "`" + bare.replace("`", "``") + "`"


class MySQL(BaseSQL):
    """A MySQL or MariaDB database (Mage's `mage_ai.io.mysql.MySQL`).

    Args:
        database: database name.
        host: server host.
        password: the user's password (None or empty for none).
        user: user to log in as.
        port: server port (default 3306).
        connection_method: only `direct` (or None); SSH tunnels are not supported.
        verbose: print what is loaded and exported.

    Raises:
        ConfigError: an SSH tunnel is asked for, or the port is not a number.
    """

    def __init__(  # noqa: PLR0917 (Mage's positional signature)
        self,
        database: str,
        host: str,
        password: str | None,
        user: str,
        port: int | str | None = 3306,
        connection_method: str | None = None,
        verbose: bool = True,
    ) -> None:
        super().__init__(verbose=verbose)
        if connection_method not in (None, "", "direct"):
            raise ConfigError(
                f"MySQL connection_method={connection_method!r} is not supported; Weir connects "
                "directly (open an SSH tunnel yourself and point host/port at it)"
            )
        try:
            number = int(port) if port not in (None, "") else 3306
        except (TypeError, ValueError):
            raise ConfigError(f"MySQL port={port!r} must be a whole number") from None
        self.settings = MySQLSettings(
            database=database,
            host=host,
            port=number,
            user=user,
            password=password or "",
            connect_timeout_seconds=DEFAULT_CONNECT_TIMEOUT_SECONDS,
        )

    @classmethod
    def with_config(cls, config: BaseConfigLoader | Mapping[str, Any]) -> MySQL:
        """Connect with the `MYSQL_*` settings of a profile.

        Args:
            config: a `ConfigFileLoader` (or any config loader, or a mapping of settings).

        Raises:
            ConfigError: a required setting is missing or unresolved; names key, profile, file.
        """
        settings = mysql_settings(profile_of(config))
        loader = cls(settings.database, settings.host, settings.password, settings.user)
        loader.settings = settings
        return loader

    def default_schema(self) -> str:
        """The profile's database (`MYSQL_DATABASE`)."""
        return self.settings.database

    def describe(self) -> str:
        """`host:port/database`."""
        return self.settings.describe()

    def quote(self, table: TableName) -> str:
        """`` `database`.`table` ``."""
        return f"{_quote(table.schema or self.default_schema())}.{_quote(table.name)}"

    def table_exists(self, schema_name: str | None, table_name: str) -> bool:
        """Whether the table exists in `schema_name` (default: the profile's database)."""
        with self.conn.cursor() as cursor:
            return self._exists(cursor, TableName(schema_name, table_name))

    def _connect(self) -> pymysql.connections.Connection[Cursor]:
        return pymysql.connect(**self.settings.connect_kwargs())

    def _fetch(self, query: str, params: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.conn.cursor() as cursor:
            cursor.execute(query, params)
            if cursor.description is None:
                return [], []
            return [column[0] for column in cursor.description], list(cursor.fetchall())

    def _exists(self, cursor: Cursor, table: TableName) -> bool:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = %s",
            (
                strip_quotes(table.schema or self.default_schema(), "`")[0],
                strip_quotes(table.name, "`")[0],
            ),
        )
        row = cursor.fetchone()
        return bool(row and row[0])

    def _prepare_target(self, cursor: Cursor, plan: ExportPlan) -> bool:
        """Create the database, apply the policy to an existing table; whether it still exists."""
        database = strip_quotes(plan.table.schema or self.default_schema(), "`")[0]
        # CREATE DATABASE IF NOT EXISTS needs the CREATE privilege even when it exists.
        cursor.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (database,)
        )
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {_quote(database)}")
        if not self._exists(cursor, plan.table):
            return False
        target = self.quote(plan.table)
        if plan.policy is ExportWritePolicy.FAIL:
            raise self.existing_table_error(plan)
        if plan.policy is ExportWritePolicy.REPLACE and plan.drop_on_replace:
            cursor.execute(f"DROP TABLE {target}")
            return False
        if plan.policy is ExportWritePolicy.REPLACE:
            cursor.execute(f"DELETE FROM {target}")
        return True

    def _export_arrow(self, plan: ExportPlan, table: pa.Table) -> None:
        names = [field.name for field in table.schema]
        connection = self.conn
        try:
            with connection.cursor() as cursor:
                if not self._prepare_target(cursor, plan):
                    cursor.execute(self._create_sql(plan, table.schema))
                insert = self._insert_sql(plan, names)
                for batch in table.to_batches(max_chunksize=INSERT_BATCH_ROWS):
                    columns = [_values(column) for column in batch.columns]
                    cursor.executemany(insert, list(zip(*columns, strict=True)))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def _create_sql(self, plan: ExportPlan, schema: pa.Schema) -> str:
        definitions = [
            f"{_quote(field.name)} "
            + plan.overwrite_types.get(
                field.name, mysql_column_type(field.type, key=field.name in plan.unique)
            )
            for field in schema
        ]
        if plan.unique:
            definitions.append(f"UNIQUE ({', '.join(_quote(c) for c in plan.unique)})")
        return f"CREATE TABLE {self.quote(plan.table)} ({', '.join(definitions)})"

    def _insert_sql(self, plan: ExportPlan, names: Sequence[str]) -> str:
        verb = "INSERT IGNORE" if plan.conflict is ConflictMethod.IGNORE else "INSERT"
        columns = ", ".join(_quote(n) for n in names)
        placeholders = ", ".join(["%s"] * len(names))
        sql = f"{verb} INTO {self.quote(plan.table)} ({columns}) VALUES ({placeholders})"
        updates = [f"{_quote(n)} = VALUES({_quote(n)})" for n in names if n not in plan.unique]
        if plan.conflict is ConflictMethod.UPDATE and updates:
            sql += f" ON DUPLICATE KEY UPDATE {', '.join(updates)}"
        return sql

    def _export_query(self, plan: ExportPlan, query: str) -> None:
        connection = self.conn
        try:
            with connection.cursor() as cursor:
                target = self.quote(plan.table)
                if self._prepare_target(cursor, plan):
                    cursor.execute(f"INSERT INTO {target} {query}")
                else:
                    cursor.execute(f"CREATE TABLE {target} AS {query}")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
