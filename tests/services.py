"""Real services for integration tests: reach them, or skip (fail under CI=true).

Each fixture creates a database of its own with a random name and drops it afterwards, so tests
never see each other's data. Only loopback addresses are ever used.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip the test if the service is down; under CI a down service fails the test instead."""
    if _reachable(host, port):
        return
    reason = f"{name} is not reachable on {host}:{port} (see ../shared/SERVICES.md to start it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database; yields its name. Dropped (WITH FORCE) after the test."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    name = unique_name("weir_test")
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """SQLAlchemy URL (psycopg 3 driver) of a fresh PostgreSQL database."""
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{postgres_database}"


@pytest.fixture
def mysql_database() -> Iterator[str]:
    """A fresh MariaDB/MySQL database; yields its name. Dropped after the test."""
    require_service("MariaDB", MYSQL_HOST, MYSQL_PORT)
    import pymysql

    name = unique_name("weir_test")
    conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()
