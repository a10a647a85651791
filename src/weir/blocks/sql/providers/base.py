"""The one interface every SQL provider implements, and what it needs to know about a block run.

A provider is a small strategy object for one database engine. The executor drives it:

```
provider = PROVIDERS[name](BlockContext)       # reads settings; no I/O yet
names = {uuid: provider.reference(upstream)}   # what {{ df_n }} renders to (pure)
with provider:                                 # connect / close
    provider.stage(used_upstreams)             # make those names readable (register, upload)
    provider.run_raw(sql) | provider.query(sql) | provider.materialize(sql); provider.read_result()
```
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import pyarrow as pa

from weir.blocks.base import BlockRequest, UpstreamInput
from weir.blocks.sql.config import SqlBlockConfig, WritePolicy, default_table_name
from weir.blocks.sql.sqltext import SqlPosition, single_statement, sql_failure
from weir.blocks.sql.tables import SqlTableRef
from weir.connections import IoProfile, load_io_config
from weir.errors import BlockExecutionError, ConfigError

__all__ = ["BlockContext", "SqlProvider", "TableTarget"]


@dataclass(frozen=True, slots=True)
class BlockContext:
    """What a provider needs from the block run.

    Attributes:
        request: the block run as the engine handed it over.
        config: the block's parsed SQL configuration.
    """

    request: BlockRequest
    config: SqlBlockConfig

    @property
    def block_uuid(self) -> str:
        """The block's uuid."""
        return self.request.block_uuid

    @property
    def logger(self) -> logging.Logger:
        """The block run's logger."""
        return self.request.logger

    @property
    def project_root(self) -> Path:
        """The project's folder."""
        return self.request.project_root

    def load_profile(self) -> IoProfile:
        """Load the block's io_config profile.

        Raises:
            BlockExecutionError: the profile cannot be read; `__cause__` is the `ConfigError`.
        """
        try:
            return load_io_config(
                self.project_root, self.config.profile_name, variables=self.request.variables
            )
        except ConfigError as error:
            raise self.config_failure(error) from error

    def config_failure(self, error: ConfigError) -> BlockExecutionError:
        """Wrap a configuration problem as this block's failure."""
        return BlockExecutionError(self.block_uuid, f"{self.config.provider}: {error}")

    def result_table_name(self) -> str:
        """`data_provider_table`, or Mage's `<pipeline_uuid>_<block_uuid>`."""
        return self.config.table or default_table_name(self.request.pipeline_uuid, self.block_uuid)

    def upstream_table_name(self, upstream: UpstreamInput) -> str:
        """Table an upstream's rows are uploaded to: `<pipeline_uuid>_<upstream_uuid>` (Mage)."""
        return default_table_name(self.request.pipeline_uuid, upstream.block_uuid)


@dataclass(frozen=True, slots=True)
class TableTarget:
    """A table the block's result is written to.

    Attributes:
        schema: schema (PostgreSQL, DuckDB) or database (MySQL) name; None for the default.
        name: table name, unquoted.
        sql: the quoted, qualified name as SQL text.
    """

    schema: str | None
    name: str
    sql: str


class SqlProvider(ABC):
    """One database engine's way to run a SQL block.

    Subclasses set `name`, read their settings in `__init__` (without I/O), connect in
    `__enter__` and close in `__exit__`.
    """

    name: ClassVar[str]
    backslash_escapes: ClassVar[bool] = False

    def __init__(self, context: BlockContext) -> None:
        self.context = context

    @property
    @abstractmethod
    def database(self) -> str:
        """The database for messages, without secrets (`host:port/db`, a file path)."""

    @property
    @abstractmethod
    def identity(self) -> str:
        """A key equal for two blocks that see the same tables (for `SqlTableRef.database`)."""

    @property
    @abstractmethod
    def target(self) -> TableTarget | None:
        """The table the result is written to, or None to only query (embedded DuckDB)."""

    @abstractmethod
    def reference(self, upstream: UpstreamInput) -> str:
        """SQL text that `{{ df_n }}` renders to for this upstream. Pure: no I/O."""

    @abstractmethod
    def stage(self, upstream: Sequence[UpstreamInput]) -> None:
        """Make the references of these (used) upstreams readable: register, upload, ..."""

    @abstractmethod
    def query(self, sql: str) -> pa.Table:
        """Run one SELECT and return its rows."""

    @abstractmethod
    def materialize(self, sql: str, target: TableTarget, policy: WritePolicy) -> None:
        """Write the rows of one SELECT to `target` per `policy`, atomically where possible."""

    @abstractmethod
    def run_raw(self, sql: str) -> pa.Table | None:
        """Run SQL as written (any number of statements); the last one's rows, if any."""

    @abstractmethod
    def read_table(self, target: TableTarget) -> pa.Table:
        """Read every row of a table."""

    @abstractmethod
    def connect(self) -> None:
        """Open the connection."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection; safe to call twice."""

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def table_ref(self, target: TableTarget) -> SqlTableRef:
        """Provenance of a result written to `target` by this block."""
        return SqlTableRef(self.context.block_uuid, self.identity, target.sql)

    def one_statement(self, sql: str) -> str:
        """The block's single statement without its trailing `;`.

        Raises:
            BlockExecutionError: the SQL holds several statements (or none).
        """
        statement = single_statement(sql, backslash_escapes=self.backslash_escapes)
        if statement is None:
            raise BlockExecutionError(
                self.context.block_uuid,
                f"{self.name}: the SQL must be exactly one SELECT, whose rows become the block's "
                "table and output; to run several statements set `use_raw_sql: true` in the "
                "block's configuration",
            )
        return statement

    def failure(
        self, sql: str, error: BaseException, position: SqlPosition | None = None
    ) -> BlockExecutionError:
        """The error for SQL the database rejected (raise it `from error`)."""
        return sql_failure(
            self.context.block_uuid,
            provider=self.name,
            database=self.database,
            sql=sql,
            error=error,
            position=position,
        )

    def step_failure(self, step: str, error: BaseException) -> BlockExecutionError:
        """The error for a step that is not the block's own SQL (connect, upload, ...)."""
        return BlockExecutionError(
            self.context.block_uuid,
            f"{self.name} ({self.database}): {step} failed: {type(error).__name__}: "
            f"{str(error).strip()}",
        )

    def log(self, message: str, *args: Any) -> None:
        """Log to the block run's log at INFO, prefixed with the provider name."""
        self.context.logger.info(f"{self.name}: {message}", *args)
