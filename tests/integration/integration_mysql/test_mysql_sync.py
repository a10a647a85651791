"""`run_sync` with the MySQL connectors: MariaDB -> PostgreSQL, PostgreSQL -> MariaDB and
MariaDB -> MariaDB, full and incremental, compared value by value."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from weir.integration import (
    PostgresDestination,
    PostgresSource,
    ReplicationMethod,
    UniqueConflictMethod,
    run_sync,
)
from weir.integration.destinations.mysql import MySQLDestination
from weir.integration.sources.mysql import MySQLSource

from .conftest import (
    PG_DEST_SCHEMA,
    PG_SOURCE_SCHEMA,
    connector_kwargs,
    execute,
    mysql_connect,
    query,
)

ORDERS_DDL = """
CREATE TABLE orders (
    id INT PRIMARY KEY, grp SMALLINT, name TEXT, amount DECIMAL(12, 2), ratio DOUBLE,
    flag BOOLEAN, at DATETIME(6), day DATE, clock TIME(6), doc JSON, uid UUID)
"""
COLUMNS = ["id", "grp", "name", "amount", "ratio", "flag", "at", "day", "clock", "doc", "uid"]


def insert_orders(my, first: int, last: int, at: str = "2024-01-01") -> None:
    execute(
        my,
        "INSERT INTO orders SELECT seq, seq % 5, "
        "CASE seq % 7 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE CONCAT('it''s \"', seq, '\",\\n') END, "
        "seq * 1.25, seq / 8, seq % 2 = 0, "
        f"TIMESTAMP('{at}') + INTERVAL seq SECOND + INTERVAL seq MICROSECOND, "
        f"DATE('{at}') + INTERVAL seq % 300 DAY, SEC_TO_TIME(seq % 86400), "
        "JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('a', seq)), "
        "CONCAT('00000000-0000-0000-0000-', LPAD(seq, 12, '0')) "
        f"FROM seq_{first}_to_{last}",
    )


def normalise(row: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(key, value) for key, value in row.items()}


def _plain(key: str, value: Any) -> Any:
    """One value as both drivers can agree on it."""
    if value is None:
        return None
    if key == "doc" and isinstance(value, str):
        return json.loads(value)
    if key == "flag":
        return bool(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # DATETIME columns hold UTC
    if isinstance(value, uuid.UUID):
        return str(value)
    if key == "clock" and not hasattr(value, "hour"):
        return (datetime.min + value).time()  # pymysql reads TIME as a timedelta
    return value


def mysql_rows(database: str, table: str, columns=COLUMNS) -> list[dict[str, Any]]:
    conn = mysql_connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(columns)} FROM `{table}` ORDER BY 1")
            return [normalise(dict(zip(columns, r, strict=True))) for r in cur.fetchall()]
    finally:
        conn.close()


def pg_rows(pg, table: str, columns=COLUMNS) -> list[dict[str, Any]]:
    cur = pg.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1")
    return [normalise(dict(zip(columns, r, strict=True))) for r in cur.fetchall()]


def selected(source, stream: str = "orders", **changes):
    catalog = source.discover(streams=[stream]).with_selected([stream])
    return catalog.replace_entry(replace(catalog.get(stream), **changes))


def incremental(source, stream: str = "orders", key: str = "at", **changes):
    return selected(
        source, stream, replication_method=ReplicationMethod.INCREMENTAL, replication_key=key,
        **changes,
    )  # fmt: skip


def test_full_sync_mariadb_to_postgres(my, mysql_database, pg, conninfo):
    execute(my, ORDERS_DDL)
    insert_orders(my, 1, 2500)
    source = MySQLSource(**connector_kwargs(mysql_database))
    destination = PostgresDestination(conninfo, schema=PG_DEST_SCHEMA)
    result = run_sync(source, destination, selected(source), batch_size_rows=700)
    assert result.stream("orders").rows == 2500
    copied = pg_rows(pg, f"{PG_DEST_SCHEMA}.orders")
    assert copied == mysql_rows(mysql_database, "orders")
    assert copied[0]["name"] == ""
    assert copied[6]["name"] is None
    assert copied[0]["amount"] == Decimal("1.25")
    types = dict(
        pg.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'orders'",
            (PG_DEST_SCHEMA,),
        ).fetchall()
    )
    assert types["at"] == "timestamp with time zone"
    assert types["doc"] == "jsonb"
    assert types["uid"] == "uuid"
    assert types["amount"] == "numeric"


def test_full_sync_postgres_to_mariadb(mysql_database, pg, conninfo):
    pg.execute(
        f"""
        CREATE TABLE {PG_SOURCE_SCHEMA}.orders (
            id integer PRIMARY KEY, grp smallint, name text, amount numeric(12, 2),
            ratio double precision, flag boolean, at timestamptz, day date, clock time,
            doc jsonb, uid uuid);
        INSERT INTO {PG_SOURCE_SCHEMA}.orders
        SELECT g, g % 5, CASE g % 7 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'it''s "' || g || '",
' END, g * 1.25, g / 8.0, g % 2 = 0,
               '2024-01-01 00:00:00+00'::timestamptz + g * interval '1.000001 second',
               '2024-01-01'::date + g % 300, make_time(0, 0, 0) + g * interval '1 second',
               jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)),
               ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid
        FROM generate_series(1, 5000) g
        """
    )
    source = PostgresSource(conninfo, schema=PG_SOURCE_SCHEMA)
    destination = MySQLDestination(**connector_kwargs(mysql_database))
    result = run_sync(source, destination, selected(source), batch_size_rows=900)
    assert result.stream("orders").rows == 5000
    assert mysql_rows(mysql_database, "orders") == pg_rows(pg, f"{PG_SOURCE_SCHEMA}.orders")
    # A second full sync replaces the table: same rows, a new version, no leftovers.
    pg.execute(f"DELETE FROM {PG_SOURCE_SCHEMA}.orders WHERE id > 4000")
    again = run_sync(source, destination, selected(source), batch_size_rows=900)
    assert again.stream("orders").bookmark != result.stream("orders").bookmark
    assert mysql_rows(mysql_database, "orders") == pg_rows(pg, f"{PG_SOURCE_SCHEMA}.orders")
    conn = mysql_connect(mysql_database)
    try:
        assert query(conn, "SHOW TABLES") == [("_weir_state",), ("orders",)]
        versions = query(conn, "SELECT DISTINCT _weir_table_version FROM orders")
    finally:
        conn.close()
    assert versions == [(again.stream("orders").bookmark["version"],)]


def test_incremental_mariadb_to_postgres_picks_up_inserts_and_updates(
    my, mysql_database, pg, conninfo
):
    execute(my, ORDERS_DDL)
    insert_orders(my, 1, 3000)
    source = MySQLSource(**connector_kwargs(mysql_database))
    destination = PostgresDestination(conninfo, schema=PG_DEST_SCHEMA)
    catalog = incremental(source)
    assert run_sync(source, destination, catalog, batch_size_rows=500).rows == 3000
    insert_orders(my, 3001, 4000, at="2025-01-01")
    execute(my, "UPDATE orders SET name = 'updated', at = '2026-01-01' WHERE id <= 100")
    result = run_sync(source, destination, catalog, batch_size_rows=500)
    assert result.stream("orders").rows == 1100
    assert pg_rows(pg, f"{PG_DEST_SCHEMA}.orders") == mysql_rows(mysql_database, "orders")
    assert result.state.bookmark("orders") == {
        "replication_key": "at",
        "replication_key_value": "2026-01-01T00:00:00+00:00",
        "key_values": {"id": 100},
    }
    assert run_sync(source, destination, catalog, batch_size_rows=500).rows == 0


class KilledError(Exception):
    """Stands for the process dying right after a batch was committed."""


@pytest.mark.parametrize("keys", [("id",), ()], ids=["keyed", "keyless"])
def test_mariadb_to_mariadb_one_value_batch_size_one_is_exact(
    my, mysql_database, second_mysql_database, keys
):
    """Forty rows share one replication-key value; batches of one row; the sync dies after
    every committed batch and is started again until it completes."""
    execute(
        my,
        f"CREATE TABLE events (id INT{' PRIMARY KEY' if keys else ''}, rk INT, v TEXT)",
        "INSERT INTO events SELECT seq, 1, CONCAT('v', seq) FROM seq_1_to_40",
    )
    source = MySQLSource(**connector_kwargs(mysql_database))
    destination = MySQLDestination(**connector_kwargs(second_mysql_database))
    catalog = incremental(source, "events", key="rk", key_properties=keys)

    def die(progress):
        raise KilledError(progress.rows)

    attempts = 0
    while attempts < 60:
        attempts += 1
        try:
            run_sync(source, destination, catalog, batch_size_rows=1, on_progress=die)
            break
        except KilledError:
            continue
    # Keyed: one row per attempt. Keyless: a batch holds every row of a value, so one attempt.
    assert attempts == (41 if keys else 2)
    columns = ["id", "rk", "v"]
    assert mysql_rows(second_mysql_database, "events", columns) == mysql_rows(
        mysql_database, "events", columns
    )
    assert run_sync(source, destination, catalog, batch_size_rows=1).rows == 0


@pytest.mark.parametrize("method", list(UniqueConflictMethod))
def test_mariadb_to_mariadb_upsert_and_ignore(my, mysql_database, second_mysql_database, method):
    execute(
        my,
        "CREATE TABLE log (seq INT PRIMARY KEY, account VARCHAR(10), balance INT)",
        "INSERT INTO log VALUES (1, 'a', 100), (2, 'a', 90), (3, 'A', 5), (4, 'a ', 1), "
        "(5, 'a', 80)",
    )
    source = MySQLSource(**connector_kwargs(mysql_database))
    destination = MySQLDestination(**connector_kwargs(second_mysql_database))
    catalog = incremental(
        source, "log", key="seq", unique_constraints=("account",), unique_conflict_method=method
    )
    columns = ["account", "balance", "seq"]

    def copied():
        rows = mysql_rows(second_mysql_database, "log", columns)
        return sorted((r["account"], r["balance"], r["seq"]) for r in rows)

    run_sync(source, destination, catalog, batch_size_rows=10)
    # Keys compare byte by byte: 'a', 'A' and 'a ' are three rows. Within a batch the last
    # row of a key wins (for IGNORE too, when the key is new to the table).
    assert copied() == [("A", 5, 3), ("a", 80, 5), ("a ", 1, 4)]
    execute(my, "INSERT INTO log VALUES (6, 'a', 1000)")
    run_sync(source, destination, catalog, batch_size_rows=10)
    kept = ("a", 1000, 6) if method is UniqueConflictMethod.UPDATE else ("a", 80, 5)
    assert copied() == [("A", 5, 3), kept, ("a ", 1, 4)]


def test_odd_table_and_column_names_survive(my, mysql_database, second_mysql_database):
    execute(
        my,
        'CREATE TABLE `odd ``na%me` (`a,b` INT PRIMARY KEY, `c"d` TEXT, `e%f` INT, `g``h` INT)',
        "INSERT INTO `odd ``na%me` VALUES (1, 'x', 2, 3), (2, NULL, NULL, 4)",
    )
    source = MySQLSource(**connector_kwargs(mysql_database))
    destination = MySQLDestination(**connector_kwargs(second_mysql_database))
    stream = "odd `na%me"
    for catalog in (selected(source, stream), incremental(source, stream, key="g`h")):
        run_sync(source, destination, catalog, state_id=str(catalog.get(stream).replication_key))
        conn = mysql_connect(second_mysql_database)
        try:
            copied = query(conn, 'SELECT `a,b`, `c"d`, `e%f`, `g``h` FROM `odd ``na%me`')
        finally:
            conn.close()
        assert sorted(copied) == [(1, "x", 2, 3), (2, None, None, 4)]
    assert destination.read_bookmark("g`h", stream)["replication_key_value"] == 4
