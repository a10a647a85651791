"""Typed connection settings per database, read from an `io_config.yaml` profile.

The keys are Mage's (`POSTGRES_DBNAME`, `MYSQL_HOST`, `DUCKDB_DATABASE`, ...), so a Mage project's
profiles work unchanged. Each reader checks what it needs and raises `ConfigError` naming the key,
the profile and the file. Passwords never appear in `repr` or in error messages.

Not supported (a `ConfigError` says so): SSH tunnels (`*_CONNECTION_METHOD: ssh_tunnel`) and
MotherDuck tokens. Mage's older "verbose" profile format (`PostgreSQL: {host: ...}`) is not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weir.connections.io_config import IoProfile
from weir.errors import ConfigError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_SECONDS",
    "DuckDBSettings",
    "MySQLSettings",
    "PostgresSettings",
    "duckdb_settings",
    "mysql_settings",
    "postgres_settings",
]

DEFAULT_CONNECT_TIMEOUT_SECONDS = 10
"""Weir's choice when a profile sets no timeout; Mage leaves it to the driver (no limit)."""


@dataclass(frozen=True, slots=True)
class PostgresSettings:
    """How to reach one PostgreSQL database.

    Attributes:
        dbname: database name (`POSTGRES_DBNAME`, required).
        host: server host (`POSTGRES_HOST`, required).
        port: server port (`POSTGRES_PORT`, default 5432).
        user: role to log in as (`POSTGRES_USER`, required).
        password: its password (`POSTGRES_PASSWORD`, default empty: trust or .pgpass).
        schema: default schema for tables Weir creates (`POSTGRES_SCHEMA`, default `public`).
        connect_timeout_seconds: give up connecting after this many seconds
            (`POSTGRES_CONNECT_TIMEOUT`, default 10).
    """

    dbname: str
    host: str
    port: int = 5432
    user: str = "postgres"
    password: str = field(default="", repr=False)
    schema: str = "public"
    connect_timeout_seconds: int = DEFAULT_CONNECT_TIMEOUT_SECONDS

    def conninfo(self) -> str:
        """Return a libpq connection string for `psycopg.connect`, with values escaped."""
        from psycopg.conninfo import make_conninfo

        params: dict[str, Any] = {
            "dbname": self.dbname,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "connect_timeout": self.connect_timeout_seconds,
        }
        if self.password:
            params["password"] = self.password
        return make_conninfo("", **params)

    def describe(self) -> str:
        """Name the database for messages, without secrets: `host:port/dbname`."""
        return f"{self.host}:{self.port}/{self.dbname}"


@dataclass(frozen=True, slots=True)
class MySQLSettings:
    """How to reach one MySQL/MariaDB database.

    Attributes:
        database: database name (`MYSQL_DATABASE`, required).
        host: server host (`MYSQL_HOST`, required).
        port: server port (`MYSQL_PORT`, default 3306).
        user: user to log in as (`MYSQL_USER`, required).
        password: its password (`MYSQL_PASSWORD`, default empty).
        connect_timeout_seconds: give up connecting after this many seconds
            (`MYSQL_CONNECT_TIMEOUT`, a Weir key; default 10).
    """

    database: str
    host: str
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)
    connect_timeout_seconds: int = DEFAULT_CONNECT_TIMEOUT_SECONDS

    def connect_kwargs(self) -> dict[str, Any]:
        """Return keyword arguments for `pymysql.connect` (utf8mb4, no autocommit)."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "connect_timeout": self.connect_timeout_seconds,
            "charset": "utf8mb4",
            "autocommit": False,
        }

    def describe(self) -> str:
        """Name the database for messages, without secrets: `host:port/database`."""
        return f"{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True, slots=True)
class DuckDBSettings:
    """One DuckDB database file.

    Attributes:
        database: absolute path of the file (`DUCKDB_DATABASE`, required; a relative path is taken
            from the project root, as Mage runs with the project root as working directory), or
            `:memory:`.
        schema: default schema for tables Weir creates (`DUCKDB_SCHEMA`, default `main`).
    """

    database: str
    schema: str = "main"

    def describe(self) -> str:
        """Name the database for messages: its path or `:memory:`."""
        return self.database


def postgres_settings(profile: IoProfile) -> PostgresSettings:
    """Read PostgreSQL settings from a profile.

    Args:
        profile: an `io_config.yaml` profile (see `load_io_config`).

    Returns:
        The typed settings.

    Raises:
        ConfigError: a required key is missing or unresolved, a number is not a number, or an
            unsupported connection method is asked for; names the key, profile and file.
    """
    _refuse_ssh(profile, "POSTGRES_CONNECTION_METHOD")
    return PostgresSettings(
        dbname=_text(profile, "POSTGRES_DBNAME"),
        host=_text(profile, "POSTGRES_HOST"),
        port=_integer(profile, "POSTGRES_PORT", 5432),
        user=_text(profile, "POSTGRES_USER"),
        password=_text(profile, "POSTGRES_PASSWORD", ""),
        schema=_text(profile, "POSTGRES_SCHEMA", "public"),
        connect_timeout_seconds=_integer(
            profile, "POSTGRES_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT_SECONDS
        ),
    )


def mysql_settings(profile: IoProfile) -> MySQLSettings:
    """Read MySQL/MariaDB settings from a profile.

    Args:
        profile: an `io_config.yaml` profile (see `load_io_config`).

    Returns:
        The typed settings.

    Raises:
        ConfigError: a required key is missing or unresolved, a number is not a number, or an
            unsupported connection method is asked for; names the key, profile and file.
    """
    _refuse_ssh(profile, "MYSQL_CONNECTION_METHOD")
    return MySQLSettings(
        database=_text(profile, "MYSQL_DATABASE"),
        host=_text(profile, "MYSQL_HOST"),
        port=_integer(profile, "MYSQL_PORT", 3306),
        user=_text(profile, "MYSQL_USER"),
        password=_text(profile, "MYSQL_PASSWORD", ""),
        connect_timeout_seconds=_integer(
            profile, "MYSQL_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT_SECONDS
        ),
    )


def duckdb_settings(profile: IoProfile, project_root: Path) -> DuckDBSettings:
    """Read DuckDB settings from a profile.

    Args:
        profile: an `io_config.yaml` profile (see `load_io_config`).
        project_root: the project's folder; a relative `DUCKDB_DATABASE` is taken from here.

    Returns:
        The typed settings, with an absolute database path (or `:memory:`).

    Raises:
        ConfigError: `DUCKDB_DATABASE` is missing or unresolved, or `MOTHERDUCK_TOKEN` is set
            (MotherDuck is not supported); names the key, profile and file.
    """
    if profile.get("MOTHERDUCK_TOKEN"):
        raise ConfigError(f"MOTHERDUCK_TOKEN in {profile.where()}: MotherDuck is not supported.")
    database = _text(profile, "DUCKDB_DATABASE")
    if database != ":memory:":
        database = str((Path(project_root) / database).resolve())
    return DuckDBSettings(database=database, schema=_text(profile, "DUCKDB_SCHEMA", "main"))


def _text(profile: IoProfile, key: str, default: str | None = None) -> str:
    value = profile.require(key) if default is None else profile.get(key)
    if value is None or value == "":
        return default if default is not None else ""
    if isinstance(value, (dict, list)):
        raise ConfigError(f"{key} in {profile.where()} must be a single value, not {value!r}.")
    return str(value)


def _integer(profile: IoProfile, key: str, default: int) -> int:
    value = profile.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ConfigError(f"{key} in {profile.where()} must be a whole number, not {value!r}.")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(
            f"{key} in {profile.where()} must be a whole number, not {value!r}."
        ) from None


def _refuse_ssh(profile: IoProfile, key: str) -> None:
    method = profile.get(key)
    if method not in (None, "", "direct"):
        raise ConfigError(
            f"{key}: {method!r} in {profile.where()} is not supported; Weir connects directly "
            "(open an SSH tunnel yourself and point the host/port at it)."
        )
