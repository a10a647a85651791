"""Fixtures for the MySQL/MariaDB connectors' tests: fresh databases on the real servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pymysql
import pytest

from tests.services import MYSQL_HOST, MYSQL_PORT, require_service, unique_name

PG_SOURCE_SCHEMA = "app"
PG_DEST_SCHEMA = "raw"


def mysql_connect(database: str | None) -> Any:
    return pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user="root",
        password="",
        database=database,
        charset="utf8mb4",
        autocommit=True,
        init_command="SET time_zone = '+00:00'",
    )


def connector_kwargs(database: str) -> dict[str, Any]:
    return {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": "root", "database": database}


@pytest.fixture
def my(mysql_database: str) -> Iterator[Any]:
    """An autocommit pymysql connection to a fresh database (session time zone UTC)."""
    conn = mysql_connect(mysql_database)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def mysql_kwargs(mysql_database: str) -> dict[str, Any]:
    """Keyword arguments of `MySQLSource` / `MySQLDestination` for the fresh database."""
    return connector_kwargs(mysql_database)


@pytest.fixture
def second_mysql_database() -> Iterator[str]:
    """The name of a second fresh database (for MySQL -> MySQL syncs); dropped afterwards."""
    require_service("MariaDB", MYSQL_HOST, MYSQL_PORT)
    name = unique_name("weir_test")
    conn = mysql_connect(None)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def conninfo(postgres_database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{postgres_database}"


@pytest.fixture
def pg(conninfo: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a fresh PostgreSQL database with an empty schema `app`."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {PG_SOURCE_SCHEMA}")
        conn.execute("SET TIME ZONE 'UTC'")
        yield conn


def query(conn: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def execute(conn: Any, *statements: str) -> None:
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
