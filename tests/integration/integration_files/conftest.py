"""Fixtures for syncing the SQLite, DuckDB and file sources into the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.unit.integration_files.conftest import chinook, titanic

__all__ = ["chinook", "conninfo", "pg", "pg_rows", "titanic"]

DEST_SCHEMA = "raw"


@pytest.fixture
def conninfo(postgres_database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{postgres_database}"


@pytest.fixture
def pg(conninfo: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's fresh database (session time zone UTC)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        yield conn


def pg_rows(pg: psycopg.Connection, table: str, schema: str = DEST_SCHEMA) -> list[dict[str, Any]]:
    cur = pg.execute(f'SELECT * FROM {schema}."{table}"')
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
