"""SQL providers: one strategy object per database engine, all on `SqlProvider`'s interface."""

from __future__ import annotations

from weir.blocks.sql.providers.base import BlockContext, SqlProvider, TableTarget
from weir.blocks.sql.providers.duckdb import DuckDBProvider
from weir.blocks.sql.providers.mysql import MySQLProvider
from weir.blocks.sql.providers.postgres import PostgresProvider

__all__ = [
    "PROVIDERS",
    "BlockContext",
    "DuckDBProvider",
    "MySQLProvider",
    "PostgresProvider",
    "SqlProvider",
    "TableTarget",
]

PROVIDERS: dict[str, type[SqlProvider]] = {
    DuckDBProvider.name: DuckDBProvider,
    PostgresProvider.name: PostgresProvider,
    MySQLProvider.name: MySQLProvider,
}
"""`data_provider` value -> provider class."""
