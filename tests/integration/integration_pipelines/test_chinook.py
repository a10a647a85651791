"""The proof: Chinook synced by an integration pipeline, `weir run` as a user would run it.

PostgreSQL -> DuckDB and MariaDB -> PostgreSQL, all 11 tables: after the first sync every table
has the source's row count and checksum (see `chinook.py` for the checksum); then 1,000 rows
are inserted and 100 updated in the source, an incremental sync moves exactly those 1,100 rows
(plus the two small FULL_TABLE streams, reloaded whole), and both sides are equal again.

The pipelines are written in Mage's format and driven through the command line:
`weir integration discover --select`, the catalog edited as a user would (INCREMENTAL on the
change-tracking column for nine tables, FULL_TABLE for `genre` and `media_type`), `weir run`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.integration.integration_pipelines import chinook
from tests.unit.integration_pipelines.builder import edit_stream, write_integration_project
from weir.cli.app import app
from weir.engine.runner import run_pipeline
from weir.project import load_project
from weir.runs.database import default_database_url
from weir.runs.status import RunStatus
from weir.runs.store import RunStore

pytestmark = pytest.mark.timeout(300)
FULL_TABLE = ("genre", "media_type")
PIPELINE = "chinook_sync"
PG_SOURCE = """
source: postgresql
config:
  host: 127.0.0.1
  port: 5432
  database: "{{ env_var('CHINOOK_DB') }}"
  username: postgres
  password: ""
  schema: public
  batch_fetch_limit: 1000
"""


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _configure_catalog(root: Path, names: Callable[[str], str]) -> None:
    for table in chinook.TABLES:
        if table in FULL_TABLE:
            edit_stream(root, PIPELINE, names(table), replication_method="FULL_TABLE")
        else:
            edit_stream(
                root,
                PIPELINE,
                names(table),
                replication_method="INCREMENTAL",
                replication_key=names(chinook.TRACKING),
                unique_conflict_method="UPDATE",
            )


def _first_sync(root: Path) -> dict[str, Any]:
    output = _cli("run", str(root), PIPELINE, "--no-live")
    assert "completed" in output
    project = load_project(root)
    with RunStore(default_database_url(project.data_dir)) as runs:
        (record,) = runs.list_pipeline_runs(pipeline_uuid=PIPELINE)
    assert record.status is RunStatus.COMPLETED, record.error
    return dict(record.metrics)


def _assert_equal(source: chinook.Side, target: chinook.Side, names, rows: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    expected = source.checksums(chinook.TABLES, names)
    copied = target.checksums(chinook.TABLES, names)
    assert {t: c[0] for t, c in expected.items()} == rows
    assert copied == expected


def _run_proof(
    root: Path,
    source: chinook.Side,
    target: chinook.Side,
    names: Callable[[str], str],
    change: Callable[[], None],
) -> None:
    _cli("integration", "discover", str(root), PIPELINE, "--select")
    _configure_catalog(root, names)
    listing = _cli("integration", "streams", str(root), PIPELINE)
    assert "INCREMENTAL" in listing
    assert "FULL_TABLE" in listing

    metrics = _first_sync(root)
    assert metrics["rows"] == sum(chinook.ROWS.values()) == 15_607
    for table, count in chinook.ROWS.items():
        assert metrics["streams"][names(table)]["rows"] == count
    _assert_equal(source, target, names, chinook.ROWS)

    change()
    record = run_pipeline(root, PIPELINE)
    assert record.status is RunStatus.COMPLETED, record.error
    streams = record.metrics["streams"]
    incremental = sum(
        s["rows"] for n, s in streams.items() if s["replication_method"] == "INCREMENTAL"
    )
    assert incremental == chinook.CHANGED_ROWS
    full = sum(chinook.ROWS[t] for t in FULL_TABLE)
    assert record.metrics["rows"] == chinook.CHANGED_ROWS + full
    bookmark = streams[names("track")]["bookmark"]
    assert bookmark["replication_key"] == names(chinook.TRACKING)
    after = dict(chinook.ROWS)
    for table, _columns, rows in chinook.inserts():
        after[table] += len(rows)
    _assert_equal(source, target, names, after)


def test_chinook_postgres_to_duckdb(tmp_path: Path, postgres_database: str) -> None:
    conninfo = f"postgresql://postgres@127.0.0.1:5432/{postgres_database}"
    chinook.load_postgres(conninfo)
    chinook.add_change_tracking_postgres(conninfo)
    root = write_integration_project(
        tmp_path / "proj",
        PIPELINE,
        source=("", PG_SOURCE),
        destination=("duckdb", {"database": "warehouse.duckdb", "schema": "chinook"}),
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CHINOOK_DB", postgres_database)
        _run_proof(
            root,
            chinook.postgres_side(conninfo, "public"),
            chinook.duckdb_side(root / "warehouse.duckdb", "chinook"),
            lambda name: name,
            lambda: chinook.change_postgres(conninfo),
        )


def test_chinook_mariadb_to_postgres(
    tmp_path: Path, mysql_database: str, postgres_database: str
) -> None:
    conninfo = f"postgresql://postgres@127.0.0.1:5432/{postgres_database}"
    chinook.load_mysql(mysql_database)
    chinook.add_change_tracking_mysql(mysql_database)
    root = write_integration_project(
        tmp_path / "proj",
        PIPELINE,
        source=(
            "mysql",
            {
                "host": "127.0.0.1",
                "port": 3306,
                "database": mysql_database,
                "username": "root",
                "password": "",
                "connection_method": "direct",
                "batch_fetch_limit": 1000,
            },
        ),
        destination=(
            "postgresql",
            {
                "host": "127.0.0.1",
                "port": 5432,
                "database": postgres_database,
                "username": "postgres",
                "password": "",
                "schema": "chinook",
            },
        ),
    )
    _run_proof(
        root,
        chinook.mysql_side(mysql_database),
        chinook.postgres_side(conninfo, "chinook"),
        chinook.pascal,
        lambda: chinook.change_mysql(mysql_database),
    )
