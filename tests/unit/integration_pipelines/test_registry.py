"""The connector registry: Mage's names and keys -> Weir connectors."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from weir.integration import ConnectorConfigError, DuckDBDestination, PostgresSource
from weir.integration.registry import (
    ConnectorContext,
    create_destination,
    create_source,
    destination_names,
    source_names,
)

PG = {
    "host": "db.example",
    "port": "6543",
    "database": "sales",
    "username": "etl",
    "password": "it's a \\ secret",
    "schema": "app",
}


@pytest.fixture
def context(tmp_path: Path) -> ConnectorContext:
    return ConnectorContext(project_root=tmp_path, work_dir=tmp_path / ".weir" / "p")


def test_names_are_mages_and_weirs() -> None:
    assert {"postgresql", "mysql", "sqlite", "duckdb", "file", "singer"} <= set(source_names())
    assert {"postgresql", "mysql", "duckdb", "parquet", "singer"} <= set(destination_names())


def test_postgresql_source_takes_mages_keys(context: ConnectorContext) -> None:
    source, read = create_source("postgresql", PG, context)
    assert isinstance(source, PostgresSource)
    assert source.schema == "app"
    params = conninfo_to_dict(source._conninfo)  # the exact libpq parameters, quoting included
    assert params == {
        "host": "db.example",
        "port": "6543",
        "dbname": "sales",
        "user": "etl",
        "password": "it's a \\ secret",
    }
    assert read.unused() == []


def test_unused_keys_and_notes_are_reported(context: ConnectorContext) -> None:
    config = {**PG, "sheme": "typo", "lower_case": True, "table": "ignored", "ssh_host": ""}
    _destination, read = create_destination("postgresql", config, context)
    assert read.unused() == ["sheme"]
    assert any("lower_case is not applied" in note for note in read.notes)


def test_a_missing_required_key_is_named(context: ConnectorContext) -> None:
    config = {k: v for k, v in PG.items() if k != "database"}
    with pytest.raises(ConnectorConfigError, match=r"source 'postgresql': config key 'database'"):
        create_source("postgresql", config, context)


def test_a_bad_port_is_named(context: ConnectorContext) -> None:
    with pytest.raises(ConnectorConfigError, match="'port' must be a whole number"):
        create_source("postgresql", {**PG, "port": "fifty"}, context)


def test_an_ssh_tunnel_is_refused_with_a_way_out(context: ConnectorContext) -> None:
    with pytest.raises(ConnectorConfigError, match="open the SSH tunnel yourself"):
        create_source("mysql", {**PG, "connection_method": "ssh_tunnel"}, context)


def test_unknown_names_list_the_known_ones(context: ConnectorContext) -> None:
    with pytest.raises(ConnectorConfigError, match=r"unknown source 'oracle'.*postgresql"):
        create_source("oracle", {}, context)
    with pytest.raises(ConnectorConfigError, match=r"unknown destination 'x'.*duckdb"):
        create_destination("x", {}, context)


def test_file_paths_are_relative_to_the_project(context: ConnectorContext) -> None:
    destination, _read = create_destination(
        "duckdb", {"database": "warehouse/w.duckdb", "schema": "raw"}, context
    )
    assert isinstance(destination, DuckDBDestination)
    assert destination.path == context.project_root / "warehouse" / "w.duckdb"
    assert destination.schema == "raw"


def test_a_connector_that_cannot_be_imported_fails_when_used(
    context: ConnectorContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.import_module

    def refuse(name: str, package: str | None = None):  # type: ignore[no-untyped-def]
        if name == "weir.integration.destinations.parquet":
            raise ModuleNotFoundError("No module named 'weir.integration.destinations.parquet'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", refuse)
    with pytest.raises(ConnectorConfigError, match=r"destinations\.parquet\.ParquetDestination"):
        create_destination("parquet", {"root": "out"}, context)


def test_singer_needs_a_command(context: ConnectorContext) -> None:
    with pytest.raises(ConnectorConfigError, match="'command' must be a command"):
        create_source("singer", {"config": {"a": 1}}, context)


def test_parquet_partitions_per_stream(context: ConnectorContext) -> None:
    destination, read = create_destination(
        "parquet", {"root": "lake", "partition_by": {"orders": "day"}}, context
    )
    assert destination.root == context.project_root / "lake"  # type: ignore[attr-defined]
    assert destination.partition_by == {"orders": ("day",)}  # type: ignore[attr-defined]
    assert read.unused() == []
    with pytest.raises(ConnectorConfigError, match="'partition_by' must be a mapping"):
        create_destination("parquet", {"root": "lake", "partition_by": "day"}, context)


def test_mysql_takes_mages_keys(context: ConnectorContext) -> None:
    source, read = create_source(
        "mysql",
        {
            "host": "db",
            "port": 3307,
            "database": "shop",
            "username": "u",
            "password": "p",
            "connection_method": "direct",
            "ssh_host": None,
        },
        context,
    )
    assert "db:3307/shop" in repr(source)
    assert read.unused() == []


def test_a_connector_refusing_its_arguments_is_a_config_error(context: ConnectorContext) -> None:
    with pytest.raises(ConnectorConfigError, match="source 'file': file_format must be"):
        create_source("file", {"streams": {"a": "a.csv"}, "file_format": "xlsx"}, context)


def test_singer_tap_gets_its_command_config_and_a_work_folder(context: ConnectorContext) -> None:
    source, read = create_source(
        "singer", {"command": "tap-x --verbose", "config": {"token": "t"}}, context
    )
    assert source.command == ("tap-x", "--verbose")  # type: ignore[attr-defined]
    assert source.work_dir == context.work_dir / "singer_tap"  # type: ignore[attr-defined]
    assert read.unused() == []
