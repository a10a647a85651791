"""Stand-in for `mage_ai.io.sql`: what the SQL connectors share (`load`, `export`, `execute`).

`export(df, schema_name, table_name, if_exists='replace', index=False, ...)` follows Mage:

- The table is created when missing, from the frame's column types (each connector's type table).
- `if_exists='replace'` on an existing table deletes its rows and writes the new ones in the same
  transaction, keeping the table (its columns, types, grants and dependent views), as Mage does;
  readers see the old rows or the new ones. `drop_table_on_replace=True` drops and recreates it.
  `append` adds rows (by column name); `fail` raises `ValueError` naming the table.
- Column names are cleaned as Mage cleans them (`auto_clean_name=True`; see `_frames`).
- `unique_constraints=[...]` adds a UNIQUE constraint when the table is created, and with
  `unique_conflict_method='UPDATE'` or `'IGNORE'` rows whose key already exists update the
  existing row or are skipped.
- `query_string=...` writes the rows of that query instead of a frame.

`load(query, limit=None, **read_sql_keywords)` returns a DataFrame as `pandas.read_sql` builds it.
Unlike Mage, no row cap is applied unless `limit` is given (Mage's default cap of 10,000,000
rows drops the rest silently), and the query is sent as written.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pandas as pd
import pyarrow as pa

from weir.compat.mage.io._frames import ReadOptions, clean_column_name, export_table
from weir.compat.mage.io.base import QUERY_ROW_LIMIT, BaseSQLConnection, ExportWritePolicy

__all__ = [
    "BaseSQL",
    "ConflictMethod",
    "ExportPlan",
    "TableName",
    "is_plain_identifier",
    "on_conflict_clause",
    "strip_quotes",
]

_QUERY_VARIABLE_NAMES = ("params", "vars", "args", "parameters")


class ConflictMethod(StrEnum):
    """What `export` does with a row whose unique key exists (Mage's `unique_conflict_method`)."""

    UPDATE = "UPDATE"
    IGNORE = "IGNORE"

    @classmethod
    def parse(cls, value: str | None) -> ConflictMethod | None:
        """Read the argument, case-insensitively; None stays None.

        Raises:
            ValueError: neither `UPDATE` nor `IGNORE`.
        """
        if value is None:
            return None
        try:
            return cls(str(value).upper())
        except ValueError:
            raise ValueError(
                f"unique_conflict_method={value!r}: use 'UPDATE' or 'IGNORE'"
            ) from None


@dataclass(frozen=True, slots=True)
class TableName:
    """A table to write: schema (None for the connection's default) and name, both unquoted."""

    schema: str | None
    name: str


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """Everything `export` was asked to do, checked.

    Attributes:
        table: the table to write.
        policy: what to do when it exists.
        drop_on_replace: with `replace`, drop and recreate the table instead of deleting rows.
        cascade_on_drop: drop dependent objects with it (PostgreSQL `CASCADE`).
        conflict: what to do with rows whose unique key exists, or None to insert plainly.
        unique: columns of the UNIQUE constraint (cleaned like the frame's columns).
        overwrite_types: column -> SQL type to use instead of the inferred one.
    """

    table: TableName
    policy: ExportWritePolicy
    drop_on_replace: bool = False
    cascade_on_drop: bool = False
    conflict: ConflictMethod | None = None
    unique: tuple[str, ...] = ()
    overwrite_types: Mapping[str, str] = field(default_factory=dict)


class BaseSQL(BaseSQLConnection):
    """A SQL database connector; subclasses implement the database-specific steps."""

    @abstractmethod
    def default_schema(self) -> str | None:
        """Schema used when `export` gets none (None: the connection's database)."""

    @abstractmethod
    def describe(self) -> str:
        """The database for messages, without secrets."""

    @abstractmethod
    def table_exists(self, schema_name: str | None, table_name: str) -> bool:
        """Whether the table exists."""

    @abstractmethod
    def quote(self, table: TableName) -> str:
        """The table as SQL text, quoted and qualified."""

    @abstractmethod
    def _fetch(self, query: str, params: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one query; its column names and rows (no rows for a statement)."""

    @abstractmethod
    def _export_arrow(self, plan: ExportPlan, table: pa.Table) -> None:
        """Write the rows per `plan` and commit."""

    @abstractmethod
    def _export_query(self, plan: ExportPlan, query: str) -> None:
        """Write the rows of `query` per `plan` and commit."""

    def load(
        self,
        query_string: str,
        limit: int | None = None,
        display_query: str | None = None,
        verbose: bool = True,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Run a query and return its rows.

        Args:
            query_string: the SQL query.
            limit: return at most this many rows (the query is wrapped in
                `SELECT * FROM (...) LIMIT n`); None for all of them.
            display_query: what to print instead of the query (e.g. without secrets).
            verbose: print what is loaded.
            **kwargs: `params`, `index_col`, `coerce_float`, `parse_dates` (as read_sql's).

        Returns:
            The rows, with read_sql's dtypes.

        Raises:
            TypeError: an unsupported keyword argument.
        """
        options = ReadOptions.from_kwargs(kwargs)
        query = self._clean_query(query_string)
        if limit is not None:
            query = f"SELECT * FROM ({query.rstrip(';')}) AS weir_limited LIMIT {int(limit)}"
        self._say(verbose, f"loading with query\n{display_query or query_string.strip()}")
        columns, rows = self._fetch(query, options.params)
        return options.frame_from_rows(columns, rows)

    def sample(
        self, schema: str | None, table: str | int, size: int | str = QUERY_ROW_LIMIT
    ) -> pd.DataFrame:
        """Up to `size` rows of a table (in no particular order).

        Mage's warehouse-transformer template passes `(schema, size, table)`; that order is
        accepted too.
        """
        if isinstance(table, int) and isinstance(size, str):
            table, size = size, table
        target = TableName(schema or self.default_schema(), str(table))
        return self.load(f"SELECT * FROM {self.quote(target)} LIMIT {int(size)}")

    def execute(self, query_string: str, **query_vars: Any) -> None:
        """Run one statement, without committing (call `commit()`, or leave the `with` block).

        Args:
            query_string: the SQL.
            **query_vars: its parameters as `params=` (psycopg 2's `vars=` and pymysql's
                `args=` are accepted too).

        Raises:
            TypeError: another keyword argument.
        """
        unknown = sorted(set(query_vars) - set(_QUERY_VARIABLE_NAMES))
        if unknown:
            raise TypeError(f"execute() got unexpected keyword argument(s) {', '.join(unknown)}")
        params = next((query_vars[n] for n in _QUERY_VARIABLE_NAMES if n in query_vars), None)
        self._fetch(self._clean_query(query_string), params)

    def export(  # noqa: PLR0917 (Mage's positional signature)
        self,
        df: Any,
        schema_name: str | None = None,
        table_name: str | None = None,
        if_exists: str = ExportWritePolicy.REPLACE,
        index: bool = False,
        verbose: bool = True,
        query_string: str | None = None,
        drop_table_on_replace: bool = False,
        cascade_on_drop: bool = False,
        allow_reserved_words: bool = False,
        unique_conflict_method: str | None = None,
        unique_constraints: Sequence[str] | None = None,
        auto_clean_name: bool = True,
        overwrite_types: Mapping[str, str] | None = None,
    ) -> None:
        """Write a DataFrame (or the rows of `query_string`) to a table; see the module notes.

        Args:
            df: the rows: pandas DataFrame, dict, list of dicts, pyarrow Table, polars frame.
            schema_name: the table's schema (MySQL: database); None for the profile's default.
            table_name: the table's name.
            if_exists: `replace` (default), `append` or `fail`.
            index: also write the frame's index as columns.
            verbose: print what is written.
            query_string: write this query's rows instead of `df`.
            drop_table_on_replace: with `replace`, drop and recreate the table.
            cascade_on_drop: drop dependent objects too (PostgreSQL).
            allow_reserved_words: keep a column named `default` as is.
            unique_conflict_method: `UPDATE` or `IGNORE` rows whose unique key exists.
            unique_constraints: columns of the table's UNIQUE constraint.
            auto_clean_name: clean column names as Mage does.
            overwrite_types: column -> SQL type, instead of the inferred type.

        Raises:
            ValueError: no table name, a bad policy or conflict method, `fail` and the table
                exists, or two columns that clean to one name.
            TypeError: `df` is not tabular.
        """
        if not table_name:
            raise ValueError("export() needs a table_name")
        conflict = ConflictMethod.parse(unique_conflict_method)
        unique = [str(c) for c in unique_constraints or ()]
        if conflict is not None and not unique:
            raise ValueError("unique_conflict_method needs unique_constraints (the key columns)")
        if auto_clean_name:
            unique = [
                clean_column_name(c, allow_reserved_words=allow_reserved_words) for c in unique
            ]
        plan = ExportPlan(
            table=TableName(schema_name or self.default_schema(), table_name),
            policy=ExportWritePolicy.parse(if_exists),
            drop_on_replace=drop_table_on_replace,
            cascade_on_drop=cascade_on_drop,
            conflict=conflict,
            unique=tuple(unique),
            overwrite_types=dict(overwrite_types or {}),
        )
        if query_string:
            self._export_query(plan, self._clean_query(query_string).rstrip(";"))
            self._say(verbose, f"wrote the rows of a query to {self.quote(plan.table)}")
            return
        table = export_table(
            df,
            index=index,
            clean_names=auto_clean_name,
            allow_reserved_words=allow_reserved_words,
        )
        self._export_arrow(plan, table)
        self._say(
            verbose,
            f"wrote {table.num_rows} rows to {self.quote(plan.table)} (if_exists={plan.policy})",
        )

    def existing_table_error(self, plan: ExportPlan) -> ValueError:
        """The error for `if_exists='fail'` on an existing table (Mage raises ValueError)."""
        return ValueError(
            f"Table {self.quote(plan.table)} already exists in {self.describe()} and "
            "if_exists='fail'; use 'replace' or 'append', or drop the table"
        )

    @staticmethod
    def _clean_query(query_string: str) -> str:
        return query_string.strip(" \n\t")


def strip_quotes(name: str, quote: str) -> tuple[str, bool]:
    """`name` without surrounding `quote` characters, and whether it had them."""
    if len(name) >= 2 and name[0] == quote and name[-1] == quote:
        return name[1:-1].replace(quote * 2, quote), True
    return name, False


_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")


def is_plain_identifier(name: str) -> bool:
    """Whether `name` could be written unquoted in SQL (letters, digits, `_`, `$`)."""
    return _PLAIN_IDENTIFIER.match(name) is not None


def on_conflict_clause(plan: ExportPlan, names: Sequence[str], quote: Callable[[str], str]) -> str:
    """The `ON CONFLICT` tail of an INSERT for `plan` (PostgreSQL and DuckDB syntax).

    Args:
        plan: the export; empty text when it has no conflict method.
        names: the inserted columns.
        quote: quotes one column name.

    Returns:
        `""`, ` ON CONFLICT (k) DO NOTHING` or ` ON CONFLICT (k) DO UPDATE SET c = EXCLUDED.c`.
    """
    if plan.conflict is None:
        return ""
    keys = ", ".join(quote(c) for c in plan.unique)
    updates = [f"{quote(n)} = EXCLUDED.{quote(n)}" for n in names if n not in plan.unique]
    if plan.conflict is ConflictMethod.IGNORE or not updates:
        return f" ON CONFLICT ({keys}) DO NOTHING"
    return f" ON CONFLICT ({keys}) DO UPDATE SET {', '.join(updates)}"
