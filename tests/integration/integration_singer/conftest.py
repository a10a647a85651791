"""Fixtures for the Singer connector tests: the real PostgreSQL, and real taps and targets.

The connectors are installed from PyPI on first use (see `connectors.py`); when that is not
possible the tests are skipped with pip's reason, and fail instead under CI=true.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from .connectors import TAP_POSTGRES, TARGET_POSTGRES, Connector, InstallError, ensure

SOURCE_SCHEMA = "app"


def _installed(connector: Connector) -> Path:
    try:
        return ensure(connector)
    except InstallError as exc:
        reason = f"{connector.package}=={connector.version} cannot be installed: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def tap_postgres() -> Path:
    """The `tap-postgres` executable of pipelinewise-tap-postgres, in its own venv."""
    return _installed(TAP_POSTGRES)


@pytest.fixture(scope="session")
def target_postgres() -> Path:
    """The `target-postgres` executable of pipelinewise-target-postgres, in its own venv."""
    return _installed(TARGET_POSTGRES)


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


@pytest.fixture
def pg_settings(postgres_database: str) -> dict[str, object]:
    """Connection settings as the pipelinewise connectors read them (the password is unused:
    the test server trusts loopback, but both connectors require the key)."""
    return {
        "host": "127.0.0.1",
        "port": 5432,
        "user": "postgres",
        "password": "unused",
        "dbname": postgres_database,
    }
