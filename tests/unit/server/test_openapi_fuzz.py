"""schemathesis against the OpenAPI schema, as an owner (bounded: a few examples per operation).

Every operation is called with generated requests, valid and not, and every answer is checked
against the schema: no server error, a documented status code and content type, a body of the
documented shape. Fuzzing may revoke the owner's key or delete the owner, so the credentials
are renewed whenever they stop working.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from tests.unit.server.conftest import make_project
from weir.errors import ConflictError
from weir.server import Role, create_app

EXAMPLES_PER_OPERATION = 8


# schemathesis builds one test per operation at collection time, from a loaded schema (its
# fixture-based loader does not work with pytest 9), so the app is made when the module loads.
_WORKDIR = Path(tempfile.mkdtemp(prefix="weir-fuzz-"))
atexit.register(shutil.rmtree, _WORKDIR, ignore_errors=True)  # also when the tests are deselected
_APP = create_app(make_project(_WORKDIR / "project"), database_url=f"sqlite:///{_WORKDIR}/weir.db")
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@pytest.fixture(scope="module")
def fuzz_app() -> Iterator[FastAPI]:
    yield _APP
    _APP.state.weir.runs.engine.dispose()  # the app disposes it at shutdown; no lifespan here


@pytest.fixture(scope="module")
def owner_headers(fuzz_app: FastAPI) -> Callable[[], dict[str, str]]:
    auth = fuzz_app.state.weir.auth
    current: dict[str, str] = {}

    def headers() -> dict[str, str]:
        token = current.get("Authorization", " ").split(" ", 1)[1]
        if not token or auth.authenticate(token) is None:
            for number in range(1000):
                try:
                    user = auth.create_user(f"fuzz-owner-{number}", "fuzz-password", Role.OWNER)
                    break
                except ConflictError:
                    continue
            key, _record = auth.create_api_key(user.id, "schemathesis")
            current["Authorization"] = f"Bearer {key}"
        return dict(current)

    return headers


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    # A fixed seed: CI must not pass or fail by luck. Randomised exploration belongs in a
    # separate, longer run (see the closing note of issue 4 for the cases found so far).
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_the_schema(
    case: schemathesis.Case, owner_headers: Callable[[], dict[str, str]]
) -> None:
    case.call_and_validate(headers=owner_headers())
