"""Stand-in for `mage_ai.io.postgres`: PostgreSQL through psycopg 3, export by COPY.

```python
with Postgres.with_config(ConfigFileLoader(config_path, config_profile)) as loader:
    df = loader.load('SELECT ...')
    loader.export(df, schema_name, table_name, index=False, if_exists='replace')
```

Export streams the rows with COPY in CSV written by Arrow's C++ writer when every column is a
number, bool, text, decimal, date or timestamp; other columns (JSON-like nested values, bytes,
times, durations) go through psycopg's binary COPY. Writing into an existing table whose column
types Weir did not choose, or with `unique_conflict_method`, copies into a temporary table first
and inserts from it (PostgreSQL casts by column name; `ON CONFLICT` handles existing keys).

Differences from Mage, on purpose:
- Table and schema names are folded to lowercase when they are plain identifiers, as PostgreSQL
  folds Mage's unquoted names, then quoted; other names are kept as written (Mage would send them
  unquoted and fail, or worse).
- Integer columns are `bigint` whatever their values (Mage picks `smallint`/`integer` from the
  values seen, so a later append of a larger value fails).
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.types.json import Jsonb

from weir.compat.mage.io.base import ExportWritePolicy
from weir.compat.mage.io.config import BaseConfigLoader, profile_of
from weir.compat.mage.io.sql import (
    BaseSQL,
    ExportPlan,
    TableName,
    is_plain_identifier,
    on_conflict_clause,
    strip_quotes,
)
from weir.connections import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    PostgresSettings,
    postgres_settings,
)
from weir.errors import ConfigError

__all__ = ["Postgres", "postgres_column_type"]

_BATCH_ROWS = 50_000


def postgres_column_type(data_type: pa.DataType) -> tuple[str, str]:
    """The PostgreSQL column type and binary COPY type name for an Arrow type.

    Args:
        data_type: a column's Arrow type (dictionaries already decoded).

    Returns:
        (DDL type, COPY type), e.g. `("double precision", "float8")`; `text` for anything
        unknown (values are written as their `str()`).
    """
    t = pa.types
    fixed: list[tuple[Callable[[Any], bool], tuple[str, str]]] = [
        (t.is_boolean, ("boolean", "bool")),
        (lambda d: t.is_int8(d) or t.is_int16(d) or t.is_uint8(d), ("smallint", "int2")),
        (lambda d: t.is_int32(d) or t.is_uint16(d), ("integer", "int4")),
        (lambda d: t.is_int64(d) or t.is_uint32(d), ("bigint", "int8")),
        (t.is_uint64, ("numeric(20,0)", "numeric")),
        (lambda d: t.is_float16(d) or t.is_float32(d), ("real", "float4")),
        (t.is_float64, ("double precision", "float8")),
        (lambda d: t.is_string(d) or t.is_large_string(d), ("text", "text")),
        (
            lambda d: t.is_binary(d) or t.is_large_binary(d) or t.is_fixed_size_binary(d),
            ("bytea", "bytea"),
        ),
        (t.is_date, ("date", "date")),
        (t.is_time, ("time", "time")),
        (t.is_duration, ("interval", "interval")),
        (t.is_nested, ("jsonb", "jsonb")),
    ]
    if t.is_decimal(data_type):
        return f"numeric({data_type.precision},{data_type.scale})", "numeric"
    if t.is_timestamp(data_type):
        return ("timestamptz", "timestamptz") if data_type.tz else ("timestamp", "timestamp")
    for matches, types in fixed:
        if matches(data_type):
            return types
    return "text", "text"


def _csv_safe(data_type: pa.DataType) -> bool:
    """Arrow's CSV writer renders this type as PostgreSQL's CSV COPY reads it back, exactly."""
    t = pa.types
    return bool(
        t.is_boolean(data_type)
        or t.is_integer(data_type)
        or t.is_float32(data_type)
        or t.is_float64(data_type)
        or t.is_decimal(data_type)
        or t.is_string(data_type)
        or t.is_large_string(data_type)
        or t.is_date(data_type)
        or t.is_timestamp(data_type)
        or t.is_null(data_type)
    )


def _fold(name: str) -> str:
    """The name PostgreSQL stores for Mage's unquoted `name`: plain identifiers lowercased."""
    bare, quoted = strip_quotes(name, '"')
    return bare.lower() if not quoted and is_plain_identifier(bare) else bare


def _identifier(name: str) -> str:
    return _column(_fold(name))


def _column(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Postgres(BaseSQL):
    """A PostgreSQL database (Mage's `mage_ai.io.postgres.Postgres`).

    Args:
        dbname: database name.
        user: role to log in as.
        password: its password (None or empty: trust or `.pgpass`).
        host: server host.
        port: server port (default 5432).
        schema: default schema for `export` and `sample` (default `public`).
        connection_method: only `direct` (or None); SSH tunnels are not supported.
        connect_timeout: seconds to wait for a connection (default 10).
        verbose: print what is loaded and exported.

    Raises:
        ConfigError: an SSH tunnel is asked for, or the port or timeout is not a number.
    """

    def __init__(  # noqa: PLR0917 (Mage's positional signature)
        self,
        dbname: str,
        user: str,
        password: str | None,
        host: str,
        port: int | str | None = None,
        schema: str | None = None,
        connection_method: str | None = None,
        connect_timeout: int | str | None = None,
        verbose: bool = True,
    ) -> None:
        super().__init__(verbose=verbose)
        if connection_method not in (None, "", "direct"):
            raise ConfigError(
                f"Postgres connection_method={connection_method!r} is not supported; Weir "
                "connects directly (open an SSH tunnel yourself and point host/port at it)"
            )
        self.settings = PostgresSettings(
            dbname=dbname,
            host=host,
            port=_number("port", port, 5432),
            user=user,
            password=password or "",
            schema=schema or "public",
            connect_timeout_seconds=_number(
                "connect_timeout", connect_timeout, DEFAULT_CONNECT_TIMEOUT_SECONDS
            ),
        )

    @classmethod
    def with_config(cls, config: BaseConfigLoader | Mapping[str, Any]) -> Postgres:
        """Connect with the `POSTGRES_*` settings of a profile.

        Args:
            config: a `ConfigFileLoader` (or any config loader, or a mapping of settings).

        Raises:
            ConfigError: a required setting is missing or unresolved; names key, profile, file.
        """
        settings = postgres_settings(profile_of(config))
        return cls(
            dbname=settings.dbname,
            user=settings.user,
            password=settings.password,
            host=settings.host,
            port=settings.port,
            schema=settings.schema,
            connect_timeout=settings.connect_timeout_seconds,
        )

    def default_schema(self) -> str:
        """The profile's `POSTGRES_SCHEMA`, default `public`."""
        return self.settings.schema

    def describe(self) -> str:
        """`host:port/dbname`."""
        return self.settings.describe()

    def quote(self, table: TableName) -> str:
        """`"schema"."table"`, names folded as PostgreSQL folds unquoted ones."""
        schema = table.schema or self.default_schema()
        return f"{_identifier(schema)}.{_identifier(table.name)}"

    def table_exists(self, schema_name: str | None, table_name: str) -> bool:
        """Whether the table exists (names as `quote` reads them)."""
        with self.conn.cursor() as cursor:
            return self._exists(cursor, TableName(schema_name, table_name))

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.conninfo(), keepalives=1, keepalives_idle=300)

    def _fetch(self, query: str, params: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.conn.cursor() as cursor:
            cursor.execute(query.encode(), params)
            if cursor.description is None:
                return [], []
            return [column.name for column in cursor.description], cursor.fetchall()

    def _exists(self, cursor: psycopg.Cursor[Any], table: TableName) -> bool:
        cursor.execute("SELECT to_regclass(%s)", (self.quote(table),))
        row = cursor.fetchone()
        return row is not None and row[0] is not None

    def _prepare_target(self, cursor: psycopg.Cursor[Any], plan: ExportPlan) -> bool:
        """Create the schema, apply the policy to an existing table; whether it still exists."""
        schema = _fold(plan.table.schema or self.default_schema())
        # CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists.
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {_column(schema)}".encode())
        if not self._exists(cursor, plan.table):
            return False
        target = self.quote(plan.table)
        if plan.policy is ExportWritePolicy.FAIL:
            raise self.existing_table_error(plan)
        if plan.policy is ExportWritePolicy.REPLACE and plan.drop_on_replace:
            cascade = " CASCADE" if plan.cascade_on_drop else ""
            cursor.execute(f"DROP TABLE {target}{cascade}".encode())
            return False
        if plan.policy is ExportWritePolicy.REPLACE:
            cursor.execute(f"DELETE FROM {target}".encode())
        return True

    def _export_arrow(self, plan: ExportPlan, table: pa.Table) -> None:
        columns = [
            (field.name, *postgres_column_type(field.type), _converter(field.type))
            for field in table.schema
        ]
        connection = self.conn
        try:
            with connection.cursor() as cursor:
                existed = self._prepare_target(cursor, plan)
                if not existed:
                    cursor.execute(self._create_sql(plan, columns).encode())
                direct = plan.conflict is None and (
                    all(_csv_safe(f.type) for f in table.schema)
                    or not (existed or plan.overwrite_types)
                )
                if direct:
                    _copy(cursor, self.quote(plan.table), table, columns)
                else:
                    self._copy_through_stage(cursor, plan, table, columns)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def _create_sql(self, plan: ExportPlan, columns: Sequence[tuple[str, str, str, Any]]) -> str:
        definitions = [
            f"{_column(name)} {plan.overwrite_types.get(name, ddl)}" for name, ddl, _, _ in columns
        ]
        if plan.unique:
            definitions.append(f"UNIQUE ({', '.join(_column(c) for c in plan.unique)})")
        return f"CREATE TABLE {self.quote(plan.table)} ({', '.join(definitions)})"

    def _copy_through_stage(
        self,
        cursor: psycopg.Cursor[Any],
        plan: ExportPlan,
        table: pa.Table,
        columns: Sequence[tuple[str, str, str, Any]],
    ) -> None:
        stage = f'"weir_stage_{secrets.token_hex(6)}"'
        definition = ", ".join(f"{_column(name)} {ddl}" for name, ddl, _, _ in columns)
        cursor.execute(f"CREATE TEMPORARY TABLE {stage} ({definition}) ON COMMIT DROP".encode())
        _copy(cursor, stage, table, columns)
        names = ", ".join(_column(name) for name, _, _, _ in columns)
        insert = f"INSERT INTO {self.quote(plan.table)} ({names}) SELECT {names} FROM {stage}"
        conflict = on_conflict_clause(plan, [c[0] for c in columns], _column)
        cursor.execute((insert + conflict).encode())

    def _export_query(self, plan: ExportPlan, query: str) -> None:
        connection = self.conn
        try:
            with connection.cursor() as cursor:
                existed = self._prepare_target(cursor, plan)
                target = self.quote(plan.table)
                if existed:
                    cursor.execute(f"INSERT INTO {target} {query}".encode())
                else:
                    cursor.execute(f"CREATE TABLE {target} AS {query}".encode())
            connection.commit()
        except BaseException:
            connection.rollback()
            raise


def _copy(
    cursor: psycopg.Cursor[Any],
    target: str,
    table: pa.Table,
    columns: Sequence[tuple[str, str, str, Callable[[list[Any]], list[Any]]]],
) -> None:
    """COPY the rows into `target`: CSV from Arrow's writer when exact, else binary rows.

    In the CSV, strings are always quoted, so `""` is an empty string and an unquoted empty
    field is NULL; floats are written in their shortest round-trip form.
    """
    names = ", ".join(_column(name) for name, _, _, _ in columns)
    if all(_csv_safe(field.type) for field in table.schema):
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        sql = f"COPY {target} ({names}) FROM STDIN (FORMAT CSV)"
        with cursor.copy(sql.encode()) as copy:
            for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())
        return
    with cursor.copy(f"COPY {target} ({names}) FROM STDIN (FORMAT BINARY)".encode()) as copy:
        copy.set_types([copy_type for _, _, copy_type, _ in columns])
        for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
            values = [
                convert(column.to_pylist())
                for column, (_, _, _, convert) in zip(batch.columns, columns, strict=True)
            ]
            for row in zip(*values, strict=True):
                copy.write_row(row)


def _converter(data_type: pa.DataType) -> Callable[[list[Any]], list[Any]]:
    """Python values of one column -> what psycopg's binary dumper of its COPY type takes."""
    copy_type = postgres_column_type(data_type)[1]
    if copy_type == "jsonb":
        return lambda values: [None if v is None else Jsonb(v, dumps=_dumps) for v in values]
    if copy_type == "numeric":
        return lambda values: [
            v if v is None or isinstance(v, Decimal) else Decimal(v) for v in values
        ]
    if copy_type == "text":
        return lambda values: [v if v is None or isinstance(v, str) else str(v) for v in values]
    return _same


def _same(values: list[Any]) -> list[Any]:
    return values


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _number(name: str, value: int | str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Postgres {name}={value!r} must be a whole number") from None
