"""One conformance suite every source connector passes (issue 3), into the DuckDB destination.

Each test runs once per `SourceFixture` (PostgreSQL, MariaDB, SQLite, DuckDB, CSV, JSON lines,
Parquet): discovery, a full sync, an incremental sync with 30 rows on one replication-key value
followed by inserts and updates (upserted on id), a new source column, and a sync killed with
SIGKILL then resumed. Every check compares the warehouse with the rows the fixture wrote, value
by value and type by type.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from weir.integration import Column, ColumnKind, SyncProgress, run_sync

from .fixtures import COLUMNS, STREAM, SourceFixture
from .helpers import (
    TIE,
    assert_same_rows,
    edge_rows,
    full_table_catalog,
    incremental_catalog,
    later,
    many_rows,
    tied_rows,
    warehouse,
    warehouse_columns,
    warehouse_rows,
)

ROOT = Path(__file__).resolve().parents[3]

# JSON Schema of each column of `items`: its non-null `type`, and `format`.
EXPECTED_JSON_TYPES = {
    "id": ("integer", None),
    "updated_at": ("string", "date-time"),
    "name": ("string", None),
    "amount": ("number", None),
    "flag": ("boolean", None),
}
EXPECTED_KINDS = {
    "id": ColumnKind.BIGINT,
    "updated_at": ColumnKind.TIMESTAMP,
    "name": ColumnKind.TEXT,
    "flag": ColumnKind.BOOLEAN,
}


def _json_type(prop: dict) -> tuple[set[str], str | None]:
    kind = prop.get("type")
    types = {kind} if isinstance(kind, str) else set(kind or ())
    return types, prop.get("format")


# -- discover -----------------------------------------------------------------------------------
def test_discover_describes_items(source_fixture: SourceFixture) -> None:
    source_fixture.create(edge_rows())
    source = source_fixture.source()
    source.check()
    assert STREAM in [e.tap_stream_id for e in source.discover().streams]
    assert [e.tap_stream_id for e in source.discover(streams=["no_such_stream"]).streams] == []
    entry = source.discover(streams=[STREAM]).get(STREAM)
    assert entry.stream == STREAM
    assert not entry.is_selected
    assert entry.key_properties == source_fixture.discovered_keys
    assert tuple(entry.field_metadata()["table-key-properties"]) == entry.key_properties
    assert {"id", "updated_at"} <= set(entry.field_metadata()["valid-replication-keys"])
    assert list(entry.properties) == list(COLUMNS)
    for name, (base, fmt) in EXPECTED_JSON_TYPES.items():
        types, found_format = _json_type(dict(entry.properties[name]))
        assert types - {"null"} == {base}, f"{name}: {entry.properties[name]}"
        assert found_format == fmt, f"{name}: {entry.properties[name]}"
        if name != "id":
            assert "null" in types, f"{name} is nullable: {entry.properties[name]}"
    kinds = {n: Column.from_json_schema(n, p) for n, p in entry.properties.items()}
    assert {n: kinds[n].kind for n in EXPECTED_KINDS} == EXPECTED_KINDS
    amount = kinds["amount"]
    if source_fixture.exact_decimals:
        assert (amount.kind, amount.precision, amount.scale) == (ColumnKind.DECIMAL, 12, 2)
    else:  # CSV and JSON lines have no decimal type: a double
        assert amount.kind is ColumnKind.DOUBLE


# -- full sync ----------------------------------------------------------------------------------
def test_full_sync_copies_every_value_exactly(source_fixture: SourceFixture, tmp_path: Path):
    rows = edge_rows()
    source_fixture.create(rows)
    source = source_fixture.source()
    path = tmp_path / "warehouse.duckdb"
    result = run_sync(source, warehouse(path), full_table_catalog(source), batch_size_rows=5)
    assert result.stream(STREAM).rows == len(rows)
    assert_same_rows(warehouse_rows(path), rows, COLUMNS)

    # A second full sync replaces the table: updates and inserts show, nothing is doubled.
    changed = [{**rows[0], "name": "changed", "flag": None}, {**rows[5], "amount": None}]
    added = [{**rows[1], "id": 424242, "name": "added"}]
    source_fixture.update(changed)
    source_fixture.insert(added)
    result = run_sync(source, warehouse(path), full_table_catalog(source), batch_size_rows=5)
    expected = {r["id"]: r for r in [*rows, *changed, *added]}
    assert result.stream(STREAM).rows == len(expected)
    assert_same_rows(warehouse_rows(path), expected.values(), COLUMNS)


# -- incremental sync with ties, then upserts ---------------------------------------------------
class _Batches:
    """Records the row count of each written batch (from `on_progress`)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._rows = 0

    def __call__(self, progress: SyncProgress) -> None:
        self.sizes.append(progress.rows - self._rows)
        self._rows = progress.rows


def _bookmark_position(bookmark: dict) -> tuple[datetime, dict]:
    assert bookmark["replication_key"] == "updated_at"
    value = datetime.fromisoformat(bookmark["replication_key_value"]).astimezone(UTC)
    return value, bookmark["key_values"]


@pytest.mark.parametrize("batch_size_rows", [1, 7])
def test_incremental_sync_with_ties_then_upserts(
    source_fixture: SourceFixture, tmp_path: Path, batch_size_rows: int
) -> None:
    rows = tied_rows(30)
    source_fixture.create(rows)
    source = source_fixture.source()
    path = tmp_path / "warehouse.duckdb"
    catalog = incremental_catalog(source)
    batches = _Batches()
    result = run_sync(
        source, warehouse(path), catalog, batch_size_rows=batch_size_rows, on_progress=batches
    )
    assert result.stream(STREAM).rows == 30
    assert sum(batches.sizes) == 30
    assert max(batches.sizes) <= batch_size_rows
    assert _bookmark_position(result.stream(STREAM).bookmark) == (
        TIE.replace(tzinfo=UTC),
        {"id": 30},
    )
    assert_same_rows(warehouse_rows(path), rows, COLUMNS)

    # Later: 5 inserts (one with a lower id than any, all after the tie) and 3 updates.
    by_id = {r["id"]: r for r in rows}
    inserted = [
        later(by_id[1], 1, id=0, name="new zero"),
        *(later(by_id[1], 1, id=i, name=f"new {i}") for i in (31, 32)),
        *(later(by_id[1], 3, id=i, name=f"new {i}", flag=None) for i in (33, 34)),
    ]
    updated = [
        later(by_id[5], 1, name="updated 5"),
        later(by_id[30], 1, amount=None),
        later(by_id[17], 2, name=None, flag=not by_id[17]["flag"]),
    ]
    source_fixture.insert(inserted)
    source_fixture.update(updated)
    result = run_sync(source, warehouse(path), catalog, batch_size_rows=batch_size_rows)
    assert result.stream(STREAM).rows == 8
    last = TIE + timedelta(hours=3)
    assert _bookmark_position(result.stream(STREAM).bookmark) == (
        last.replace(tzinfo=UTC),
        {"id": 34},
    )
    expected = {**by_id, **{r["id"]: r for r in [*inserted, *updated]}}
    assert_same_rows(warehouse_rows(path), expected.values(), COLUMNS)

    # Nothing changed: the next sync reads nothing.
    assert run_sync(source, warehouse(path), catalog).stream(STREAM).rows == 0


# -- schema change ------------------------------------------------------------------------------
def test_new_source_column_reaches_the_destination(source_fixture: SourceFixture, tmp_path: Path):
    rows = tied_rows(10)
    source_fixture.create(rows)
    source = source_fixture.source()
    path = tmp_path / "warehouse.duckdb"
    catalog = incremental_catalog(source)  # discovered before the column exists
    run_sync(source, warehouse(path), catalog, batch_size_rows=4)
    assert "note" not in warehouse_columns(path)

    source_fixture.add_column("note")
    by_id = {r["id"]: {**r, "note": None} for r in rows}
    inserted = [later(by_id[1], 1, id=11, note="eleven"), later(by_id[1], 1, id=12, note=None)]
    updated = [later(by_id[4], 2, note="four, noted")]
    source_fixture.insert(inserted)
    source_fixture.update(updated)
    rediscovered = source.discover(streams=[STREAM]).get(STREAM)
    assert _json_type(dict(rediscovered.properties["note"]))[0] - {"null"} == {"string"}

    result = run_sync(source, warehouse(path), catalog, batch_size_rows=4)
    assert result.stream(STREAM).rows == 3
    assert warehouse_columns(path)["note"] == "VARCHAR"
    expected = {**by_id, **{r["id"]: r for r in [*inserted, *updated]}}
    assert_same_rows(warehouse_rows(path), expected.values(), [*COLUMNS, "note"])


# -- resume after kill --------------------------------------------------------------------------
RESUME_ROWS = 3000
RESUME_BATCH_ROWS = 50
RESUME_PER_VALUE = 60  # rows per updated_at value: batches end inside groups of ties


def _start_child(fixture: SourceFixture, path: Path) -> subprocess.Popen[str]:
    module = "tests.integration.source_conformance.resume_child"
    arguments = [fixture.source_kind, json.dumps(fixture.config()), str(path)]
    return subprocess.Popen(
        [sys.executable, "-m", module, *arguments, str(RESUME_BATCH_ROWS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after(child: subprocess.Popen[str], batches: int, jitter_seconds: float) -> list[str]:
    """SIGKILL the child once it reported `batches` committed batches, plus a random moment."""
    seen: list[str] = []
    assert child.stdout is not None
    assert child.stderr is not None
    for line in child.stdout:
        seen.append(line.strip())
        if len(seen) >= batches:
            break
    time.sleep(jitter_seconds)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    errors = child.stderr.read()
    child.stdout.close()
    child.stderr.close()
    assert seen, f"the child reported no batch before it was killed: {errors[-2000:]}"
    return seen


def test_sync_killed_then_restarted_is_exact(source_fixture: SourceFixture, tmp_path: Path):
    rows = many_rows(RESUME_ROWS, RESUME_PER_VALUE)
    source_fixture.create(rows)
    path = tmp_path / "warehouse.duckdb"
    random.seed(source_fixture.name)
    for kill_at in (1, 2, 3):  # killed three times, each after more batches committed
        seen = _kill_after(_start_child(source_fixture, path), kill_at, random.uniform(0, 0.05))
        assert seen[-1].startswith("batch"), seen
    copied = len(warehouse_rows(path))
    assert 0 < copied < RESUME_ROWS, "the kills did not land mid-sync"

    source = source_fixture.source()
    catalog = incremental_catalog(source)
    resumed = run_sync(source, warehouse(path), catalog, batch_size_rows=RESUME_BATCH_ROWS)
    assert resumed.stream(STREAM).rows == RESUME_ROWS - copied  # nothing read twice
    assert_same_rows(warehouse_rows(path), rows, COLUMNS)
