"""An app on a small project with a SQLite metadata database, and users of each role."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from tests.project_builder import BlockDef, write_project
from weir.server import Role, create_app

with warnings.catch_warnings():
    # Starlette's test client warns that it prefers `httpx2`; Weir's tests use httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

LOADER = """
@data_loader
def load(*args, **kwargs):
    print("loading rows")
    return [{"n": 1}, {"n": 2}, {"n": 3}]
"""
DOUBLE = """
import pandas as pd

@transformer
def double(rows, *args, **kwargs):
    if kwargs.get("fail"):
        raise ValueError("asked to fail")
    frame = pd.DataFrame(rows)
    return frame.assign(twice=frame["n"] * 2)
"""


@dataclass(frozen=True)
class Api:
    """A test client and one bearer header per role."""

    client: TestClient
    app: FastAPI
    root: Path
    database_url: str
    headers: dict[Role, dict[str, str]]

    def as_(self, role: Role) -> dict[str, str]:
        return self.headers[role]


def make_project(root: Path) -> Path:
    return write_project(
        root,
        "etl",
        [
            BlockDef("load", LOADER, type="data_loader"),
            BlockDef("double", DOUBLE, upstream=["load"]),
        ],
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'weir.db'}"


@pytest.fixture
def api(project: Path, database_url: str) -> Iterator[Api]:
    app = create_app(project, database_url=database_url)
    auth = app.state.weir.auth
    headers = {}
    for role in Role:
        user = auth.create_user(f"{role.value}-user", f"{role.value}-password", role)
        key, _record = auth.create_api_key(user.id, "tests")
        headers[role] = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        yield Api(client, app, project, database_url, headers)
