"""Triggers over the API, and Mage's API triggers (the trigger's token instead of a user)."""

from __future__ import annotations

import yaml

from tests.unit.server.conftest import Api
from weir.runs.status import RunStatus
from weir.server import Role


def triggers_yaml(api: Api) -> dict:
    return yaml.safe_load((api.root / "pipelines" / "etl" / "triggers.yaml").read_text())


def create(api: Api, **fields: object) -> dict:
    body = {"name": "hourly", "pipeline_uuid": "etl", "schedule_interval": "@hourly", **fields}
    response = api.client.post("/api/pipeline_schedules", json=body, headers=api.as_(Role.EDITOR))
    assert response.status_code == 201, response.text
    return response.json()


def test_time_trigger_crud_keeps_triggers_yaml_in_step(api: Api) -> None:
    headers = api.as_(Role.EDITOR)
    created = create(api, variables={"n": 1}, settings={"catch_up": "none"})
    assert (created["schedule_type"], created["status"], created["token"]) == (
        "time",
        "active",
        None,
    )
    assert created["settings"]["catch_up"] == "none"
    assert [t["name"] for t in triggers_yaml(api)["triggers"]] == ["hourly"]
    trigger_id = created["id"]
    assert (
        api.client.get(f"/api/pipeline_schedules/{trigger_id}", headers=headers).json()["name"]
        == "hourly"
    )
    listed = api.client.get(
        "/api/pipeline_schedules", params={"pipeline_uuid": "etl"}, headers=headers
    )
    assert [t["id"] for t in listed.json()] == [trigger_id]
    patched = api.client.patch(
        f"/api/pipeline_schedules/{trigger_id}",
        json={"schedule_interval": "0 6 * * *"},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert triggers_yaml(api)["triggers"][0]["schedule_interval"] == "0 6 * * *"
    disabled = api.client.post(f"/api/pipeline_schedules/{trigger_id}/disable", headers=headers)
    assert disabled.json()["status"] == "inactive"
    assert triggers_yaml(api)["triggers"][0]["status"] == "inactive"
    enabled = api.client.post(f"/api/pipeline_schedules/{trigger_id}/enable", headers=headers)
    assert enabled.json()["status"] == "active"
    assert (
        api.client.delete(f"/api/pipeline_schedules/{trigger_id}", headers=headers).status_code
        == 204
    )
    assert triggers_yaml(api)["triggers"] == []
    assert (
        api.client.get(f"/api/pipeline_schedules/{trigger_id}", headers=headers).status_code == 404
    )


def test_invalid_triggers_are_422_and_duplicates_409(api: Api) -> None:
    headers = api.as_(Role.EDITOR)
    for body in (
        {"name": "x", "pipeline_uuid": "etl"},  # a time trigger needs an interval
        {"name": "x", "pipeline_uuid": "etl", "schedule_interval": "every full moon"},
        {
            "name": "x",
            "pipeline_uuid": "etl",
            "schedule_interval": "@daily",
            "timezone": "Mars/Base",
        },
    ):
        assert (
            api.client.post("/api/pipeline_schedules", json=body, headers=headers).status_code
            == 422
        ), body
    missing = {"name": "x", "pipeline_uuid": "nope", "schedule_interval": "@daily"}
    assert (
        api.client.post("/api/pipeline_schedules", json=missing, headers=headers).status_code == 404
    )
    create(api)
    again = {"name": "hourly", "pipeline_uuid": "etl", "schedule_interval": "@daily"}
    assert (
        api.client.post("/api/pipeline_schedules", json=again, headers=headers).status_code == 409
    )
    trigger_id = api.client.get("/api/pipeline_schedules", headers=headers).json()[0]["id"]
    moved = api.client.patch(
        f"/api/pipeline_schedules/{trigger_id}",
        json={"schedule_interval": "never"},
        headers=headers,
    )
    assert moved.status_code == 422


def test_api_trigger_with_token_in_path_and_as_bearer(api: Api) -> None:
    created = create(
        api,
        name="webhook",
        schedule_type="api",
        schedule_interval=None,
        variables={"source": "trigger", "n": 1},
    )
    token, trigger_id = created["token"], created["id"]
    assert token
    assert created["has_token"]
    assert token not in (api.root / "pipelines" / "etl" / "triggers.yaml").read_text()
    fired = api.client.post(
        f"/api/pipeline_schedules/{trigger_id}/pipeline_runs/{token}",
        json={"pipeline_run": {"variables": {"n": 2}}},
    )
    assert fired.status_code == 200, fired.text
    run = fired.json()["pipeline_run"]
    assert run["status"] == RunStatus.QUEUED
    assert run["pipeline_schedule_id"] == trigger_id
    assert run["variables"] == {"source": "trigger", "n": 2}
    assert [b["block_uuid"] for b in run["block_runs"]] == ["load", "double"]
    bearer = api.client.post(
        f"/api/pipeline_schedules/{trigger_id}/pipeline_runs",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert bearer.status_code == 200, bearer.text
    assert bearer.json()["pipeline_run"]["variables"] == {"source": "trigger", "n": 1}
    runs = api.client.get(
        f"/api/pipeline_schedules/{trigger_id}/pipeline_runs", headers=api.as_(Role.VIEWER)
    ).json()
    assert runs["total"] == 2


def test_api_trigger_refusals(api: Api) -> None:
    created = create(api, name="webhook", schedule_type="api", schedule_interval=None)
    token, trigger_id = created["token"], created["id"]
    url = f"/api/pipeline_schedules/{trigger_id}/pipeline_runs"
    for attempt in (
        api.client.post(f"{url}/wrong-token"),
        api.client.post(f"/api/pipeline_schedules/999/pipeline_runs/{token}"),
        api.client.post(url),
        api.client.post(url, headers=api.as_(Role.OWNER)),  # a user's key is not the trigger's
        api.client.post(url, headers={"Authorization": "Bearer "}),
    ):
        assert attempt.status_code == 401, attempt.text
    bad_body = api.client.post(f"{url}/{token}", json={"pipeline_run": {"variables": [1, 2]}})
    assert bad_body.status_code == 422
    editor = api.as_(Role.EDITOR)
    api.client.post(f"/api/pipeline_schedules/{trigger_id}/disable", headers=editor)
    inactive = api.client.post(f"{url}/{token}")
    assert inactive.status_code == 409
    assert "inactive" in inactive.json()["detail"]
    api.client.post(f"/api/pipeline_schedules/{trigger_id}/enable", headers=editor)
    new_token = api.client.post(
        f"/api/pipeline_schedules/{trigger_id}/token", headers=editor
    ).json()["token"]
    assert api.client.post(f"{url}/{token}").status_code == 401
    assert api.client.post(f"{url}/{new_token}").status_code == 200
    assert api.client.get("/api/pipeline_runs", headers=editor).json()["total"] == 1
