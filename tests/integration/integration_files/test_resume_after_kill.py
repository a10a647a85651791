"""Syncs into Parquet killed with SIGKILL at any moment, then run again, end exact.

The sources are a SQLite file and a folder of Parquet files (no primary key: a plain table);
60 rows share each replication-key value, so batches end inside groups of equal values.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit.integration_files.helpers import select_all, with_entry
from weir.integration import ReplicationMethod, run_sync
from weir.integration.destinations.parquet import LOCK_FILE, ParquetDestination

from .resume_child import make_source

ROOT = Path(__file__).resolve().parents[3]
ROW_COUNT = 8000
BATCH_ROWS = 70


def make_events(tmp_path: Path, kind: str, primary_key: bool) -> str:
    rows = [(i, i // 60, f"v{i}") for i in range(ROW_COUNT, 0, -1)]
    if kind == "files":
        folder = tmp_path / "events"
        folder.mkdir()
        for part in range(4):
            chunk = rows[part::4]
            table = pa.table({n: [r[i] for r in chunk] for i, n in enumerate(["id", "rk", "v"])})
            pq.write_table(table, folder / f"part-{part}.parquet")
        return str(folder / "*.parquet")
    path = tmp_path / "events.sqlite"
    key = "PRIMARY KEY" if primary_key else ""
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE events (id INTEGER {key}, rk INTEGER, v TEXT)")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)
    conn.close()
    return str(path)


def start_child(kind: str, path: str, root: Path, method: str, keys: str) -> subprocess.Popen[str]:
    module = "tests.integration.integration_files.resume_child"
    arguments = [kind, path, str(root), method, keys, str(BATCH_ROWS)]
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


def finish(kind: str, path: str, root: Path, method: ReplicationMethod, keys: str) -> int:
    source = make_source(kind, path)
    catalog = with_entry(
        select_all(source, ["events"]),
        "events",
        replication_method=method,
        replication_key="rk",
        key_properties=tuple(k for k in [keys] if k),
    )
    return run_sync(source, ParquetDestination(root), catalog, batch_size_rows=BATCH_ROWS).rows


def assert_exact(root: Path) -> None:
    lake = ParquetDestination(root)
    copied = Counter((r["id"], r["rk"], r["v"]) for r in lake.read_table("events").to_pylist())
    expected = Counter((i, i // 60, f"v{i}") for i in range(1, ROW_COUNT + 1))
    assert copied == expected
    folder = root / "events"
    on_disk = sorted(p for p in folder.rglob("*.parquet") if p.is_file())
    assert on_disk == sorted(lake.files("events"))  # no orphan left after the last write
    assert {p.name for p in folder.iterdir() if p.is_file()} == {"_weir_manifest.json", LOCK_FILE}


@pytest.mark.parametrize(
    ("kind", "keys", "kill_at"),
    [
        ("sqlite", "id", 1),
        ("sqlite", "id", 7),
        ("sqlite", "", 2),
        ("files", "id", 3),
        ("files", "", 5),
    ],
    ids=[
        "sqlite-keyed-1",
        "sqlite-keyed-7",
        "sqlite-keyless-2",
        "files-keyed-3",
        "files-keyless-5",
    ],
)
def test_incremental_sync_killed_then_restarted_is_exact(tmp_path, kind, keys, kill_at):
    path = make_events(tmp_path, kind, primary_key=bool(keys))
    root = tmp_path / "lake"
    random.seed(f"{kind}{keys}{kill_at}")
    for _ in range(3):  # killed three times in a row, each after more batches committed
        child = start_child(kind, path, root, "INCREMENTAL", keys)
        seen = kill_after(child, kill_at, random.uniform(0, 0.05))
        assert seen, "the child reported no batch before it was killed"
        assert seen[-1].startswith("batch"), seen
    copied = ParquetDestination(root).read_table("events").num_rows
    assert 0 < copied < ROW_COUNT  # the kills did land mid-sync
    assert finish(kind, path, root, ReplicationMethod.INCREMENTAL, keys) == ROW_COUNT - copied
    assert_exact(root)


def test_full_table_sync_killed_mid_load_keeps_the_old_table(tmp_path):
    path = make_events(tmp_path, "sqlite", primary_key=True)
    root = tmp_path / "lake"
    assert finish("sqlite", path, root, ReplicationMethod.FULL_TABLE, "id") == ROW_COUNT
    lake = ParquetDestination(root)
    before = lake.read_table("events")
    manifest = (root / "events" / "_weir_manifest.json").read_bytes()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE events SET v = 'changed'")
    conn.close()
    child = start_child("sqlite", path, root, "FULL_TABLE", "id")
    kill_after(child, 20, 0.01)
    assert (root / "events" / "_weir_manifest.json").read_bytes() == manifest
    assert lake.read_table("events") == before
    staged = [p for p in (root / "events").rglob("*.parquet") if p not in lake.files("events")]
    assert staged  # the killed load left files behind, which nothing reads
    assert finish("sqlite", path, root, ReplicationMethod.FULL_TABLE, "id") == ROW_COUNT
    assert {r["v"] for r in lake.read_table("events").to_pylist()} == {"changed"}
    assert sorted(p for p in (root / "events").rglob("*.parquet")) == sorted(lake.files("events"))
