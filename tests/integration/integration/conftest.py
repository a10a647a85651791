"""Fixtures for the integration engine's tests against the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

SOURCE_SCHEMA = "app"
DEST_SCHEMA = "raw"


@pytest.fixture
def pg(postgres_database: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a fresh database with an empty source schema `app`."""
    conninfo = f"postgresql://postgres@127.0.0.1:5432/{postgres_database}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {SOURCE_SCHEMA}")
        yield conn


@pytest.fixture
def conninfo(pg: psycopg.Connection, postgres_database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{postgres_database}"
