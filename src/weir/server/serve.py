"""`weir start`: the HTTP API under uvicorn, with the scheduler beside it, until stopped.

The scheduler runs in a child process of its own (`weir.server.scheduler_process`; like any
scheduler it records its heartbeat in the database, for `/metrics`): the scheduler forks a
worker per run, and forking from a process full of server threads is unsafe; a separate process
also keeps its loop's CPU off the API's GIL. If the server is killed with SIGKILL the scheduler
lives on; a second one started later is safe (schedulers share work through the database).

SIGINT or SIGTERM stops uvicorn gracefully (in-flight requests finish), then the scheduler is
asked to stop (SIGTERM) and given `SCHEDULER_STOP_SECONDS` before it is killed.

First start: when the metadata database has no owner yet, an owner named `admin` is created
with a generated password, printed once on stdout. Weir never has a default password.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from weir.errors import ConflictError
from weir.server.auth import AuthStore, Role
from weir.server.credentials import new_password

__all__ = [
    "FIRST_OWNER",
    "SCHEDULER_STOP_SECONDS",
    "FirstOwner",
    "ensure_first_owner",
    "serve",
    "start_scheduler",
    "stop_scheduler",
]

FIRST_OWNER: Final = "admin"
SCHEDULER_STOP_SECONDS: Final = 30.0

_log = logging.getLogger("weir.server")


@dataclass(frozen=True, slots=True)
class FirstOwner:
    """The owner generated on first start, with the password to show once."""

    username: str
    password: str


def ensure_first_owner(auth: AuthStore) -> FirstOwner | None:
    """Create the owner `admin` with a generated password if no owner exists.

    Two servers starting at once may both try; the second finds the name taken and creates
    nothing.

    Returns:
        The new owner and its password, or None when an owner existed already.
    """
    if auth.count_owners() > 0:
        return None
    password = new_password()
    try:
        auth.create_user(FIRST_OWNER, password, Role.OWNER)
    except ConflictError:
        return None
    return FirstOwner(FIRST_OWNER, password)


def announce_first_owner(owner: FirstOwner, out: TextIO) -> None:
    """Print the generated owner's credentials, once, with what to do next."""
    out.write(
        "\nNo owner existed, so one was created. Its password is shown this once:\n"
        f"  username: {owner.username}\n  password: {owner.password}\n"
        "Sign in with POST /api/sessions; change it with PATCH /api/users/{id}, or make your own "
        "owner with `weir users create`.\n\n"
    )
    out.flush()


def start_scheduler(project: Path, database_url: str) -> subprocess.Popen[bytes]:
    """Start the scheduler (`weir.server.scheduler_process`) on the same metadata database."""
    environment = {**os.environ, "WEIR_DATABASE_URL": database_url}
    return subprocess.Popen(
        [sys.executable, "-m", "weir.server.scheduler_process", os.fspath(project)],
        env=environment,
    )


def stop_scheduler(
    process: subprocess.Popen[bytes], timeout: float = SCHEDULER_STOP_SECONDS
) -> int:
    """Ask the scheduler to stop (SIGTERM), wait `timeout` seconds, then kill it.

    Returns:
        Its exit code (negative: the signal that ended it).
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _log.warning("the scheduler did not stop within %.0f s; killing it", timeout)
            process.kill()
    return process.wait()


def serve(
    project: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 6789,
    database_url: str | None = None,
    scheduler: bool = True,
    out: TextIO = sys.stdout,
) -> None:
    """Serve the project's API until SIGINT/SIGTERM, with the scheduler unless told not to.

    Args:
        project: the project folder.
        host: the address to bind; 127.0.0.1 by default (reachable from this machine only).
        port: the TCP port.
        database_url: the metadata database; default `WEIR_DATABASE_URL` or the project's SQLite.
        scheduler: also run the scheduler (a child process) while serving.
        out: where the first owner's generated password is printed.

    Raises:
        ProjectNotFoundError, ConfigError: before anything starts.
    """
    import uvicorn

    from weir.server.app import create_app

    app = create_app(project, database_url=database_url)
    context = app.state.weir
    owner = ensure_first_owner(context.auth)
    if owner is not None:
        announce_first_owner(owner, out)
    child = start_scheduler(context.project.root, context.database_url) if scheduler else None
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False)
    try:
        with _signals_end_serving():
            uvicorn.Server(config).run()
    finally:
        if child is not None:
            stop_scheduler(child)


@contextmanager
def _signals_end_serving() -> Iterator[None]:
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for the
    # handler that was there before it. Make that handler a no-op, so the signal ends serving
    # and `serve` still stops the scheduler and returns, instead of the process dying at once.
    received: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda number, _frame: received.append(number))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            _log.info("stopped by signal %s", signal.Signals(received[0]).name)
