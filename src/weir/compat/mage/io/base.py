"""Stand-in for `mage_ai.io.base`: the write policies, file formats and connection lifecycle.

A SQL connector (`Postgres`, `MySQL`, `DuckDB`) connects on first use, so it works both as Mage
documents it (`with Postgres.with_config(...) as loader:`) and without `with`. Leaving the `with`
block commits what the connector did when the block raised nothing and rolls back otherwise, as
psycopg's and the DB-API's connection context managers do. Mage closes without committing, which
silently drops writes made with `execute()` unless the block called `commit()`; Weir keeps them.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

__all__ = [
    "QUERY_ROW_LIMIT",
    "BaseIO",
    "BaseSQLConnection",
    "ExportWritePolicy",
    "FileFormat",
]

QUERY_ROW_LIMIT = 10_000_000
"""Mage's default row cap for `load`. Weir applies a cap only when `limit` is given: Mage's
silently drops rows beyond it."""


class ExportWritePolicy(StrEnum):
    """What `export` does when the table exists (Mage's `if_exists`)."""

    APPEND = "append"
    FAIL = "fail"
    REPLACE = "replace"

    @classmethod
    def parse(cls, value: str) -> ExportWritePolicy:
        """Read an `if_exists` argument, case-insensitively.

        Raises:
            ValueError: not one of `append`, `fail`, `replace`.
        """
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(
                f"if_exists={value!r} is not a write policy; use 'append', 'fail' or 'replace'"
            ) from None


class FileFormat(StrEnum):
    """File formats `FileIO` reads and writes, named by their usual extension."""

    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"
    HDF5 = "hdf5"


class BaseIO(ABC):
    """A data connector: `load` returns a DataFrame, `export` writes one.

    Args:
        verbose: print what it does (Mage's default for connectors; the block log keeps it).
    """

    def __init__(self, verbose: bool = True) -> None:
        self.verbose = verbose

    @abstractmethod
    def load(self, *args: Any, **kwargs: Any) -> Any:
        """Read data; see the connector."""

    @abstractmethod
    def export(self, df: Any, *args: Any, **kwargs: Any) -> None:
        """Write data; see the connector."""

    def _say(self, verbose: bool, message: str) -> None:
        if verbose and self.verbose:
            print(f"{type(self).__name__}: {message}")


class BaseSQLConnection(BaseIO):
    """Owns one database connection: opened on first use, closed by `close()` or `with`."""

    def __init__(self, verbose: bool = True) -> None:
        super().__init__(verbose=verbose)
        self._connection: Any = None

    @abstractmethod
    def _connect(self) -> Any:
        """Open and return a new DB-API connection (autocommit off)."""

    @property
    def conn(self) -> Any:
        """The open connection (psycopg, pymysql or duckdb), opened now if needed."""
        self.open()
        return self._connection

    def open(self) -> None:
        """Connect, unless already connected."""
        if self._connection is None:
            self._connection = self._connect()

    def close(self) -> None:
        """Close the connection, discarding what was not committed; safe to call twice."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def commit(self) -> None:
        """Commit what was done since the last commit."""
        if self._connection is not None:
            self._connection.commit()

    def rollback(self) -> None:
        """Undo what was done since the last commit."""
        if self._connection is not None:
            self._connection.rollback()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.commit()
            elif self._connection is not None:
                # The block's own error matters; a failing rollback (dead connection) must not
                # replace it, and closing discards the transaction anyway.
                with contextlib.suppress(Exception):
                    self._connection.rollback()
        finally:
            self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # the interpreter may be shutting down; nothing useful to report
            return
