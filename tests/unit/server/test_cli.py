"""`weir users` and the first-owner rule of `weir start`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.unit.server.conftest import make_project
from weir.cli.app import app
from weir.runs.database import DATABASE_URL_ENV, connect
from weir.server.auth import AuthStore, Role
from weir.server.serve import announce_first_owner, ensure_first_owner

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{tmp_path / 'weir.db'}")
    return make_project(tmp_path / "project")


def test_users_create_list_and_api_key(project: Path) -> None:
    created = runner.invoke(
        app,
        [
            "users",
            "create",
            str(project),
            "--username",
            "ada",
            "--role",
            "owner",
            "--password-stdin",
        ],
        input="a-long-password\n",
    )
    assert created.exit_code == 0, created.output
    assert "Created owner 'ada'" in created.output
    listed = runner.invoke(app, ["users", "list", str(project)])
    assert listed.output.split() == ["1", "ada", "owner"]
    key = runner.invoke(
        app, ["users", "api-key", str(project), "--username", "ada", "--name", "ci"]
    )
    assert key.exit_code == 0, key.output
    token = key.output.strip()
    engine = connect(f"sqlite:///{project.parent / 'weir.db'}")
    try:
        principal = AuthStore(engine).authenticate(token)
        assert principal is not None
        assert principal.user.username == "ada"
        assert AuthStore(engine).login("ada", "a-long-password") is not None
    finally:
        engine.dispose()


def test_users_create_prompts_for_the_password_twice(project: Path) -> None:
    result = runner.invoke(
        app,
        ["users", "create", str(project), "--username", "bob"],
        input="a-long-password\na-long-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created viewer 'bob'" in result.output


@pytest.mark.parametrize(
    ("arguments", "stdin", "message"),
    [
        (["--role", "admin"], "a-long-password\n", "role must be owner, editor or viewer"),
        ([], "short\n", "at least 8"),
        (["--username", "has space"], "a-long-password\n", "not allowed"),
    ],
)
def test_users_create_refusals(
    project: Path, arguments: list[str], stdin: str, message: str
) -> None:
    command = ["users", "create", str(project), "--username", "ada", "--password-stdin", *arguments]
    result = runner.invoke(app, command, input=stdin)
    assert result.exit_code == 2
    assert message in result.output


def test_a_taken_name_exits_2(project: Path) -> None:
    command = ["users", "create", str(project), "--username", "ada", "--password-stdin"]
    assert runner.invoke(app, command, input="a-long-password\n").exit_code == 0
    again = runner.invoke(app, command, input="a-long-password\n")
    assert again.exit_code == 2
    assert "exists already" in again.output


def test_first_owner_is_generated_once(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'weir.db'}")
    try:
        store = AuthStore(engine)
        owner = ensure_first_owner(store)
        assert owner is not None
        assert owner.username == "admin"
        assert len(owner.password) >= 24
        assert store.login("admin", owner.password) is not None
        assert ensure_first_owner(store) is None
        out = io.StringIO()
        announce_first_owner(owner, out)
        assert owner.password in out.getvalue()
    finally:
        engine.dispose()


def test_no_owner_is_generated_when_one_exists(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'weir.db'}")
    try:
        store = AuthStore(engine)
        store.create_user("ada", "a-long-password", Role.OWNER)
        assert ensure_first_owner(store) is None
        assert [u.username for u in store.list_users()] == ["ada"]
    finally:
        engine.dispose()
