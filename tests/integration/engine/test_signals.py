"""Stopping `weir run` from outside: the run ends cancelled, never left running."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.project_builder import BlockDef, write_project
from weir.project import load_project
from weir.runs.database import default_database_url
from weir.runs.status import RunStatus
from weir.runs.store import RunStore

SLOW = "import time\n@data_loader\ndef f(*a, **k):\n    time.sleep(60)\n"


def _wait_until_running(root: Path, timeout_seconds: float = 20) -> None:
    deadline = time.monotonic() + timeout_seconds
    url = default_database_url(load_project(root).data_dir)
    while time.monotonic() < deadline:
        if Path(url.removeprefix("sqlite:///")).exists():
            with RunStore(url) as store:
                runs = store.list_pipeline_runs()
                if runs and runs[0].block_runs[0].status is RunStatus.RUNNING:
                    return
        time.sleep(0.1)
    raise AssertionError("the block never started")


def test_sigterm_to_weir_run_cancels_the_run(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("slow", SLOW, type="data_loader")])
    process = subprocess.Popen(
        [sys.executable, "-m", "weir.cli", "run", str(root), "p", "--no-live"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_running(root)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, output
    with RunStore(default_database_url(load_project(root).data_dir)) as store:
        (run,) = store.list_pipeline_runs()
    assert run.status is RunStatus.CANCELLED
    assert run.block_runs[0].status is RunStatus.CANCELLED
    assert "interrupted" in (run.error or "")
