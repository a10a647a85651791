"""Comparisons shared by the integration tests."""

from __future__ import annotations

import psycopg


def rows(conn: psycopg.Connection, query: str) -> list[tuple]:
    return conn.execute(query).fetchall()


def table_difference(
    conn: psycopg.Connection, source: str, target: str, columns: list[str]
) -> tuple[int, int, int, int]:
    """(source rows, target rows, source-only rows, target-only rows), as multisets."""
    cols = ", ".join(f'"{c}"' for c in columns)
    a = f"SELECT {cols} FROM {source}"
    b = f"SELECT {cols} FROM {target}"
    one = conn.execute(f"SELECT count(*) FROM ({a}) x").fetchone()[0]
    two = conn.execute(f"SELECT count(*) FROM ({b}) x").fetchone()[0]
    only_a = conn.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b}) x").fetchone()[0]
    only_b = conn.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a}) x").fetchone()[0]
    return one, two, only_a, only_b


def assert_same_rows(conn: psycopg.Connection, source: str, target: str, columns: list[str]):
    count, copied, missing, extra = table_difference(conn, source, target, columns)
    assert (missing, extra) == (0, 0), (
        f"{source} has {count} rows, {target} {copied}; {missing} missing, {extra} extra"
    )
    assert count == copied
