"""Signing in and out, users (owners only) and API keys over the API."""

from __future__ import annotations

from tests.unit.server.conftest import Api
from weir.server import Role


def sign_in(api: Api, username: str, password: str) -> dict[str, str]:
    response = api.client.post("/api/sessions", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_sign_in_use_and_sign_out(api: Api) -> None:
    headers = sign_in(api, "viewer-user", "viewer-password")
    me = api.client.get("/api/sessions/current", headers=headers).json()
    assert (me["username"], me["role"]) == ("viewer-user", "viewer")
    assert api.client.delete("/api/sessions/current", headers=headers).status_code == 204
    assert api.client.get("/api/sessions/current", headers=headers).status_code == 401


def test_signing_out_with_an_api_key_is_refused(api: Api) -> None:
    response = api.client.delete("/api/sessions/current", headers=api.as_(Role.VIEWER))
    assert response.status_code == 409
    assert api.client.get("/api/sessions/current", headers=api.as_(Role.VIEWER)).status_code == 200


def test_owner_manages_users(api: Api) -> None:
    owner = api.as_(Role.OWNER)
    created = api.client.post(
        "/api/users",
        json={"username": "carol", "password": "carol-password", "role": "editor"},
        headers=owner,
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert "password" not in created.text
    duplicate = api.client.post(
        "/api/users",
        json={"username": "carol", "password": "carol-password", "role": "viewer"},
        headers=owner,
    )
    assert duplicate.status_code == 409
    short = api.client.post(
        "/api/users",
        json={"username": "dave", "password": "short", "role": "viewer"},
        headers=owner,
    )
    assert short.status_code == 422
    carol = sign_in(api, "carol", "carol-password")
    assert api.client.post("/api/pipelines", json={"uuid": "p2"}, headers=carol).status_code == 201
    demoted = api.client.patch(f"/api/users/{user_id}", json={"role": "viewer"}, headers=owner)
    assert demoted.json()["role"] == "viewer"
    # The session is still valid, with the new role.
    assert api.client.post("/api/pipelines", json={"uuid": "p3"}, headers=carol).status_code == 403
    api.client.patch(
        f"/api/users/{user_id}", json={"password": "new-carol-password"}, headers=owner
    )
    assert api.client.get("/api/sessions/current", headers=carol).status_code == 401
    assert api.client.delete(f"/api/users/{user_id}", headers=owner).status_code == 204
    assert [u["username"] for u in api.client.get("/api/users", headers=owner).json()] == [
        "owner-user",
        "editor-user",
        "viewer-user",
    ]
    me = api.client.get("/api/sessions/current", headers=owner).json()
    last = api.client.delete(f"/api/users/{me['id']}", headers=owner)
    assert last.status_code == 409
    assert "last owner" in last.json()["detail"]


def test_api_keys_are_shown_once_and_scoped_to_their_user(api: Api) -> None:
    editor, owner, viewer = api.as_(Role.EDITOR), api.as_(Role.OWNER), api.as_(Role.VIEWER)
    created = api.client.post("/api/api_keys", json={"name": "ci"}, headers=editor)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("weir_k_")
    assert created.json()["hint"] == key[-4:]
    listed = api.client.get("/api/api_keys", headers=editor).json()
    assert [k["name"] for k in listed] == ["tests", "ci"]
    assert key not in str(listed)
    assert len(api.client.get("/api/api_keys", headers=owner).json()) == 4  # an owner sees all
    viewer_keys = api.client.get("/api/api_keys", headers=viewer).json()
    editor_key_id = listed[1]["id"]
    assert (
        api.client.delete(f"/api/api_keys/{viewer_keys[0]['id']}", headers=editor).status_code
        == 404
    )
    me = {u["username"]: u["id"] for u in api.client.get("/api/users", headers=owner).json()}
    for_viewer = api.client.post(
        "/api/api_keys", json={"name": "grafana", "user_id": me["viewer-user"]}, headers=editor
    )
    assert for_viewer.status_code == 403
    by_owner = api.client.post(
        "/api/api_keys", json={"name": "grafana", "user_id": me["viewer-user"]}, headers=owner
    )
    assert by_owner.status_code == 201
    grafana = {"Authorization": f"Bearer {by_owner.json()['key']}"}
    assert api.client.get("/metrics", headers=grafana).status_code == 200
    assert api.client.post("/api/pipelines", json={"uuid": "x"}, headers=grafana).status_code == 403
    assert api.client.delete(f"/api/api_keys/{editor_key_id}", headers=owner).status_code == 204
    assert (
        api.client.get(
            "/api/sessions/current", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 401
    )
