"""A sync killed with SIGKILL at any point, then run again, ends with exactly the source's rows:
MariaDB -> PostgreSQL (the MySQL source's keyset resume) and PostgreSQL -> MariaDB (the MySQL
destination's per-batch commits and its REPLACE swap)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import PG_DEST_SCHEMA, PG_SOURCE_SCHEMA, execute, mysql_connect, query
from .resume_child import sync

ROOT = Path(__file__).resolve().parents[3]
ROW_COUNT = 8000


def start_child(*arguments: str) -> subprocess.Popen[str]:
    module = "tests.integration.integration_mysql.resume_child"
    return subprocess.Popen(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after(child: subprocess.Popen[str], batches: int, jitter_seconds: float) -> list[str]:
    """SIGKILL the child once it reported `batches` batches, plus a random moment."""
    seen: list[str] = []
    assert child.stdout is not None
    for line in child.stdout:
        seen.append(line.strip())
        if len(seen) >= batches:
            break
    time.sleep(jitter_seconds)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    for stream in (child.stdout, child.stderr):
        if stream:
            stream.close()
    return seen


def make_events(direction: str, my, pg, keys: str) -> None:
    """8000 rows; 60 share each replication-key value, so batches end inside such groups."""
    key = " PRIMARY KEY" if keys else ""
    if direction == "m2p":
        execute(
            my,
            f"CREATE TABLE events (id INT{key}, rk INT, v TEXT)",
            f"INSERT INTO events SELECT seq, seq DIV 60, MD5(seq) FROM seq_1_to_{ROW_COUNT}",
        )
    else:
        pg.execute(
            f"CREATE TABLE {PG_SOURCE_SCHEMA}.events (id integer{key}, rk integer, v text);"
            f"INSERT INTO {PG_SOURCE_SCHEMA}.events "
            f"SELECT g, g / 60, md5(g::text) FROM generate_series(1, {ROW_COUNT}) g"
        )


def source_and_copy(direction: str, database: str, pg) -> tuple[list, list]:
    """All (id, rk, v) rows of the source table and of its copy, sorted (duplicates kept)."""
    conn = mysql_connect(database)
    try:
        mysql_side = sorted(query(conn, "SELECT id, rk, v FROM events"))
    finally:
        conn.close()
    schema = PG_DEST_SCHEMA if direction == "m2p" else PG_SOURCE_SCHEMA
    pg_side = sorted(pg.execute(f"SELECT id, rk, v FROM {schema}.events").fetchall())
    return (mysql_side, pg_side) if direction == "m2p" else (pg_side, mysql_side)


@pytest.mark.parametrize("direction", ["m2p", "p2m"])
@pytest.mark.parametrize(
    ("keys", "kill_at"),
    [("id", 1), ("id", 6), ("", 2), ("", 5)],
    ids=["keyed-1", "keyed-6", "keyless-2", "keyless-5"],
)
def test_incremental_sync_killed_then_restarted_is_exact(
    my, mysql_database, pg, conninfo, direction, keys, kill_at
):
    make_events(direction, my, pg, keys)
    random.seed(f"{direction}{keys}{kill_at}")
    arguments = [direction, mysql_database, conninfo, "INCREMENTAL", keys, "70"]
    for _ in range(3):  # killed three times in a row, each after more batches committed
        child = start_child(*arguments)
        seen = kill_after(child, kill_at, random.uniform(0, 0.05))
        assert seen, "the child reported no batch before it was killed"
        assert seen[-1].startswith("batch"), seen
    source, copy = source_and_copy(direction, mysql_database, pg)
    assert 0 < len(copy) < ROW_COUNT  # the kills did land mid-sync
    resumed = sync(direction, mysql_database, conninfo, "INCREMENTAL", keys, 70)
    assert resumed.stream("events").rows == ROW_COUNT - len(copy)
    source, copy = source_and_copy(direction, mysql_database, pg)
    assert copy == source


def test_full_table_sync_killed_mid_load_keeps_the_old_table(my, mysql_database, pg, conninfo):
    make_events("p2m", my, pg, "id")
    arguments = ["p2m", mysql_database, conninfo, "FULL_TABLE", "id", "70"]
    assert sync(*arguments).stream("events").rows == ROW_COUNT
    before = source_and_copy("p2m", mysql_database, pg)[1]
    pg.execute(f"UPDATE {PG_SOURCE_SCHEMA}.events SET v = 'changed'")
    kill_after(start_child(*arguments), 10, 0.01)
    assert source_and_copy("p2m", mysql_database, pg)[1] == before
    assert sync(*arguments).stream("events").rows == ROW_COUNT
    source, copy = source_and_copy("p2m", mysql_database, pg)
    assert copy == source
    conn = mysql_connect(mysql_database)
    try:  # the killed load's staging table was dropped by the next load
        assert query(conn, "SHOW TABLES") == [("_weir_state",), ("events",)]
    finally:
        conn.close()
