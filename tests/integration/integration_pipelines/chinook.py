"""Chinook on real servers: load it, change it, and compare two copies by checksum.

Loading: `../shared/data/chinook/Chinook_{PostgreSql,MySql}.sql`, with the script's own
`DROP/CREATE DATABASE` and `\\c`/`USE` lines removed so it fills the test's fresh database.

Change tracking: incremental replication needs a column that moves when a row changes, which
Chinook lacks, so `add_change_tracking` gives every table one, as an application would:
`updated_at timestamptz NOT NULL DEFAULT now()` plus a `BEFORE UPDATE` trigger on PostgreSQL,
`UpdatedAt DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)` on
MariaDB. Existing rows all share the value of the moment the column was added: one large tie
that the keyset bookmark (replication key, key properties) must get through exactly.

The checksum of a table is `(row count, sum of a 64-bit BLAKE2b hash of each row's canonical
text, mod 2^64)`, computed in Python from the rows each side's own driver returns, so it does
not depend on either engine's types or text formats, nor on row order. A row's canonical text
is its values in the source's column order, joined by U+001F, each written as: NULL `\\N`;
booleans `t`/`f`; integers in decimal; decimals and floats as exact fixed-point decimals
without trailing zeros (`0.99`, `10`); timestamps as UTC `YYYY-MM-DDTHH:MM:SS.ffffff` (a value
without a time zone is taken as UTC, as Weir's sources read it); dates and times in ISO 8601;
bytes in hex; text as itself. Two copies are equal when each table's checksum is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
from psycopg import sql
from pymysql.constants import CLIENT

DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "chinook"
TABLES = (
    "album",
    "artist",
    "customer",
    "employee",
    "genre",
    "invoice",
    "invoice_line",
    "media_type",
    "playlist",
    "playlist_track",
    "track",
)
ROWS = {
    "album": 347,
    "artist": 275,
    "customer": 59,
    "employee": 8,
    "genre": 25,
    "invoice": 412,
    "invoice_line": 2240,
    "media_type": 5,
    "playlist": 18,
    "playlist_track": 8715,
    "track": 3503,
}
KEYS = {
    "playlist_track": ("playlist_id", "track_id"),
    **{t: (f"{t}_id",) for t in TABLES if t != "playlist_track"},
}
TRACKING = "updated_at"
_MASK = 2**64 - 1


def pascal(name: str) -> str:
    """Chinook's MySQL spelling of a PostgreSQL name: `invoice_line` -> `InvoiceLine`."""
    return "".join(part.capitalize() for part in name.split("_"))


# -- checksums -------------------------------------------------------------------------------------
def canonical(value: Any) -> str:
    """One value's canonical text (see the module docstring)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return "0" if value == 0 else format(value.normalize(), "f")
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def checksum(rows: Iterable[Sequence[Any]]) -> tuple[int, int]:
    """(row count, sum of the rows' hashes mod 2^64): equal for equal multisets of rows."""
    count = total = 0
    for row in rows:
        text = "\x1f".join(canonical(v) for v in row).encode()
        total = (total + int.from_bytes(hashlib.blake2b(text, digest_size=8).digest())) & _MASK
        count += 1
    return count, total


# -- the three engines ---------------------------------------------------------------------------
@dataclass
class Side:
    """One copy of Chinook: how to list a table's columns and read its rows."""

    columns: Callable[[str], list[str]]
    rows: Callable[[str, list[str]], list[tuple[Any, ...]]]

    def checksums(self, tables: Iterable[str], names: Callable[[str], str]) -> dict[str, Any]:
        out = {}
        for table in tables:
            physical = names(table)
            out[table] = checksum(self.rows(physical, self.columns(physical)))
        return out


def postgres_side(conninfo: str, schema: str) -> Side:
    def columns(table: str) -> list[str]:
        with psycopg.connect(conninfo) as conn:
            found = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s AND column_name NOT LIKE '\\_weir\\_%%' "
                "ORDER BY ordinal_position",
                (schema, table),
            ).fetchall()
        return [r[0] for r in found]

    def rows(table: str, names: list[str]) -> list[tuple[Any, ...]]:
        select = sql.SQL(", ").join(sql.Identifier(n) for n in names)
        query = sql.SQL("SELECT {} FROM {}").format(select, sql.Identifier(schema, table))
        with psycopg.connect(conninfo) as conn:
            return conn.execute(query).fetchall()

    return Side(columns, rows)


def mysql_side(database: str) -> Side:
    def columns(table: str) -> list[str]:
        with _mysql(database) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (database, table),
            )
            return [r[0] for r in cur.fetchall()]

    def rows(table: str, names: list[str]) -> list[tuple[Any, ...]]:
        select = ", ".join(f"`{n}`" for n in names)
        with _mysql(database) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT {select} FROM `{table}`")
            return list(cur.fetchall())

    return Side(columns, rows)


def duckdb_side(path: Path, schema: str) -> Side:
    def columns(table: str) -> list[str]:
        with duckdb.connect(str(path), read_only=True) as conn:
            found = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? AND column_name NOT LIKE '\\_weir\\_%' ESCAPE '\\' "
                "ORDER BY ordinal_position",
                [schema, table],
            ).fetchall()
        return [r[0] for r in found]

    def rows(table: str, names: list[str]) -> list[tuple[Any, ...]]:
        select = ", ".join(f'"{n}"' for n in names)
        with duckdb.connect(str(path), read_only=True) as conn:
            arrow = conn.sql(f'SELECT {select} FROM "{schema}"."{table}"').to_arrow_table()
        return [tuple(r[n] for n in names) for r in arrow.to_pylist()]

    return Side(columns, rows)


# -- loading -------------------------------------------------------------------------------------
def _script(name: str, drop: str) -> str:
    text = (DATA / name).read_text(encoding="utf-8")
    return re.sub(drop, "", text, flags=re.MULTILINE | re.IGNORECASE)


def load_postgres(conninfo: str) -> None:
    """Fill the (empty) database with Chinook: 11 tables in `public`."""
    script = _script("Chinook_PostgreSql.sql", r"^(DROP DATABASE|CREATE DATABASE|\\c ).*$")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(script)  # no parameters: sent as one simple query, many statements


def _mysql(database: str, **options: Any) -> pymysql.Connection:
    return pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database=database, **options
    )


def load_mysql(database: str) -> None:
    """Fill the (empty) database with Chinook: 11 PascalCase tables."""
    script = _script("Chinook_MySql.sql", r"^(DROP DATABASE|CREATE DATABASE|USE ).*$")
    conn = _mysql(database, client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(script)
            while cur.nextset():
                pass
    finally:
        conn.close()


def add_change_tracking_postgres(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$"
        )
        for table in TABLES:
            conn.execute(
                f"ALTER TABLE {table} ADD COLUMN {TRACKING} timestamptz NOT NULL DEFAULT now()"
            )
            conn.execute(
                f"CREATE TRIGGER touch BEFORE UPDATE ON {table} FOR EACH ROW "
                "EXECUTE FUNCTION touch()"
            )


def add_change_tracking_mysql(database: str) -> None:
    with _mysql(database, autocommit=True) as conn, conn.cursor() as cur:
        for table in TABLES:
            cur.execute(
                f"ALTER TABLE `{pascal(table)}` ADD COLUMN `{pascal(TRACKING)}` DATETIME(6) "
                "NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"
            )


# -- the change: 1,000 rows inserted, 100 updated ------------------------------------------------
def inserts() -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """(table, columns, rows) in foreign-key order: 1,000 new rows over six tables."""
    base = datetime(2025, 1, 1, 9, 30)
    return [
        ("artist", ["artist_id", "name"], [(10_000 + i, f"Weir Artist {i}") for i in range(50)]),
        (
            "album",
            ["album_id", "title", "artist_id"],
            [(10_000 + i, f"Weir Album {i}", 10_000 + i) for i in range(50)],
        ),
        (
            "track",
            [
                "track_id",
                "name",
                "album_id",
                "media_type_id",
                "genre_id",
                "composer",
                "milliseconds",
                "bytes",
                "unit_price",
            ],
            [
                (
                    10_000 + i,
                    f"Weir Track {i} — ünïcode",
                    10_000 + i % 50,
                    1 + i % 5,
                    1 + i % 25,
                    None if i % 3 == 0 else f"Composer {i}",
                    180_000 + i,
                    5_000_000 + i,
                    Decimal("0.99") if i % 2 else Decimal("1.99"),
                )
                for i in range(300)
            ],
        ),
        (
            "invoice",
            [
                "invoice_id",
                "customer_id",
                "invoice_date",
                "billing_address",
                "billing_city",
                "billing_state",
                "billing_country",
                "billing_postal_code",
                "total",
            ],
            [
                (
                    10_000 + i,
                    1 + i % 59,
                    base + timedelta(hours=i),
                    f"{i} Rua Nova",
                    "Lisbon",
                    None,
                    "Portugal",
                    "1100-001",
                    Decimal("3.96"),
                )
                for i in range(100)
            ],
        ),
        (
            "invoice_line",
            ["invoice_line_id", "invoice_id", "track_id", "unit_price", "quantity"],
            [
                (10_000 + i, 10_000 + i % 100, 10_000 + i % 300, Decimal("0.99"), 1 + i % 3)
                for i in range(400)
            ],
        ),
        (
            "playlist_track",
            ["playlist_id", "track_id"],
            [(1 + i % 18, 10_000 + i) for i in range(100)],
        ),
    ]


def updates() -> list[tuple[str, str, list[tuple[Any, ...]]]]:
    """(table, SET clause with %s, rows of (values..., key)): 100 changed rows."""
    return [
        (
            "track",
            "unit_price = %s, composer = %s",
            [(Decimal("1.29"), None if i % 2 else f"Remastered {i}", i) for i in range(1, 41)],
        ),
        (
            "customer",
            "email = %s, company = NULL",
            [(f"customer{i}@example.org", i) for i in range(1, 31)],
        ),
        ("invoice", "total = total + 1, billing_city = %s", [("Porto", i) for i in range(1, 31)]),
    ]


CHANGED_ROWS = 1_100


def change_postgres(conninfo: str) -> None:
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        for table, columns, rows in inserts():
            marks = ", ".join(["%s"] * len(columns))
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        for table, assignments, rows in updates():
            cur.executemany(f"UPDATE {table} SET {assignments} WHERE {table}_id = %s", rows)


def change_mysql(database: str) -> None:
    with _mysql(database) as conn, conn.cursor() as cur:
        for table, columns, rows in inserts():
            names = ", ".join(f"`{pascal(c)}`" for c in columns)
            marks = ", ".join(["%s"] * len(columns))
            cur.executemany(f"INSERT INTO `{pascal(table)}` ({names}) VALUES ({marks})", rows)
        for table, assignments, rows in updates():
            setter = re.sub(
                r"\b([a-z_]+)\b(?= =)", lambda m: f"`{pascal(m.group(1))}`", assignments
            )
            setter = setter.replace("total + 1", "`Total` + 1")
            key = pascal(f"{table}_id")
            cur.executemany(f"UPDATE `{pascal(table)}` SET {setter} WHERE `{key}` = %s", rows)
        conn.commit()
