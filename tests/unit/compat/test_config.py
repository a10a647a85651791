from __future__ import annotations

from pathlib import Path

import pytest

from weir.compat.mage.io.config import (
    ConfigFileLoader,
    ConfigKey,
    EnvironmentVariableLoader,
    profile_of,
)
from weir.compat.mage.io.duckdb import DuckDB
from weir.compat.mage.io.io_config import IOConfig
from weir.compat.mage.io.mysql import MySQL
from weir.compat.mage.io.postgres import Postgres
from weir.errors import ConfigError

IO_CONFIG = """\
version: 0.1.1
default:
  POSTGRES_DBNAME: warehouse
  POSTGRES_HOST: db.internal
  POSTGRES_PORT: 5433
  POSTGRES_USER: etl
  POSTGRES_PASSWORD: "{{ env_var('WEIR_TEST_PG_PASSWORD') }}"
  POSTGRES_SCHEMA: analytics
  MYSQL_DATABASE: shop
  MYSQL_HOST: mysql.internal
  MYSQL_USER: reader
  DUCKDB_DATABASE: data/local.duckdb
other:
  POSTGRES_DBNAME: other_db
"""


def test_reads_a_profile_by_config_key(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIR_TEST_PG_PASSWORD", "s3cret")
    (project / "io_config.yaml").write_text(IO_CONFIG)
    loader = ConfigFileLoader(str(project / "io_config.yaml"), "default")
    assert loader[ConfigKey.POSTGRES_DBNAME] == "warehouse"
    assert loader["POSTGRES_PORT"] == 5433
    assert loader.get(ConfigKey.POSTGRES_PASSWORD) == "s3cret"
    assert ConfigKey.POSTGRES_HOST in loader
    assert "REDSHIFT_HOST" not in loader
    assert loader.get("REDSHIFT_HOST") is None
    assert ConfigFileLoader(profile="other")["POSTGRES_DBNAME"] == "other_db"


def test_unresolved_setting_fails_only_when_read(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEIR_TEST_PG_PASSWORD", raising=False)
    (project / "io_config.yaml").write_text(IO_CONFIG)
    loader = ConfigFileLoader(None, "default")
    assert loader["POSTGRES_HOST"] == "db.internal"
    assert "POSTGRES_PASSWORD" in loader
    with pytest.raises(ConfigError, match="WEIR_TEST_PG_PASSWORD"):
        loader["POSTGRES_PASSWORD"]
    with pytest.raises(ConfigError, match="POSTGRES_PASSWORD"):
        Postgres.with_config(loader)


def test_unknown_profile_lists_the_known_ones(project: Path) -> None:
    (project / "io_config.yaml").write_text(IO_CONFIG)
    with pytest.raises(ConfigError, match=r"no profile 'prod' \(profiles: default, other\)"):
        ConfigFileLoader(None, "prod")


def test_a_file_with_another_name_and_a_relative_path(project: Path) -> None:
    (project / "conf").mkdir()
    (project / "conf" / "connections.yml").write_text("dev:\n  POSTGRES_DBNAME: x\n  bad: [\n")
    with pytest.raises(ConfigError) as caught:
        ConfigFileLoader("conf/connections.yml", "dev")
    assert str(project / "conf" / "connections.yml") in str(caught.value)
    (project / "conf" / "connections.yml").write_text("dev:\n  POSTGRES_DBNAME: x\n")
    assert ConfigFileLoader("conf/connections.yml", "dev")["POSTGRES_DBNAME"] == "x"


def test_old_io_config_form_and_plain_mappings(project: Path) -> None:
    (project / "io_config.yaml").write_text(IO_CONFIG)
    settings = IOConfig(project / "io_config.yaml").use("other")
    assert settings["POSTGRES_DBNAME"] == "other_db"
    inline = ConfigFileLoader(config={"MYSQL_DATABASE": "m", "MYSQL_HOST": "h", "MYSQL_USER": "u"})
    assert MySQL.with_config(inline).describe() == "h:3306/m"
    assert profile_of({ConfigKey.POSTGRES_HOST: "h"}).settings == {"POSTGRES_HOST": "h"}
    with pytest.raises(TypeError, match="ConfigFileLoader or a mapping"):
        profile_of(42)  # type: ignore[arg-type]


def test_environment_variable_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "POSTGRES_DBNAME": "envdb",
        "POSTGRES_HOST": "h",
        "POSTGRES_USER": "u",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("POSTGRES_SCHEMA", raising=False)
    loader = Postgres.with_config(EnvironmentVariableLoader())
    assert loader.describe() == "h:5432/envdb"
    assert loader.default_schema() == "public"


def test_connectors_read_their_settings_without_connecting(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIR_TEST_PG_PASSWORD", "s3cret")
    (project / "io_config.yaml").write_text(IO_CONFIG)
    config = ConfigFileLoader(None, "default")
    postgres = Postgres.with_config(config)
    assert postgres.describe() == "db.internal:5433/warehouse"
    assert postgres.settings.password == "s3cret"
    assert "s3cret" not in repr(postgres.settings)
    assert postgres.default_schema() == "analytics"
    assert MySQL.with_config(config).default_schema() == "shop"
    duckdb = DuckDB.with_config(config)
    assert duckdb.database == str(project / "data" / "local.duckdb")
    assert duckdb.default_schema() == "main"


def test_postgres_names_fold_like_unquoted_sql() -> None:
    from weir.compat.mage.io.sql import TableName

    loader = Postgres("db", "u", None, "h")
    assert loader.quote(TableName("Analytics", "MyTable")) == '"analytics"."mytable"'
    assert loader.quote(TableName(None, '"MyTable"')) == '"public"."MyTable"'
    assert loader.quote(TableName("s", "my table")) == '"s"."my table"'


def test_ssh_tunnels_are_refused() -> None:
    with pytest.raises(ConfigError, match="ssh_tunnel"):
        Postgres("db", "u", None, "h", connection_method="ssh_tunnel")
    with pytest.raises(ConfigError, match="ssh_tunnel"):
        MySQL("db", "h", None, "u", connection_method="ssh_tunnel")
    with pytest.raises(ConfigError, match="port"):
        Postgres("db", "u", None, "h", port="fivefour")
