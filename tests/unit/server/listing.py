"""Shared check of the raw-SQL run listing against the ORM's reading of the same rows.

Used by the SQLite test here and the PostgreSQL one in `tests/integration/server`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import Engine

from weir.runs.status import RunStatus
from weir.runs.store import RunStore
from weir.server import run_listing
from weir.server.schemas import RunOut

T0 = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seed_varied_runs(engine: Engine) -> RunStore:
    """Runs covering every kind of value a listed column holds; returns the store used."""
    clock = Clock(T0.replace(microsecond=120_000))
    store = RunStore(engine, clock=clock)
    plain = store.create_pipeline_run(
        "etl", ["load", "double"], variables={}, execution_date=T0, pipeline_schedule_id=3
    )
    odd = store.create_pipeline_run(
        "other",
        ["a", "b", "c"],
        variables={"name": "Zoë ✓", "nested": {"list": [1, 2.5, None, True]}, "quote": 'a"b'},
        execution_date=T0 + timedelta(days=1, microseconds=7),
        backfill_id=9,
    )
    store.transition_pipeline_run(odd.id, RunStatus.RUNNING)
    store.transition_block_run(odd.block_runs[0].id, RunStatus.RUNNING)
    clock.now += timedelta(seconds=1, microseconds=1)
    store.transition_block_run(odd.block_runs[0].id, RunStatus.COMPLETED)
    store.transition_block_run(odd.block_runs[1].id, RunStatus.RUNNING)
    store.transition_block_run(odd.block_runs[1].id, RunStatus.FAILED, error="boom")
    store.transition_pipeline_run(odd.id, RunStatus.FAILED, error="block 'b' failed:\n\tboom")
    store.mark_passed_sla(odd.id)
    # No block runs at all: the counts are an empty object, not null.
    store.create_pipeline_run(
        "etl", [], variables={"i": 3}, execution_date=T0 - timedelta(days=400)
    )
    store.transition_pipeline_run(plain.id, RunStatus.CANCELLED)
    return store


def orm_item(store: RunStore, run_id: int) -> dict[str, Any]:
    """The listed item of a run as the ORM reads it, encoded as the API's schema would."""
    record = store.get_pipeline_run(run_id)
    counts: dict[str, int] = {}
    for block_run in record.block_runs:
        counts[block_run.status.value] = counts.get(block_run.status.value, 0) + 1
    names = [name for name in RunOut.model_fields if name != "block_runs_by_status"]
    fields = {name: getattr(record, name) for name in names}
    item = RunOut.model_validate({**fields, "block_runs_by_status": counts})
    encoded: dict[str, Any] = orjson.loads(item.model_dump_json())
    return encoded


def decoded(page: run_listing.RunPage) -> list[dict[str, Any]]:
    """The page's runs as the client reads them."""
    runs: list[dict[str, Any]] = orjson.loads(orjson.dumps(page.runs))
    return runs


def assert_listing_matches_orm(engine: Engine) -> None:
    """Every listed run equals its ORM reading, byte for byte once encoded, in RunOut's order."""
    store = seed_varied_runs(engine)
    page = run_listing.list_runs(engine, run_listing.RunFilter(), limit=10, offset=0)
    assert page.total == 3
    listed = decoded(page)
    expected = [orm_item(store, run["id"]) for run in listed]
    assert listed == expected
    assert [list(run) for run in listed] == [list(RunOut.model_fields)] * 3
    assert [run["id"] for run in listed] == sorted((run["id"] for run in listed), reverse=True)
    assert listed[1]["execution_date"] == "2025-03-02T12:30:00.000007Z"
    assert listed[1]["created_at"] == "2025-03-01T12:30:00.120000Z"
    assert listed[0]["execution_date"] == "2024-01-26T12:30:00Z"
    assert listed[1]["passed_sla"] is True
    assert listed[0]["block_runs_by_status"] == {}


def assert_filters_match_boundaries(engine: Engine) -> None:
    """`since` is inclusive and `until` exclusive to the microsecond; totals count past a page."""
    seed_varied_runs(engine)
    exact = T0 + timedelta(days=1, microseconds=7)

    def listed(limit: int = 10, offset: int = 0, **filters: Any) -> tuple[list[str], int]:
        page = run_listing.list_runs(
            engine, run_listing.RunFilter(**filters), limit=limit, offset=offset
        )
        return [run["pipeline_uuid"] for run in decoded(page)], page.total

    assert listed(since=exact) == (["other"], 1)
    assert listed(since=exact + timedelta(microseconds=1)) == ([], 0)
    assert listed(until=exact) == (["etl", "etl"], 2)
    assert listed(until=exact + timedelta(microseconds=1)) == (["etl", "other", "etl"], 3)
    # An offset given as another time zone means the same instant.
    assert listed(since=exact.astimezone(timezone(timedelta(hours=-5)))) == (["other"], 1)
    assert listed(statuses=(RunStatus.FAILED, RunStatus.CANCELLED)) == (["other", "etl"], 2)
    assert listed(pipeline_uuid="etl", pipeline_schedule_id=3) == (["etl"], 1)
    assert listed(limit=1) == (["etl"], 3)
    assert listed(limit=1, offset=2) == (["etl"], 3)
    assert listed(limit=0) == ([], 3)
    assert listed(offset=5) == ([], 3)
