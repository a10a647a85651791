"""Every route answers 401 without valid credentials, and 403 to a role that may not use it.

The routes are taken from the app itself, so a route added later is checked without anyone
remembering to list it here.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts

from tests.unit.server.conftest import Api
from weir.server import Role
from weir.server.context import READ_METHODS

PUBLIC_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect"})
"""FastAPI's schema and docs pages: public, they hold no project data."""

SIGN_IN = ("POST", "/api/sessions")
"""Takes the credentials in its body; without valid ones it answers 401 too."""

API_TRIGGER = re.compile(r"^/api/pipeline_schedules/\{[^}]+\}/pipeline_runs(/\{[^}]+\})?$")
"""Mage's API trigger: authorised by the trigger's own token instead of a user."""

OWNER_ONLY = re.compile(r"^/api/users(/|$)")
ANY_ROLE_WRITES = frozenset({("DELETE", "/api/sessions/current")})


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def routes(api: Api) -> list[tuple[str, str]]:
    # Every route the app serves, from FastAPI's own walk over included routers (the one its
    # OpenAPI generator uses), so routes hidden from the schema are checked too.
    found = []
    for route in iter_route_contexts(api.app.routes):
        if route.path is not None:
            # `{name:path}` in a route is `{name}` in the schema.
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            found.extend((method, path) for method in sorted(route.methods or ()))
    return found


def protected(api: Api) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in routes(api)
        if (method, path) != SIGN_IN
        and not (method == "POST" and API_TRIGGER.match(path))
        and path not in PUBLIC_PATHS
    ]


def test_the_route_list_covers_the_schema(api: Api) -> None:
    listed = {(method, path) for method, path in routes(api)}
    in_schema = {
        (method.upper(), path)
        for path, operations in api.app.openapi()["paths"].items()
        for method in operations
    }
    assert in_schema <= listed
    paths = {path for _method, path in protected(api)}
    assert {"/api/pipelines", "/api/pipeline_runs", "/metrics", "/api/users"} <= paths


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer weir_k_not-a-real-key"},
        {"Authorization": "Bearer weir_s_not-a-real-session"},
        {"Authorization": "Basic b3duZXI6cGFzc3dvcmQ="},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "unknown-key", "unknown-session", "basic", "empty-bearer"],
)
def test_every_route_needs_credentials(api: Api, headers: dict[str, str]) -> None:
    failures = []
    for method, path in protected(api):
        response = api.client.request(method, concrete(path), headers=headers, json={})
        if response.status_code != 401:
            failures.append(f"{method} {path}: {response.status_code}")
        elif response.headers.get("www-authenticate") != "Bearer":
            failures.append(f"{method} {path}: no WWW-Authenticate header")
    assert failures == []


def test_sign_in_without_valid_credentials_is_401(api: Api) -> None:
    for body in (
        {"username": "owner-user", "password": "wrong-password"},
        {"username": "x", "password": "y"},
    ):
        assert api.client.post("/api/sessions", json=body).status_code == 401


def test_viewers_get_403_on_every_write(api: Api) -> None:
    failures = []
    for method, path in protected(api):
        if method in READ_METHODS or (method, path) in ANY_ROLE_WRITES:
            continue
        response = api.client.request(method, concrete(path), headers=api.as_(Role.VIEWER), json={})
        if response.status_code != 403:
            failures.append(f"{method} {path}: {response.status_code}")
    assert failures == []


def test_editors_get_403_on_user_management(api: Api) -> None:
    owner_routes = [(m, p) for m, p in protected(api) if OWNER_ONLY.match(p)]
    assert owner_routes
    for method, path in owner_routes:
        response = api.client.request(method, concrete(path), headers=api.as_(Role.EDITOR), json={})
        assert response.status_code == 403, f"{method} {path}"


def test_viewers_may_read(api: Api) -> None:
    for path in ("/api/pipelines", "/api/pipeline_runs", "/metrics", "/api/sessions/current"):
        assert api.client.get(path, headers=api.as_(Role.VIEWER)).status_code == 200, path


def test_a_deleted_key_stops_working_at_once(api: Api) -> None:
    headers = api.as_(Role.EDITOR)
    keys = api.client.get("/api/api_keys", headers=headers).json()
    assert len(keys) == 1
    assert api.client.delete(f"/api/api_keys/{keys[0]['id']}", headers=headers).status_code == 204
    assert api.client.get("/api/pipelines", headers=headers).status_code == 401
