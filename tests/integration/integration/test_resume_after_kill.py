"""A sync killed with SIGKILL at any point, then run again, ends with exactly the source's rows."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from weir.integration import PostgresDestination, PostgresSource, ReplicationMethod, run_sync

from .conftest import DEST_SCHEMA, SOURCE_SCHEMA
from .helpers import assert_same_rows, rows

ROOT = Path(__file__).resolve().parents[3]
ROW_COUNT = 8000


def start_child(conninfo: str, method: str, keys: str, batch_rows: int) -> subprocess.Popen[str]:
    module = "tests.integration.integration.resume_child"
    arguments = [conninfo, method, keys, str(batch_rows)]
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
    if child.stdout:
        child.stdout.close()
    if child.stderr:
        child.stderr.close()
    return seen


def make_events(pg) -> None:
    # 60 rows share each replication-key value, so batches end inside groups of equal values.
    pg.execute(
        f"CREATE TABLE {SOURCE_SCHEMA}.events (id integer PRIMARY KEY, rk integer, v text);"
        f"INSERT INTO {SOURCE_SCHEMA}.events "
        f"SELECT g, g / 60, md5(g::text) FROM generate_series(1, {ROW_COUNT}) g"
    )


def finish(conninfo: str, method: ReplicationMethod, keys: tuple[str, ...]) -> int:
    source = PostgresSource(conninfo, schema=SOURCE_SCHEMA)
    destination = PostgresDestination(conninfo, schema=DEST_SCHEMA)
    catalog = source.discover(streams=["events"]).with_selected(["events"])
    entry = replace(
        catalog.get("events"),
        replication_method=method,
        replication_key="rk",
        key_properties=keys,
    )
    result = run_sync(source, destination, catalog.replace_entry(entry), batch_size_rows=70)
    return result.stream("events").rows


@pytest.mark.parametrize(
    ("keys", "kill_at"),
    [("id", 1), ("id", 4), ("id", 9), ("", 1), ("", 5)],
    ids=["keyed-1", "keyed-4", "keyed-9", "keyless-1", "keyless-5"],
)
def test_incremental_sync_killed_then_restarted_is_exact(pg, conninfo, keys, kill_at):
    make_events(pg)
    random.seed(f"{keys}{kill_at}")
    for _ in range(3):  # killed three times in a row, each after more batches committed
        child = start_child(conninfo, "INCREMENTAL", keys, 70)
        seen = kill_after(child, kill_at, random.uniform(0, 0.05))
        assert seen, "the child reported no batch before it was killed"
        assert seen[-1].startswith("batch"), seen
    copied = rows(pg, f"SELECT count(*) FROM {DEST_SCHEMA}.events")[0][0]
    assert 0 < copied < ROW_COUNT  # the kills did land mid-sync
    resumed = finish(conninfo, ReplicationMethod.INCREMENTAL, tuple(k for k in [keys] if k))
    assert resumed == ROW_COUNT - copied
    assert_same_rows(pg, f"{SOURCE_SCHEMA}.events", f"{DEST_SCHEMA}.events", ["id", "rk", "v"])


def test_full_table_sync_killed_mid_load_keeps_the_old_table(pg, conninfo):
    make_events(pg)
    assert finish(conninfo, ReplicationMethod.FULL_TABLE, ("id",)) == ROW_COUNT
    before = rows(pg, f"SELECT * FROM {DEST_SCHEMA}.events ORDER BY id")
    pg.execute(f"UPDATE {SOURCE_SCHEMA}.events SET v = 'changed'")
    child = start_child(conninfo, "FULL_TABLE", "id", 70)
    kill_after(child, 10, 0.01)
    assert rows(pg, f"SELECT * FROM {DEST_SCHEMA}.events ORDER BY id") == before
    assert finish(conninfo, ReplicationMethod.FULL_TABLE, ("id",)) == ROW_COUNT
    assert_same_rows(pg, f"{SOURCE_SCHEMA}.events", f"{DEST_SCHEMA}.events", ["id", "rk", "v"])
