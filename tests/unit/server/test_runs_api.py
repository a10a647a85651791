"""Runs, block runs, logs and output previews over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.server.conftest import Api
from weir.engine.runner import run_pipeline
from weir.runs.records import PipelineRunRecord
from weir.runs.status import RunStatus
from weir.runs.store import RunStore
from weir.server import Role

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def execute(api: Api, **variables: object) -> PipelineRunRecord:
    return run_pipeline(
        api.root,
        "etl",
        runtime_variables=variables,
        isolate=False,
        database_url=api.database_url,
    )


@pytest.fixture
def store(api: Api) -> RunStore:
    return api.app.state.weir.runs


def seed(store: RunStore) -> list[PipelineRunRecord]:
    """Six recorded runs: dates T0 + i days, triggers 1/2/None, half of them failed."""
    runs = []
    for index in range(6):
        run = store.create_pipeline_run(
            "etl" if index < 5 else "other",
            ["load", "double"],
            variables={"i": index},
            execution_date=T0 + timedelta(days=index),
            pipeline_schedule_id=(1, 2, None)[index % 3],
        )
        if index % 2:
            store.transition_pipeline_run(run.id, RunStatus.FAILED, error="boom")
        runs.append(run)
    return runs


def ids(api: Api, **params: object) -> tuple[list[int], int]:
    response = api.client.get("/api/pipeline_runs", params=params, headers=api.as_(Role.VIEWER))
    assert response.status_code == 200, response.text
    body = response.json()
    return [run["id"] for run in body["items"]], body["total"]


def test_list_filters_and_paging(api: Api, store: RunStore) -> None:
    runs = seed(store)
    every = [run.id for run in reversed(runs)]
    assert ids(api) == (every, 6)
    assert ids(api, limit=2, offset=1) == (every[1:3], 6)
    assert ids(api, limit=0) == ([], 6)
    assert ids(api, pipeline_uuid="other") == ([runs[5].id], 1)
    assert ids(api, status="failed") == ([runs[5].id, runs[3].id, runs[1].id], 3)
    assert ids(api, status=["failed", "initial"]) == (every, 6)
    assert ids(api, pipeline_schedule_id=2) == ([runs[4].id, runs[1].id], 2)
    since, until = (T0 + timedelta(days=2)).isoformat(), (T0 + timedelta(days=4)).isoformat()
    assert ids(api, since=since, until=until) == ([runs[3].id, runs[2].id], 2)
    assert ids(api, since="2025-03-05T00:00:00") == ([runs[5].id, runs[4].id], 2)  # naive = UTC
    body = api.client.get(
        "/api/pipeline_runs", params={"limit": 1}, headers=api.as_(Role.VIEWER)
    ).json()
    item = body["items"][0]
    assert item["block_runs_by_status"] == {"initial": 2}
    assert item["execution_date"] == "2025-03-06T00:00:00Z"
    assert (body["limit"], body["offset"]) == (1, 0)


@pytest.mark.parametrize(
    "params",
    [{"limit": -1}, {"limit": 501}, {"offset": -1}, {"status": "sleeping"}, {"since": "yesterday"}],
)
def test_bad_list_parameters_are_422(api: Api, params: dict[str, object]) -> None:
    response = api.client.get("/api/pipeline_runs", params=params, headers=api.as_(Role.VIEWER))
    assert response.status_code == 422


def test_read_run_block_runs_logs_and_outputs(api: Api) -> None:
    run = execute(api)
    assert run.status is RunStatus.COMPLETED
    viewer = api.as_(Role.VIEWER)
    detail = api.client.get(f"/api/pipeline_runs/{run.id}", headers=viewer).json()
    assert detail["status"] == "completed"
    assert [b["block_uuid"] for b in detail["block_runs"]] == ["load", "double"]
    block_runs = api.client.get(f"/api/pipeline_runs/{run.id}/block_runs", headers=viewer).json()
    assert block_runs == detail["block_runs"]
    one = api.client.get(f"/api/block_runs/{block_runs[0]['id']}", headers=viewer).json()
    assert one == block_runs[0]
    logs = api.client.get(f"/api/pipeline_runs/{run.id}/logs", headers=viewer).json()["entries"]
    assert "loading rows" in [entry["message"] for entry in logs]
    assert {entry["block_uuid"] for entry in logs} == {"load", "double"}
    stamps = [entry["timestamp"] for entry in logs]
    assert stamps == sorted(stamps)
    found = api.client.get(
        f"/api/pipeline_runs/{run.id}/logs", params={"search": "LOADING"}, headers=viewer
    ).json()["entries"]
    assert [entry["message"] for entry in found] == ["loading rows"]
    tail = api.client.get(
        f"/api/pipeline_runs/{run.id}/logs",
        params={"lines": 1, "block_uuid": "load"},
        headers=viewer,
    ).json()["entries"]
    assert len(tail) == 1
    assert tail[0]["block_uuid"] == "load"
    outputs = api.client.get(
        f"/api/pipeline_runs/{run.id}/outputs", params={"block_uuid": "double"}, headers=viewer
    ).json()
    assert [(o["index"], o["kind"], o["rows"]) for o in outputs] == [(0, "pandas", 3)]
    assert outputs[0]["column_types"] == [["n", "int64"], ["twice", "int64"]]
    preview = api.client.get(
        f"/api/pipeline_runs/{run.id}/outputs/0/preview",
        params={"block_uuid": "double", "rows": 2},
        headers=viewer,
    ).json()
    assert preview == {
        "kind": "pandas",
        "columns": [{"name": "n", "type": "int64"}, {"name": "twice", "type": "int64"}],
        "rows": [[1, 2], [2, 4]],
        "row_count": 3,
    }


def test_missing_things_are_404(api: Api) -> None:
    run = execute(api)
    viewer = api.as_(Role.VIEWER)
    for path, params in (
        ("/api/pipeline_runs/999", {}),
        ("/api/pipeline_runs/999/block_runs", {}),
        ("/api/block_runs/999", {}),
        ("/api/pipeline_runs/999/logs", {}),
        ("/api/pipeline_runs/999/outputs", {"block_uuid": "load"}),
        (f"/api/pipeline_runs/{run.id}/outputs/5/preview", {"block_uuid": "load"}),
        (f"/api/pipeline_runs/{run.id}/outputs/0/preview", {"block_uuid": "ghost"}),
    ):
        response = api.client.get(path, params=params, headers=viewer)
        assert response.status_code == 404, (path, response.text)
    assert (
        api.client.get(
            f"/api/pipeline_runs/{run.id}/outputs", params={"block_uuid": "ghost"}, headers=viewer
        ).json()
        == []
    )


def test_queue_cancel_and_retry(api: Api, store: RunStore) -> None:
    editor = api.as_(Role.EDITOR)
    queued = api.client.post(
        "/api/pipeline_runs", json={"pipeline_uuid": "etl", "variables": {"x": 1}}, headers=editor
    )
    assert queued.status_code == 201, queued.text
    run = queued.json()
    assert (run["status"], run["variables"]) == ("queued", {"x": 1})
    cancelled = api.client.post(f"/api/pipeline_runs/{run['id']}/cancel", headers=editor).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"] == "cancelled by editor-user through the API"
    assert {b["status"] for b in cancelled["block_runs"]} == {"cancelled"}
    again = api.client.post(f"/api/pipeline_runs/{run['id']}/cancel", headers=editor)
    assert again.status_code == 409
    retried = api.client.post(f"/api/pipeline_runs/{run['id']}/retry", json={}, headers=editor)
    assert retried.status_code == 201, retried.text
    assert (retried.json()["id"], retried.json()["status"], retried.json()["attempt"]) == (
        run["id"],
        "queued",
        2,
    )
    missing = api.client.post("/api/pipeline_runs", json={"pipeline_uuid": "nope"}, headers=editor)
    assert missing.status_code == 404


def test_retry_from_a_block_queues_the_same_run_again(api: Api) -> None:
    # The whole behaviour, through execution, is in test_retry_from_block.py.
    failed = execute(api, fail=True)
    assert failed.status is RunStatus.FAILED
    editor = api.as_(Role.EDITOR)
    unknown = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry", json={"block_uuid": "ghost"}, headers=editor
    )
    assert unknown.status_code == 404
    response = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry", json={"block_uuid": "double"}, headers=editor
    )
    assert response.status_code == 201, response.text
    again = response.json()
    assert (again["id"], again["status"], again["attempt"]) == (failed.id, "queued", 1)
    assert [(b["block_uuid"], b["status"]) for b in again["block_runs"]] == [
        ("load", "completed"),
        ("double", "initial"),
    ]
    assert again["variables"] == {"fail": True}
    queued = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry", json={"block_uuid": "double"}, headers=editor
    )
    assert queued.status_code == 409  # queued again: no longer failed
    completed = execute(api)
    refused = api.client.post(
        f"/api/pipeline_runs/{completed.id}/retry", json={"block_uuid": "double"}, headers=editor
    )
    assert refused.status_code == 409


def test_block_run_counts_for_dense_and_sparse_pages(api: Api, store: RunStore) -> None:
    rare = []
    for index in range(30):
        pipeline = "rare" if index in (0, 29) else "etl"
        run = store.create_pipeline_run(
            pipeline, ["a", "b", "c"], variables={}, execution_date=T0 + timedelta(days=index)
        )
        if pipeline == "rare":
            rare.append(run)
        if index % 2:
            block = run.block_runs[0]
            store.transition_block_run(block.id, RunStatus.CANCELLED)
    viewer = api.as_(Role.VIEWER)
    sparse = api.client.get(
        "/api/pipeline_runs", params={"pipeline_uuid": "rare"}, headers=viewer
    ).json()["items"]
    assert [(r["id"], r["block_runs_by_status"]) for r in sparse] == [
        (rare[1].id, {"cancelled": 1, "initial": 2}),
        (rare[0].id, {"initial": 3}),
    ]
    dense = api.client.get("/api/pipeline_runs", params={"limit": 3}, headers=viewer).json()
    assert [r["block_runs_by_status"] for r in dense["items"]] == [
        {"cancelled": 1, "initial": 2},
        {"initial": 3},
        {"cancelled": 1, "initial": 2},
    ]
