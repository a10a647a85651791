"""`weir start` for real: uvicorn on a free loopback port with its scheduler child process.

End to end: the first start prints a generated owner password; that owner signs in, creates an
API trigger and calls it; the scheduler runs the queued run to `completed`; `/metrics` shows
the run and the scheduler's heartbeat; SIGTERM stops server and scheduler. A second start
prints no password.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.unit.server.conftest import make_project


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    output: Path
    handle: IO[str]

    def text(self) -> str:
        return self.output.read_text()


def start(project: Path, database_url: str, log: Path) -> Server:
    port = free_port()
    environment = {**os.environ, "WEIR_DATABASE_URL": database_url}
    handle = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "weir.cli", "start", str(project), "--port", str(port)],
        env=environment,
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            httpx.get(f"{url}/api/sessions/current", timeout=1)
            return Server(process, url, log, handle)
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    handle.close()
    pytest.fail(f"weir start did not answer within 30 s:\n{log.read_text()}")


def stop(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(60)
    finally:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
        server.handle.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def server(project: Path, tmp_path: Path) -> Iterator[Server]:
    running = start(project, f"sqlite:///{tmp_path / 'weir.db'}", tmp_path / "first.log")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            stop(running)


def generated_password(output: str) -> str:
    found = re.search(r"username: admin\s+password: (\S+)", output)
    assert found, output
    return found.group(1)


def wait_for(predicate, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail("timed out")


def scheduler_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def test_start_trigger_run_metrics_and_stop(server: Server, project: Path, tmp_path: Path) -> None:
    password = wait_for(lambda: "password:" in server.text() and generated_password(server.text()))
    with httpx.Client(base_url=server.url, timeout=10) as http:
        signed_in = http.post("/api/sessions", json={"username": "admin", "password": password})
        assert signed_in.status_code == 201, signed_in.text
        http.headers["Authorization"] = f"Bearer {signed_in.json()['token']}"
        trigger = http.post(
            "/api/pipeline_schedules",
            json={"name": "hook", "pipeline_uuid": "etl", "schedule_type": "api"},
        ).json()
        fired = http.post(
            f"/api/pipeline_schedules/{trigger['id']}/pipeline_runs/{trigger['token']}",
            json={"pipeline_run": {"variables": {"from": "test"}}},
            headers={"Authorization": ""},
        )
        assert fired.status_code == 200, fired.text
        run_id = fired.json()["pipeline_run"]["id"]

        def finished() -> dict | None:
            run = http.get(f"/api/pipeline_runs/{run_id}").json()
            return run if run["status"] in ("completed", "failed", "cancelled") else None

        run = wait_for(finished)
        assert run["status"] == "completed", run
        assert {b["status"] for b in run["block_runs"]} == {"completed"}
        preview = http.get(
            f"/api/pipeline_runs/{run_id}/outputs/0/preview", params={"block_uuid": "double"}
        ).json()
        assert preview["rows"] == [[1, 2], [2, 4], [3, 6]]
        metrics = http.get("/metrics").text
        assert 'weir_pipeline_runs{pipeline_uuid="etl",status="completed"} 1' in metrics
        age = re.search(r"^weir_scheduler_heartbeat_age_seconds (\S+)$", metrics, re.M)
        assert age is not None, metrics
        assert float(age.group(1)) < 5
    children = scheduler_children(server.process.pid)
    assert len(children) == 1
    assert stop(server) == 0
    assert (
        not Path(f"/proc/{children[0]}").exists()
        or "zombie" in Path(f"/proc/{children[0]}/status").read_text()
    )
    again = start(project, f"sqlite:///{tmp_path / 'weir.db'}", tmp_path / "second.log")
    try:
        assert "password:" not in again.text()
    finally:
        assert stop(again) == 0
    assert "password:" not in again.text()
