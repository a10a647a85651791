"""DuckDB, the embedded default: query upstream data in place, optionally keep the result in a file.

- Upstream values in memory (pandas, polars, Arrow) are registered on the connection under
  `weir_upstream_<uuid>` and scanned without copying (Arrow/polars zero-copy, pandas by DuckDB's
  pandas scan). A list of dicts or a dict of columns is turned into Arrow first.
- An upstream not in memory but persisted as Parquet (a block re-run alone) renders to
  `read_parquet('<path>')`, read in place; one persisted as Arrow IPC is memory-mapped and
  registered like an in-memory value.
- A SQL upstream whose result is a table in the same DuckDB file renders to that table.
- With neither `data_provider_profile` nor `data_provider_table`, the connection is in memory and
  the block only returns its rows. Otherwise the rows are also written to
  `<schema>.<table>` in the profile's `DUCKDB_DATABASE` file per `export_write_policy`, in one
  transaction (`replace` is one `CREATE OR REPLACE TABLE`; `append` inserts `BY NAME`).

Registered names are prefixed so they never shadow a table of the database file (DuckDB resolves a
registered name before `main.<name>`). No upload type table is needed: DuckDB reads Arrow types.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from weir.blocks.base import UpstreamInput
from weir.blocks.sql.config import WritePolicy, safe_name
from weir.blocks.sql.providers.base import BlockContext, SqlProvider, TableTarget
from weir.blocks.sql.sqltext import SqlPosition, quote_double, sql_literal
from weir.blocks.sql.tables import (
    data_file,
    first_output,
    sql_table_of,
    to_arrow,
    upstream_arrow,
)
from weir.connections import DuckDBSettings, duckdb_settings
from weir.errors import BlockExecutionError, ConfigError

__all__ = ["DuckDBProvider"]

_LINE_RE = re.compile(r"LINE (\d+):")


class DuckDBProvider(SqlProvider):
    """Run a SQL block on DuckDB, in memory or on the profile's database file."""

    name = "duckdb"

    def __init__(self, context: BlockContext) -> None:
        super().__init__(context)
        self._settings: DuckDBSettings | None = None
        if context.config.profile is not None or context.config.table is not None:
            try:
                self._settings = duckdb_settings(context.load_profile(), context.project_root)
            except ConfigError as error:
                raise context.config_failure(error) from error
        self._connection: duckdb.DuckDBPyConnection | None = None

    @property
    def database(self) -> str:
        """The database file's path, or `:memory:`."""
        return self._settings.database if self._settings is not None else ":memory:"

    @property
    def identity(self) -> str:
        """`duckdb://<path>`; an in-memory database is never shared with another block."""
        if self._settings is None or self._settings.database == ":memory:":
            return f"duckdb-memory://{id(self)}"
        return f"duckdb://{self._settings.database}"

    @property
    def target(self) -> TableTarget | None:
        """`<schema>.<table>` in the file, or None when the block only queries in memory."""
        if self._settings is None:
            return None
        schema = self.context.config.schema or self._settings.schema
        name = self.context.result_table_name()
        return TableTarget(schema, name, f"{quote_double(schema)}.{quote_double(name)}")

    def reference(self, upstream: UpstreamInput) -> str:
        """A registered name, `read_parquet('<path>')`, or a SQL upstream's table in this file."""
        ref = sql_table_of(upstream)
        if ref is not None and ref.database == self.identity:
            return ref.table
        value, path = first_output(upstream)
        found = data_file(path) if value is None and path is not None else None
        if found is not None and found[0] == "parquet":
            return f"read_parquet({sql_literal(str(found[1]))})"
        return quote_double(_registered_name(upstream))

    def stage(self, upstream: Sequence[UpstreamInput]) -> None:
        """Register the used upstreams' values, or their memory-mapped Arrow files (no copy)."""
        connection = self._open()
        for item in upstream:
            if self.reference(item) != quote_double(_registered_name(item)):
                continue  # read in place: a table of this file or a Parquet file
            value, _ = first_output(item)
            if value is None:
                value = upstream_arrow(item, self.context.block_uuid)
            connection.register(_registered_name(item), _scannable(value, self.context, item))

    def query(self, sql: str) -> pa.Table:
        """Run the block's one SELECT and return its rows."""
        self._check_select(sql)
        try:
            return _arrow(self._open().sql(sql))
        except duckdb.Error as error:
            raise self.failure(sql, error, _position(error)) from error

    def materialize(self, sql: str, target: TableTarget, policy: WritePolicy) -> None:
        """Write the SELECT's rows to `target` in one transaction."""
        self._check_select(sql)
        statement = self.one_statement(sql)
        connection = self._open()
        self._execute(f"CREATE SCHEMA IF NOT EXISTS {quote_double(target.schema or 'main')}")
        self._execute("BEGIN TRANSACTION")
        try:
            exists = self._exists(target)
            if exists and policy is WritePolicy.FAIL:
                raise BlockExecutionError(
                    self.context.block_uuid,
                    f"duckdb: table {target.sql} already exists in {self.database} and "
                    "export_write_policy is 'fail'; drop it or choose append or replace",
                )
            if policy is WritePolicy.REPLACE:
                wrapped = f"CREATE OR REPLACE TABLE {target.sql} AS {statement}"
            elif exists:
                wrapped = f"INSERT INTO {target.sql} BY NAME {statement}"
            else:
                wrapped = f"CREATE TABLE {target.sql} AS {statement}"
            try:
                connection.execute(wrapped)
            except duckdb.Error as error:
                raise self.failure(sql, error, _position(error)) from error
            self._execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self.log("%s rows into %s (%s)", policy.value, target.sql, self.database)

    def run_raw(self, sql: str) -> pa.Table | None:
        """Run every statement in order; the last one's rows if it is a query."""
        connection = self._open()
        statements = self._statements(sql)
        start = 0
        for index, statement in enumerate(statements):
            start = max(sql.find(statement.query.strip(), start), start)
            try:
                if index == len(statements) - 1 and _returns_rows(statement):
                    return _arrow(connection.sql(statement.query))
                connection.execute(statement.query)
            except duckdb.Error as error:
                raise self.failure(sql, error, _position(error, sql[:start])) from error
        return None

    def read_table(self, target: TableTarget) -> pa.Table:
        """Every row of `target`."""
        return _arrow(self._open().sql(f"SELECT * FROM {target.sql}"))

    def connect(self) -> None:
        """Open the database file (creating its folder) or an in-memory database."""
        try:
            if self.database != ":memory:":
                Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            self._connection = duckdb.connect(self.database)
        except (duckdb.Error, OSError) as error:
            raise self.step_failure(f"opening {self.database}", error) from error

    def close(self) -> None:
        """Close the connection (registered values are released with it)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            raise RuntimeError("DuckDBProvider used outside `with provider:`")
        return self._connection

    def _execute(self, sql: str) -> None:
        self._open().execute(sql)

    def _statements(self, sql: str) -> list[Any]:
        try:
            return list(self._open().extract_statements(sql))
        except duckdb.Error as error:
            raise self.failure(sql, error, _position(error)) from error

    def _check_select(self, sql: str) -> None:
        statements = self._statements(sql)
        if len(statements) != 1 or not _returns_rows(statements[0]):
            self.one_statement(sql)  # raises for several statements
            raise BlockExecutionError(
                self.context.block_uuid,
                "duckdb: the SQL must be a SELECT (its rows become the block's output); to run "
                "other statements set `use_raw_sql: true` in the block's configuration",
            )

    def _exists(self, target: TableTarget) -> bool:
        rows = (
            self._open()
            .execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
                "current_database() AND table_schema = ? AND table_name = ? "
                "AND table_type = 'BASE TABLE'",
                [target.schema or "main", target.name],
            )
            .fetchall()
        )
        return bool(rows and rows[0][0])


def _registered_name(upstream: UpstreamInput) -> str:
    return f"weir_upstream_{safe_name(upstream.block_uuid)}"


def _scannable(value: Any, context: BlockContext, upstream: UpstreamInput) -> Any:
    """The value itself when DuckDB scans it in place, else an Arrow copy."""
    if isinstance(value, (pd.DataFrame, pa.Table)):
        return value
    if type(value).__module__.startswith("polars") and not hasattr(value, "collect"):
        return value
    return to_arrow(value, context.block_uuid, upstream.block_uuid)


def _arrow(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    table = relation.to_arrow_table()
    if not isinstance(table, pa.Table):
        raise TypeError(f"duckdb returned {type(table).__name__}, not an Arrow table")
    return _narrow_hugeints(table)


def _narrow_hugeints(table: pa.Table) -> pa.Table:
    """Give `sum()`/`count()` results over integers an int64 column instead of Python Decimals.

    DuckDB types `sum(BIGINT)` as HUGEINT, which reaches Arrow as decimal128(38, 0) and pandas as
    an `object` column of Decimals. A column of that type whose values all fit in int64 becomes
    int64 (lossless); one with a larger value keeps its type.
    """
    import pyarrow.compute as pc

    hugeint = pa.decimal128(38, 0)
    for index, field in enumerate(table.schema):
        if field.type != hugeint:
            continue
        try:
            narrowed = pc.cast(table.column(index), pa.int64(), safe=True)
        except pa.ArrowInvalid:
            continue
        table = table.set_column(index, field.with_type(pa.int64()), narrowed)
    return table


def _returns_rows(statement: Any) -> bool:
    expected = list(statement.expected_result_type)
    return expected == [duckdb.ExpectedResultType.QUERY_RESULT]


def _position(error: BaseException, before: str = "") -> SqlPosition | None:
    match = _LINE_RE.search(str(error))
    if match is None:
        return None
    return SqlPosition(line=int(match.group(1)) + before.count("\n"))
