from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from weir.connections import (
    DuckDBSettings,
    IoProfile,
    MySQLSettings,
    PostgresSettings,
    duckdb_settings,
    mysql_settings,
    postgres_settings,
)
from weir.errors import ConfigError

SOURCE = Path("/project/io_config.yaml")


def profile(settings: dict[str, Any], unresolved: dict[str, str] | None = None) -> IoProfile:
    return IoProfile(
        name="default",
        settings=MappingProxyType(settings),
        source_file=SOURCE,
        unresolved=MappingProxyType(unresolved or {}),
    )


PG = {
    "POSTGRES_DBNAME": "sales",
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5433",
    "POSTGRES_USER": "etl",
    "POSTGRES_PASSWORD": "p w'd",
    "POSTGRES_SCHEMA": "raw",
    "POSTGRES_CONNECT_TIMEOUT": 3,
}


def test_postgres_settings_are_typed() -> None:
    assert postgres_settings(profile(PG)) == PostgresSettings(
        dbname="sales",
        host="127.0.0.1",
        port=5433,
        user="etl",
        password="p w'd",
        schema="raw",
        connect_timeout_seconds=3,
    )


def test_postgres_defaults() -> None:
    settings = postgres_settings(
        profile({"POSTGRES_DBNAME": "d", "POSTGRES_HOST": "h", "POSTGRES_USER": "u"})
    )
    assert (settings.port, settings.password, settings.schema) == (5432, "", "public")
    assert settings.connect_timeout_seconds == 10


def test_conninfo_escapes_values_and_repr_hides_the_password() -> None:
    from psycopg.conninfo import conninfo_to_dict

    settings = postgres_settings(profile(PG))
    parsed = conninfo_to_dict(settings.conninfo())
    assert parsed == {
        "dbname": "sales",
        "host": "127.0.0.1",
        "port": "5433",
        "user": "etl",
        "password": "p w'd",
        "connect_timeout": "3",
    }
    assert "p w'd" not in repr(settings)
    assert settings.describe() == "127.0.0.1:5433/sales"


@pytest.mark.parametrize("key", ["POSTGRES_DBNAME", "POSTGRES_HOST", "POSTGRES_USER"])
def test_missing_required_key_names_key_profile_and_file(key: str) -> None:
    settings = {k: v for k, v in PG.items() if k != key}
    with pytest.raises(ConfigError) as caught:
        postgres_settings(profile(settings))
    assert f"{key} is missing from profile 'default' in {SOURCE}" in str(caught.value)


def test_unresolved_password_is_an_error_not_an_empty_password() -> None:
    with pytest.raises(ConfigError, match=r"POSTGRES_PASSWORD .* 'PGPW' is not set"):
        postgres_settings(
            profile(
                {k: v for k, v in PG.items() if k != "POSTGRES_PASSWORD"},
                {"POSTGRES_PASSWORD": "environment variable 'PGPW' is not set"},
            )
        )


def test_port_must_be_a_number() -> None:
    with pytest.raises(ConfigError, match=r"POSTGRES_PORT in profile 'default' .* whole number"):
        postgres_settings(profile({**PG, "POSTGRES_PORT": "fifty"}))


def test_ssh_tunnel_is_refused() -> None:
    with pytest.raises(ConfigError, match="POSTGRES_CONNECTION_METHOD: 'ssh_tunnel'"):
        postgres_settings(profile({**PG, "POSTGRES_CONNECTION_METHOD": "ssh_tunnel"}))


def test_mysql_settings_and_connect_kwargs() -> None:
    settings = mysql_settings(
        profile(
            {
                "MYSQL_DATABASE": "shop",
                "MYSQL_HOST": "h",
                "MYSQL_USER": "root",
                "MYSQL_PASSWORD": None,
            }
        )
    )
    assert settings == MySQLSettings(database="shop", host="h", port=3306, user="root")
    kwargs = settings.connect_kwargs()
    assert (kwargs["database"], kwargs["port"], kwargs["password"]) == ("shop", 3306, "")
    assert kwargs["autocommit"] is False


def test_mysql_missing_database_is_named() -> None:
    with pytest.raises(ConfigError, match="MYSQL_DATABASE is missing"):
        mysql_settings(profile({"MYSQL_HOST": "h", "MYSQL_USER": "u"}))


def test_duckdb_relative_path_is_taken_from_the_project_root(tmp_path: Path) -> None:
    settings = duckdb_settings(profile({"DUCKDB_DATABASE": "data/w.duckdb"}), tmp_path)
    assert settings == DuckDBSettings(
        database=str((tmp_path / "data" / "w.duckdb").resolve()), schema="main"
    )


def test_duckdb_memory_and_schema(tmp_path: Path) -> None:
    settings = duckdb_settings(
        profile({"DUCKDB_DATABASE": ":memory:", "DUCKDB_SCHEMA": "marts"}), tmp_path
    )
    assert settings == DuckDBSettings(database=":memory:", schema="marts")


def test_duckdb_requires_a_database_and_refuses_motherduck(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DUCKDB_DATABASE is missing"):
        duckdb_settings(profile({}), tmp_path)
    with pytest.raises(ConfigError, match="MotherDuck is not supported"):
        duckdb_settings(profile({"DUCKDB_DATABASE": "w", "MOTHERDUCK_TOKEN": "t"}), tmp_path)
