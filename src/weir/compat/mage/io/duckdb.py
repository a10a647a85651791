"""Stand-in for `mage_ai.io.duckdb`: a DuckDB database file (or `:memory:`).

```python
with DuckDB.with_config(ConfigFileLoader(config_path, config_profile)) as loader:
    df = loader.load('SELECT ...')
    loader.export(df, None, table_name=table_name, index=False, if_exists='replace')
```

Export registers the rows with DuckDB as an Arrow table (no copy) and writes them with one
`INSERT ... SELECT` in one transaction; a new table takes DuckDB's own types for the Arrow
columns. A relative `DUCKDB_DATABASE` is taken from the project folder (Mage runs there).

Differences from Mage, which lose data there: Weir keeps DuckDB's types for the data (Mage
declares floats `DECIMAL`, which DuckDB rounds to 3 decimals, and booleans `CHAR(52)`).
`load` returns DuckDB's own DataFrame conversion (fast, and the same dtypes as `.df()`).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from weir.compat.context import current_project_root
from weir.compat.mage.io._frames import ReadOptions
from weir.compat.mage.io.base import ExportWritePolicy
from weir.compat.mage.io.config import BaseConfigLoader, profile_of
from weir.compat.mage.io.sql import (
    BaseSQL,
    ExportPlan,
    TableName,
    on_conflict_clause,
    strip_quotes,
)
from weir.connections import duckdb_settings

__all__ = ["DuckDB"]


def _quote(name: str) -> str:
    bare, _ = strip_quotes(name, '"')
    return '"' + bare.replace('"', '""') + '"'


class DuckDB(BaseSQL):
    """A DuckDB database (Mage's `mage_ai.io.duckdb.DuckDB`).

    Args:
        database: the database file (relative: from the project folder), or `:memory:`.
        schema: default schema for `export` and `sample` (default `main`).
        verbose: print what is loaded and exported.
    """

    def __init__(self, database: str, schema: str | None = None, verbose: bool = True) -> None:
        super().__init__(verbose=verbose)
        if database != ":memory:":
            database = str((current_project_root() / database).resolve())
        self.database = database
        self.schema = schema or "main"

    @classmethod
    def with_config(cls, config: BaseConfigLoader | Mapping[str, Any]) -> DuckDB:
        """Open the `DUCKDB_DATABASE` of a profile.

        Args:
            config: a `ConfigFileLoader` (or any config loader, or a mapping of settings).

        Raises:
            ConfigError: `DUCKDB_DATABASE` is missing or unresolved, or MotherDuck is asked for.
        """
        settings = duckdb_settings(profile_of(config), current_project_root())
        return cls(settings.database, settings.schema)

    def default_schema(self) -> str:
        """The profile's `DUCKDB_SCHEMA`, default `main`."""
        return self.schema

    def describe(self) -> str:
        """The database file's path (or `:memory:`)."""
        return self.database

    def quote(self, table: TableName) -> str:
        """`"schema"."table"`."""
        return f"{_quote(table.schema or self.default_schema())}.{_quote(table.name)}"

    def table_exists(self, schema_name: str | None, table_name: str) -> bool:
        """Whether the table exists in `schema_name` (default: `main` or the profile's)."""
        return self._exists(TableName(schema_name, table_name))

    def load(
        self,
        query_string: str,
        limit: int | None = None,
        display_query: str | None = None,
        verbose: bool = True,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Run a query and return its rows (DuckDB's DataFrame conversion).

        Args:
            query_string: the SQL query.
            limit: return at most this many rows; None for all of them.
            display_query: what to print instead of the query.
            verbose: print what is loaded.
            **kwargs: `params` (`?` or `$n` placeholders), `index_col`, `parse_dates`;
                `coerce_float` is accepted and has no effect.

        Returns:
            The rows.

        Raises:
            TypeError: an unsupported keyword argument.
        """
        options = ReadOptions.from_kwargs(kwargs)
        query = self._clean_query(query_string)
        if limit is not None:
            query = f"SELECT * FROM ({query.rstrip(';')}) AS weir_limited LIMIT {int(limit)}"
        self._say(verbose, f"loading with query\n{display_query or query_string.strip()}")
        frame = self.conn.execute(query, options.params).df()
        return options.finish(frame)

    def commit(self) -> None:
        """Commit the open transaction, if there is one (DuckDB autocommits otherwise)."""
        if self._connection is not None:
            with contextlib.suppress(duckdb.TransactionException):
                self._connection.commit()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.database != ":memory:":
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(self.database)

    def _fetch(self, query: str, params: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.conn.execute(query, params)
        if cursor.description is None:
            return [], []
        return [column[0] for column in cursor.description], cursor.fetchall()

    def _exists(self, table: TableName) -> bool:
        rows = self.conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema = ? AND table_name = ?",
            [
                strip_quotes(table.schema or self.default_schema(), '"')[0],
                strip_quotes(table.name, '"')[0],
            ],
        ).fetchall()
        return bool(rows and rows[0][0])

    def _prepare_target(self, plan: ExportPlan) -> bool:
        """Create the schema, apply the policy to an existing table; whether it still exists."""
        connection = self.conn
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(plan.table.schema or 'main')}")
        if not self._exists(plan.table):
            return False
        target = self.quote(plan.table)
        if plan.policy is ExportWritePolicy.FAIL:
            raise self.existing_table_error(plan)
        if plan.policy is ExportWritePolicy.REPLACE and plan.drop_on_replace:
            connection.execute(f"DROP TABLE {target}{' CASCADE' if plan.cascade_on_drop else ''}")
            return False
        if plan.policy is ExportWritePolicy.REPLACE:
            connection.execute(f"DELETE FROM {target}")
        return True

    def _export_arrow(self, plan: ExportPlan, table: pa.Table) -> None:
        source = f"weir_export_{secrets.token_hex(6)}"
        connection = self.conn
        connection.register(source, table)
        try:
            self._in_transaction(lambda: self._insert_rows(plan, source, table.column_names))
        finally:
            connection.unregister(source)

    def _insert_rows(self, plan: ExportPlan, source: str, names: list[str]) -> None:
        connection = self.conn
        if not self._prepare_target(plan):
            described = connection.execute(f"DESCRIBE SELECT * FROM {_quote(source)}").fetchall()
            definitions = [
                f"{_quote(row[0])} {plan.overwrite_types.get(row[0], row[1])}" for row in described
            ]
            if plan.unique:
                definitions.append(f"UNIQUE ({', '.join(_quote(c) for c in plan.unique)})")
            connection.execute(f"CREATE TABLE {self.quote(plan.table)} ({', '.join(definitions)})")
        columns = ", ".join(_quote(n) for n in names)
        connection.execute(
            f"INSERT INTO {self.quote(plan.table)} ({columns}) SELECT {columns} "
            f"FROM {_quote(source)}{on_conflict_clause(plan, names, _quote)}"
        )

    def _export_query(self, plan: ExportPlan, query: str) -> None:
        def write() -> None:
            target = self.quote(plan.table)
            if self._prepare_target(plan):
                self.conn.execute(f"INSERT INTO {target} {query}")
            else:
                self.conn.execute(f"CREATE TABLE {target} AS {query}")

        self._in_transaction(write)

    def _in_transaction(self, work: Callable[[], None]) -> None:
        connection = self.conn
        connection.execute("BEGIN TRANSACTION")
        try:
            work()
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
