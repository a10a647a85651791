"""The API on a PostgreSQL metadata database: the queries that differ by dialect."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.unit.server.conftest import Api, TestClient, make_project
from weir.runs.status import RunStatus
from weir.runs.store import RunStore
from weir.server import Role, create_app

pytestmark = pytest.mark.postgres


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def api(tmp_path: Path, postgres_url: str) -> Iterator[Api]:
    root = make_project(tmp_path / "project")
    app = create_app(root, database_url=postgres_url)
    auth = app.state.weir.auth
    headers = {}
    for role in Role:
        user = auth.create_user(f"{role.value}-user", f"{role.value}-password", role)
        key, _record = auth.create_api_key(user.id, "tests")
        headers[role] = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        yield Api(client, app, root, postgres_url, headers)


def test_runs_filters_and_metrics_on_postgres(api: Api) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    clock = Clock(t0)
    store = RunStore(api.app.state.weir.runs.engine, clock=clock)
    for index, seconds in enumerate([0.05, 2.0, 40.0]):
        run = store.create_pipeline_run(
            "etl",
            ["load"],
            variables={"i": index, "nested": {"ok": True}},
            execution_date=t0 + timedelta(days=index),
            pipeline_schedule_id=index + 1,
        )
        store.transition_pipeline_run(run.id, RunStatus.RUNNING)
        store.transition_block_run(run.block_runs[0].id, RunStatus.RUNNING)
        clock.now += timedelta(seconds=seconds)
        store.transition_block_run(run.block_runs[0].id, RunStatus.COMPLETED)
        store.transition_pipeline_run(run.id, RunStatus.COMPLETED)
    viewer = api.as_(Role.VIEWER)
    page = api.client.get(
        "/api/pipeline_runs",
        params={"since": "2025-01-02T00:00:00+00:00", "until": "2025-01-03T00:00:00Z"},
        headers=viewer,
    ).json()
    assert page["total"] == 1
    assert page["items"][0]["variables"] == {"i": 1, "nested": {"ok": True}}
    assert page["items"][0]["execution_date"] == "2025-01-02T00:00:00Z"
    assert page["items"][0]["block_runs_by_status"] == {"completed": 1}
    by_trigger = api.client.get(
        "/api/pipeline_runs", params={"pipeline_schedule_id": 3}, headers=viewer
    ).json()
    assert [run["variables"]["i"] for run in by_trigger["items"]] == [2]
    metrics = api.client.get("/metrics", headers=viewer).text
    bucket = 'weir_block_run_duration_seconds_bucket{pipeline_uuid="etl",le="%s"} (\\S+)'
    assert re.search(bucket % "0.1", metrics).group(1) == "1"  # type: ignore[union-attr]
    assert re.search(bucket % "5", metrics).group(1) == "2"  # type: ignore[union-attr]
    assert re.search(bucket % "60", metrics).group(1) == "3"  # type: ignore[union-attr]
    total = re.search(r'_sum\{pipeline_uuid="etl"\} (\S+)', metrics)
    assert total is not None
    assert abs(float(total.group(1)) - 42.05) < 0.01


def test_auth_triggers_and_last_owner_on_postgres(api: Api) -> None:
    signed_in = api.client.post(
        "/api/sessions", json={"username": "editor-user", "password": "editor-password"}
    )
    assert signed_in.status_code == 201
    editor = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    trigger = api.client.post(
        "/api/pipeline_schedules",
        json={"name": "hook", "pipeline_uuid": "etl", "schedule_type": "api"},
        headers=editor,
    ).json()
    fired = api.client.post(
        f"/api/pipeline_schedules/{trigger['id']}/pipeline_runs",
        json={"pipeline_run": {"variables": {"n": 1}}},
        headers={"Authorization": f"Bearer {trigger['token']}"},
    )
    assert fired.status_code == 200, fired.text
    assert fired.json()["pipeline_run"]["status"] == "queued"
    owner = api.as_(Role.OWNER)
    me = api.client.get("/api/sessions/current", headers=owner).json()
    assert api.client.delete(f"/api/users/{me['id']}", headers=owner).status_code == 409
    assert api.client.get("/api/pipeline_runs/2147483647", headers=owner).status_code == 404
