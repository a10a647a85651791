"""`weir start` (the HTTP API with the scheduler) and `weir users` (users and API keys).

Heavy modules (FastAPI, uvicorn, SQLAlchemy) are imported inside the commands, so that
`weir --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from weir.server.auth import AuthStore

app = typer.Typer(help="Users of the HTTP API, their roles and API keys.", no_args_is_help=True)

ProjectArgument = Annotated[Path, typer.Argument(help="The project folder.")]


def start(
    project: ProjectArgument,
    host: Annotated[str, typer.Option(help="Address to bind (default: this machine only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 6789,
    scheduler: Annotated[
        bool, typer.Option(help="Also run the scheduler (a child process).")
    ] = True,
) -> None:
    """Serve the HTTP API and run the scheduler until Ctrl-C or SIGTERM."""
    from weir.cli.errors import exit_on_error
    from weir.server.serve import serve

    with exit_on_error():
        serve(project, host=host, port=port, scheduler=scheduler)


def _auth_store(project: Path) -> AuthStore:
    from weir.project.project import load_project
    from weir.runs.database import connect, default_database_url
    from weir.server.auth import AuthStore

    loaded = load_project(project)
    return AuthStore(connect(default_database_url(loaded.data_dir)))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@app.command("create")
def create_user(
    project: ProjectArgument,
    username: Annotated[str, typer.Option(help="The new user's name.")],
    role: Annotated[str, typer.Option(help="owner, editor or viewer.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
) -> None:
    """Add a user (prompts for the password unless --password-stdin)."""
    from weir.cli.errors import exit_on_error
    from weir.server.auth import Role

    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter(f"role must be owner, editor or viewer, not {role!r}") from None
    password = _read_password(password_stdin)
    with exit_on_error():
        try:
            user = _auth_store(project).create_user(username, password, chosen)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    typer.echo(f"Created {user.role.value} '{user.username}' (id {user.id})")


@app.command("list")
def list_users(project: ProjectArgument) -> None:
    """List users and their roles."""
    from weir.cli.errors import exit_on_error

    with exit_on_error():
        users = _auth_store(project).list_users()
    for user in users:
        typer.echo(f"{user.id}\t{user.username}\t{user.role.value}")


@app.command("api-key")
def create_api_key(
    project: ProjectArgument,
    username: Annotated[str, typer.Option(help="Whose key; it acts with that user's role.")],
    name: Annotated[str, typer.Option(help="What the key is for.")],
) -> None:
    """Make an API key for a user and print it (shown this once)."""
    from weir.cli.errors import exit_on_error

    with exit_on_error():
        store = _auth_store(project)
        match = [user for user in store.list_users() if user.username == username]
        if not match:
            raise typer.BadParameter(f"no user named {username!r}")
        key, _record = store.create_api_key(match[0].id, name)
    typer.echo(key)
