"""Mage's own block templates run unchanged through `run_pipeline` on real services."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pymysql
import pytest

from tests.integration.compat.templates import (
    DUCKDB_EXPORTER,
    DUCKDB_LOADER,
    FILE_EXPORTER,
    FILE_LOADER,
    MYSQL_EXPORTER,
    MYSQL_LOADER,
    POSTGRES_EXPORTER,
    POSTGRES_LOADER,
    TRANSFORMER,
    fill,
)
from tests.project_builder import BlockDef, write_project
from tests.services import MYSQL_HOST, MYSQL_PORT
from weir.engine.runner import run_pipeline
from weir.runs.records import PipelineRunRecord
from weir.runs.status import RunStatus

DOUBLE_AMOUNT = "    df['amount'] = df['amount'] * 2"


def etl_pipeline(root: Path, loader: str, exporter: str) -> Path:
    """load (data loader) -> double (transformer) -> store (data exporter)."""
    return write_project(
        root,
        "etl",
        [
            BlockDef("load", loader, type="data_loader"),
            BlockDef("double", fill(TRANSFORMER, code=DOUBLE_AMOUNT), upstream=["load"]),
            BlockDef("store", exporter, type="data_exporter", upstream=["double"]),
        ],
    )


def completed(record: PipelineRunRecord) -> None:
    errors = {b.block_uuid: b.error for b in record.block_runs if b.error}
    assert record.status is RunStatus.COMPLETED, errors


@pytest.mark.postgres
def test_postgres_load_and_export(tmp_path: Path, postgres_database: str) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{postgres_database}"
    with psycopg.connect(url) as connection:
        connection.execute("CREATE TABLE orders (id int, name text, amount numeric(10,2))")
        connection.execute("INSERT INTO orders VALUES (1, 'a', 1.25), (2, NULL, 2.5), (3, '', 4)")
    root = etl_pipeline(
        tmp_path / "proj",
        fill(POSTGRES_LOADER, query="SELECT id, name, amount FROM orders ORDER BY id"),
        fill(POSTGRES_EXPORTER, schema="analytics", table="Orders_Doubled"),
    )
    (root / "io_config.yaml").write_text(
        "version: 0.1.1\ndefault:\n"
        f"  POSTGRES_DBNAME: {postgres_database}\n"
        "  POSTGRES_HOST: 127.0.0.1\n  POSTGRES_PORT: 5432\n"
        "  POSTGRES_USER: postgres\n  POSTGRES_PASSWORD: \"{{ env_var('WEIR_NO_SUCH_VAR', '') }}\"\n"
        "  POSTGRES_SCHEMA: public\n"
    )
    for _ in range(2):  # the second run replaces the rows of the first
        completed(run_pipeline(root, "etl"))
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT id, name, amount FROM analytics.orders_doubled ORDER BY id"
        ).fetchall()
    assert rows == [(1, "a", 2.5), (2, None, 5.0), (3, "", 8.0)]


@pytest.mark.mysql
def test_mysql_load_and_export(tmp_path: Path, mysql_database: str) -> None:
    connection = pymysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", database=mysql_database
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE orders (id INT, name TEXT, amount DOUBLE)")
        cursor.execute("INSERT INTO orders VALUES (1, %s, 1.25), (2, NULL, 2.5)", ("é" * 300,))
    connection.commit()
    root = etl_pipeline(
        tmp_path / "proj",
        fill(MYSQL_LOADER, query="SELECT id, name, amount FROM orders ORDER BY id"),
        fill(MYSQL_EXPORTER, table="orders_doubled"),
    )
    (root / "io_config.yaml").write_text(
        "default:\n"
        f"  MYSQL_DATABASE: {mysql_database}\n  MYSQL_HOST: {MYSQL_HOST}\n"
        f"  MYSQL_PORT: {MYSQL_PORT}\n  MYSQL_USER: root\n  MYSQL_PASSWORD: ''\n"
    )
    for _ in range(2):
        completed(run_pipeline(root, "etl"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, name, amount FROM orders_doubled ORDER BY id")
        rows = cursor.fetchall()
    connection.close()
    assert rows == ((1, "é" * 300, 2.5), (2, None, 5.0))  # Mage's CHAR(255) would cut the text


def test_duckdb_and_files(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "to_duckdb",
        [
            BlockDef("read_csv", fill(FILE_LOADER, filepath="data/input.csv"), type="data_loader"),
            BlockDef("double", fill(TRANSFORMER, code=DOUBLE_AMOUNT), upstream=["read_csv"]),
            BlockDef(
                "to_duckdb",
                fill(DUCKDB_EXPORTER, table="orders"),
                type="data_exporter",
                upstream=["double"],
            ),
        ],
    )
    write_project(
        root,
        "to_file",
        [
            BlockDef(
                "from_duckdb",
                fill(DUCKDB_LOADER, query="SELECT * FROM orders ORDER BY id"),
                type="data_loader",
            ),
            BlockDef(
                "write_parquet",
                fill(FILE_EXPORTER, filepath="exports/orders.parquet"),
                type="data_exporter",
                upstream=["from_duckdb"],
            ),
        ],
    )
    (root / "io_config.yaml").write_text("default:\n  DUCKDB_DATABASE: data/warehouse.duckdb\n")
    (root / "data").mkdir()
    (root / "data" / "input.csv").write_text("id,name,amount\n1,a,0.125\n2,,3\n")
    completed(run_pipeline(root, "to_duckdb"))
    completed(run_pipeline(root, "to_file"))
    with duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("SELECT * FROM orders ORDER BY id").fetchall() == [
            (1, "a", 0.25),
            (2, None, 6.0),
        ]
    exported = pd.read_parquet(root / "exports" / "orders.parquet")
    assert exported["amount"].tolist() == [0.25, 6.0]
    assert exported["id"].tolist() == [1, 2]
