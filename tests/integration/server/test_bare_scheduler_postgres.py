"""A bare `weir scheduler` process (no `weir start`) shows in the API's `/metrics`, on PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.unit.server.conftest import TestClient, make_project
from weir.server import Role, create_app

pytestmark = pytest.mark.postgres


def test_a_bare_scheduler_process_is_visible_to_the_api(tmp_path: Path, postgres_url: str) -> None:
    project = make_project(tmp_path / "project")
    app = create_app(project, database_url=postgres_url)
    auth = app.state.weir.auth
    viewer = auth.create_user("viewer-user", "viewer-password", Role.VIEWER)
    key, _record = auth.create_api_key(viewer.id, "tests")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "weir.cli", "scheduler", str(project), "--quiet"],
        env={**os.environ, "WEIR_DATABASE_URL": postgres_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with TestClient(app) as client:
            age = None
            deadline = time.monotonic() + 30
            while age is None and time.monotonic() < deadline:
                text = client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
                found = re.search(r"^weir_scheduler_heartbeat_age_seconds (\S+)$", text, re.M)
                age = float(found.group(1)) if found else None
                time.sleep(0.2)
            assert age is not None, "no scheduler heartbeat within 30 s"
            assert age < 5
    finally:
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(30) == 0
