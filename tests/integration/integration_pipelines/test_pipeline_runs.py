"""Integration pipelines with transformers, through `weir run`, on the real PostgreSQL and DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
from typer.testing import CliRunner

from tests.integration.integration_pipelines import chinook
from tests.unit.integration_pipelines.builder import (
    Transformer,
    edit_stream,
    write_integration_project,
)
from weir.cli.app import app
from weir.engine.runner import run_pipeline
from weir.integration.pipeline_run import discover_catalog
from weir.runs.status import TERMINAL_STATUSES, RunStatus

PANDAS = """
@transformer
def net_of_tax(df, *args, stream, **kwargs):
    if stream == "orders":
        df["amount"] = df["amount"] * 0.8
        df = df[df["status"] != "void"]
    return df
"""
POLARS = """
import polars as pl

@transformer
def shout(df, *args, **kwargs):
    if "status" in df.columns:
        df = df.with_columns(pl.col("status").str.to_uppercase())
    return df
"""


def _source(database: str, schema: str = "app") -> dict[str, object]:
    return {
        "host": "127.0.0.1",
        "port": 5432,
        "database": database,
        "username": "postgres",
        "password": "",
        "schema": schema,
        "batch_fetch_limit": 250,
    }


@pytest.fixture
def orders(postgres_database: str) -> str:
    conninfo = f"postgresql://postgres@127.0.0.1:5432/{postgres_database}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute(
            "CREATE TABLE app.orders (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, "
            "status text NOT NULL, placed_at timestamptz NOT NULL)"
        )
        conn.execute(
            "INSERT INTO app.orders SELECT g, g * 10, CASE WHEN g % 10 = 0 THEN 'void' "
            "ELSE 'paid' END, timestamptz '2024-01-01' + g * interval '1 minute' "
            "FROM generate_series(1, 1000) g"
        )
    return conninfo


def test_weir_run_with_a_pandas_transformer_into_duckdb(
    tmp_path: Path, orders: str, postgres_database: str
) -> None:
    root = write_integration_project(
        tmp_path / "proj",
        "p",
        source=("postgresql", _source(postgres_database)),
        destination=("duckdb", {"database": "w.duckdb"}),
        transformers=[Transformer("net_of_tax", PANDAS)],
    )
    discover_catalog(root, "p", select=True)
    edit_stream(root, "p", "orders", replication_method="INCREMENTAL", replication_key="id")

    result = CliRunner().invoke(app, ["run", str(root), "p", "--no-live"])

    assert result.exit_code == 0, result.output
    assert "orders" in result.output  # the per-stream summary
    with duckdb.connect(str(root / "w.duckdb"), read_only=True) as conn:
        rows = conn.execute("SELECT count(*), sum(amount) FROM main.orders").fetchone()
    # 100 void orders dropped; amounts scaled by 0.8 and still numeric(12,2).
    assert rows == (900, Decimal(8 * sum(g for g in range(1, 1001) if g % 10)))
    record = run_pipeline(root, "p")  # nothing new: incremental from the committed bookmark
    assert record.status is RunStatus.COMPLETED
    assert record.metrics["streams"]["orders"]["rows"] == 0


def test_a_polars_transformer_chained_after_pandas(
    tmp_path: Path, orders: str, postgres_database: str
) -> None:
    root = write_integration_project(
        tmp_path / "proj",
        "p",
        source=("postgresql", _source(postgres_database)),
        destination=("duckdb", {"database": "w.duckdb"}),
        transformers=[
            Transformer("net_of_tax", PANDAS),
            Transformer("shout", POLARS, {"batch_format": "polars"}),
        ],
    )
    discover_catalog(root, "p", select=True)
    # In-process: polars' thread pool deadlocks in a child forked from a process that already
    # used polars, which this test process may have done (a fresh `weir run` process has not).
    record = run_pipeline(root, "p", isolate=False)
    assert record.status is RunStatus.COMPLETED, record.error
    with duckdb.connect(str(root / "w.duckdb"), read_only=True) as conn:
        statuses = conn.execute("SELECT DISTINCT status FROM main.orders").fetchall()
    assert statuses == [("PAID",)]


def test_batches_reach_the_transformer_once_each(
    tmp_path: Path, orders: str, postgres_database: str
) -> None:
    root = write_integration_project(
        tmp_path / "proj",
        "p",
        source=("postgresql", _source(postgres_database)),
        destination=(
            "postgresql",
            {**_source(postgres_database, "raw"), "batch_fetch_limit": None},
        ),
        transformers=[Transformer("net_of_tax", PANDAS)],
    )
    discover_catalog(root, "p", select=True)
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.COMPLETED, record.error
    transformer = next(b for b in record.block_runs if b.block_uuid == "net_of_tax")
    assert transformer.metrics["batches"] == 4  # 1,000 rows, batch_fetch_limit 250
    assert transformer.metrics["rows_in"] == 1000
    assert transformer.metrics["rows"] == 900
    with psycopg.connect(orders) as conn:
        count = conn.execute("SELECT count(*) FROM raw.orders").fetchone()
    assert count == (900,)


def test_a_wrong_password_fails_the_run_with_the_reason(
    tmp_path: Path, orders: str, postgres_database: str
) -> None:
    root = write_integration_project(
        tmp_path / "proj",
        "p",
        source=("postgresql", _source(postgres_database)),
        destination=("duckdb", {"database": "w.duckdb"}),
    )
    discover_catalog(root, "p", select=True)
    edit_stream(root, "p", "orders", replication_method="FULL_TABLE")
    (root / "data_loaders" / "source.yaml").write_text(
        "source: postgresql\nconfig:\n  host: 127.0.0.1\n  port: 5432\n"
        "  database: no_such_database_here\n  username: postgres\n  schema: app\n"
    )
    result = CliRunner().invoke(app, ["run", str(root), "p", "--no-live"])
    assert result.exit_code == 1, result.output
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.FAILED
    assert all(b.status in TERMINAL_STATUSES for b in record.block_runs)
    assert "no_such_database_here" in (record.error or "")
    assert {b.block_uuid: b.status.value for b in record.block_runs} == {
        "source": "failed",
        "destination": "cancelled",
    }


def test_checksums_are_type_robust_and_sensitive() -> None:
    naive = [(1, Decimal("1.50"), datetime(2024, 1, 1, 12), "x")]
    typed = [(1, 1.5, datetime(2024, 1, 1, 12, tzinfo=UTC), "x")]
    assert chinook.checksum(naive) == chinook.checksum(typed)
    two = [(1, "a"), (2, "b")]
    assert chinook.checksum(two) == chinook.checksum(list(reversed(two)))
    assert chinook.checksum(two) != chinook.checksum([(1, "a"), (2, "c")])
    assert chinook.checksum([(None,)]) != chinook.checksum([("",)])
