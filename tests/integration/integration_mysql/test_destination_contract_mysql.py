"""The shared destination contract (`tests/integration/integration/test_destination_contract.py`)
run against MySQLDestination on the real MariaDB, once per load method.

Every `test_*` of the contract module is collected here too; the `target` fixture below
replaces the contract's, so each contract test writes to MariaDB and reads back through pymysql.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.integration import test_destination_contract as contract
from weir.integration.destinations.mysql import MySQLDestination

from .conftest import connector_kwargs, mysql_connect, query

globals().update(
    {name: getattr(contract, name) for name in dir(contract) if name.startswith("test_")}
)


def _boolean_columns(conn: Any, database: str, table: str) -> set[str]:
    rows = query(
        conn,
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = %s AND COLUMN_TYPE = 'tinyint(1)'",
        (database, table),
    )
    return {r[0] for r in rows}


@pytest.fixture(params=["load_data", "insert"])
def target(request, mysql_database) -> contract.Target:
    def read(table: str) -> list[dict[str, Any]]:
        conn = mysql_connect(mysql_database)
        try:
            booleans = _boolean_columns(conn, mysql_database, table)
            with conn.cursor() as cur:
                cur.execute(f"SELECT * FROM `{table}` ORDER BY 1")
                names = [d[0] for d in cur.description]
                rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            conn.close()
        out = []
        for row in rows:
            for name, value in row.items():
                if isinstance(value, datetime):
                    row[name] = value.replace(tzinfo=UTC)  # DATETIME columns hold UTC
                elif name in booleans and value is not None:
                    row[name] = bool(value)
            out.append(contract._normalise(row))
        return out

    def columns(table: str) -> dict[str, str]:
        conn = mysql_connect(mysql_database)
        try:
            rows = query(
                conn,
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (mysql_database, table),
            )
        finally:
            conn.close()
        # LONGTEXT is MySQL's unbounded text, what the contract calls "text".
        return {name: "text" if kind == "longtext" else kind for name, kind in rows}

    def tables() -> list[str]:
        conn = mysql_connect(mysql_database)
        try:
            rows = query(
                conn,
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                (mysql_database,),
            )
        finally:
            conn.close()
        return sorted(r[0] for r in rows)  # byte order, as the contract expects

    destination = MySQLDestination(**connector_kwargs(mysql_database), load_method=request.param)
    return contract.Target(destination, read, columns, tables)
