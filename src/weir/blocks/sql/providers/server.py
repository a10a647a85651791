"""What the database-server SQL providers (PostgreSQL, MySQL) share.

Naming the result table, referring to upstreams, uploading them, and running the block's SELECT.

A subclass supplies the driver specifics: how to quote a table name, upload an Arrow table, open a
connection, run a statement and turn a cursor's rows into Arrow.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import pyarrow as pa

from weir.blocks.base import UpstreamInput
from weir.blocks.sql.providers.base import SqlProvider, TableTarget
from weir.blocks.sql.tables import sql_table_of, upstream_arrow


class ServerSqlProvider(SqlProvider):
    """A provider whose tables live in a database server, in the schema `self._schema`.

    Attributes:
        driver_errors: the driver's exception classes, turned into block errors that name the step.
    """

    driver_errors: ClassVar[tuple[type[BaseException], ...]]
    _schema: str

    @property
    def target(self) -> TableTarget:
        """The result table: the configured names, or the profile's schema and Mage's name."""
        name = self.context.result_table_name()
        return TableTarget(self._schema, name, self._qualified(name))

    def reference(self, upstream: UpstreamInput) -> str:
        """The upstream's table on this server: its own result table or the upload target."""
        ref = sql_table_of(upstream)
        if ref is not None and ref.database == self.identity:
            return ref.table
        return self._qualified(self.context.upstream_table_name(upstream))

    def stage(self, upstream: Sequence[UpstreamInput]) -> None:
        """Upload each used upstream's rows (replacing its table), unless already on this server."""
        for item in upstream:
            ref = sql_table_of(item)
            if ref is not None and ref.database == self.identity:
                continue
            table = upstream_arrow(item, self.context.block_uuid)
            name = self.context.upstream_table_name(item)
            try:
                self._upload(table, name)
            except self.driver_errors as error:
                step = f"uploading upstream '{item.block_uuid}' to {self._qualified(name)}"
                raise self.step_failure(step, error) from error
            self.log("uploaded %d rows of %s to %s", table.num_rows, item.block_uuid, name)

    def query(self, sql: str) -> pa.Table:
        """Run the block's one SELECT and return its rows."""
        statement = self.one_statement(sql)
        with self._open().cursor() as cursor:
            self._run(cursor, sql, "", statement)
            return self._rows(cursor)

    @abstractmethod
    def _qualified(self, name: str) -> str:
        """`name` quoted and qualified with the schema/database."""

    @abstractmethod
    def _upload(self, table: pa.Table, name: str) -> None:
        """Replace table `name` with the rows of `table`."""

    @abstractmethod
    def _open(self) -> Any:
        """The open connection (opened on first use)."""

    @abstractmethod
    def _run(self, cursor: Any, sql: str, prefix: str, statement: str) -> None:
        """Execute `prefix + statement`, turning driver errors into block errors."""

    @abstractmethod
    def _rows(self, cursor: Any) -> pa.Table:
        """The cursor's result rows as an Arrow table."""
