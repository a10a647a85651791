"""The PostgreSQL and MySQL connectors' write paths against the real servers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import psycopg
import pymysql
import pytest

from tests.services import MYSQL_HOST, MYSQL_PORT
from weir.compat.mage.io.mysql import MySQL
from weir.compat.mage.io.postgres import Postgres

MIXED = pd.DataFrame(
    {
        "id": [1, 2, 3],
        "payload": [b"\x00\x01", None, b""],
        "meta": [{"k": [1, 2]}, None, {"k": []}],
        "at": pd.to_datetime(["2024-01-01T10:00:00.5", None, "2024-03-01T00:00:00.0"], utc=True),
        "price": [Decimal("1.10"), None, Decimal("-3.25")],
        "note": ["x", None, ""],
    }
)


@pytest.mark.postgres
def test_postgres_binary_copy_replace_keeps_views_and_upserts(postgres_database: str) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{postgres_database}"
    with Postgres(postgres_database, "postgres", None, "127.0.0.1") as loader:
        loader.export(MIXED, "raw", "events")  # bytes/JSON: binary COPY into a new table
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE VIEW raw.v AS SELECT id, note FROM raw.events")
        loader.export(MIXED.tail(2), "raw", "events", if_exists="replace")  # stage + insert
        frame = loader.load("SELECT * FROM raw.events WHERE id > %(min)s", params={"min": 0})
        assert frame["id"].tolist() == [2, 3]
        assert loader.load("SELECT count(*) AS n FROM raw.v")["n"].tolist() == [2]
        assert frame["meta"].tolist() == [None, {"k": []}]
        assert frame["payload"].tolist()[1] == b""
        keyed = MIXED[["id", "note"]].assign(note=["new", "new", "new"])
        loader.export(MIXED[["id", "note"]], "raw", "keyed", unique_constraints=["id"])
        loader.export(
            keyed.head(2),
            "raw",
            "keyed",
            if_exists="append",
            unique_constraints=["id"],
            unique_conflict_method="UPDATE",
        )
        loader.execute("INSERT INTO raw.keyed VALUES (%s, %s)", params=(9, "mine"))
    with psycopg.connect(url) as connection:
        keyed_rows = connection.execute("SELECT id, note FROM raw.keyed ORDER BY id").fetchall()
        at = connection.execute("SELECT at FROM raw.events WHERE id = 3").fetchone()
    assert keyed_rows == [(1, "new"), (2, "new"), (3, ""), (9, "mine")]  # committed on exit
    assert at == (dt.datetime(2024, 3, 1, tzinfo=dt.UTC),)


@pytest.mark.postgres
def test_postgres_failed_export_leaves_the_table_as_it_was(postgres_database: str) -> None:
    with Postgres(postgres_database, "postgres", None, "127.0.0.1") as loader:
        loader.export(pd.DataFrame({"n": [1, 2]}), None, "t")
        with pytest.raises(psycopg.errors.UndefinedColumn):
            loader.export(pd.DataFrame({"other": [3]}), None, "t", if_exists="replace")
        assert loader.load("SELECT n FROM t ORDER BY n")["n"].tolist() == [1, 2]


@pytest.mark.mysql
def test_mysql_types_and_upserts(mysql_database: str) -> None:
    loader = MySQL(mysql_database, MYSQL_HOST, None, "root", port=MYSQL_PORT)
    with loader:
        loader.export(MIXED, None, "events")
        loader.export(
            MIXED[["id", "note"]].assign(note=["a", "b", "c"]),
            None,
            "keyed",
            unique_constraints=["id"],
        )
        loader.export(
            pd.DataFrame({"id": [1, 4], "note": ["z", "z"]}),
            None,
            "keyed",
            if_exists="append",
            unique_constraints=["id"],
            unique_conflict_method="IGNORE",
        )
        frame = loader.load("SELECT * FROM events ORDER BY id", coerce_float=False)
    assert frame["price"].tolist()[::2] == [Decimal("1.10"), Decimal("-3.25")]
    assert frame["at"].tolist()[0] == pd.Timestamp("2024-01-01 10:00:00.5")  # UTC, naive
    connection = pymysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", database=mysql_database
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, note FROM keyed ORDER BY id")
        assert cursor.fetchall() == ((1, "a"), (2, "b"), (3, "c"), (4, "z"))
        cursor.execute("SELECT meta FROM events WHERE id = 1")
        assert cursor.fetchall() == (('{"k": [1, 2]}',),)
    connection.close()
