"""A project whose pipelines exercise the scheduler: quick, slow, stalling, flaky, crashing..."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.project_builder import BlockDef, write_project

MARK = """
import os
from pathlib import Path

@data_loader
def mark(*args, **kwargs):
    # One line per execution of the block, appended atomically: the exactly-once evidence.
    path = Path(__file__).resolve().parents[1] / "marks.txt"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{kwargs['pipeline_run_id']}\\n".encode())
    os.close(fd)
    return kwargs["pipeline_run_id"]
"""

SLEEPY = """
import time

@data_loader
def sleepy(*args, **kwargs):
    time.sleep(float(kwargs.get("sleep", 30)))
    return 1
"""

FLAKY = """
from pathlib import Path

@data_loader
def flaky(*args, **kwargs):
    marker = Path(__file__).resolve().parents[1] / f"flaky-{kwargs['pipeline_run_id']}"
    if not marker.exists():
        marker.touch()
        raise RuntimeError("first attempt fails")
    return 1
"""

STALL = """
import time
from pathlib import Path

@data_loader
def stall(*args, **kwargs):
    # Hangs on a run's first attempt only, so a retry of it completes at once.
    marker = Path(__file__).resolve().parents[1] / f"stalled-{kwargs['pipeline_run_id']}"
    if not marker.exists():
        marker.touch()
        time.sleep(120)
    return 1
"""

CRASH = """
import os

@data_loader
def crash(*args, **kwargs):
    os._exit(7)
"""

PARENT = """
from weir.orchestration import trigger_pipeline
from mage_ai.settings.repo import get_repo_path

@data_loader
def parent(*args, **kwargs):
    child = trigger_pipeline(get_repo_path(), "quick", {"from": "parent"}, wait=True,
                             poll_seconds=0.2, timeout=60)
    assert child.status == "completed", child.error
    return child.id
"""


def scheduler_project(root: Path) -> Path:
    """Write the project; returns its root."""
    write_project(root, "quick", [BlockDef("mark", MARK, type="data_loader")])
    write_project(
        root, "slow", [BlockDef("sleepy", SLEEPY, type="data_loader")], variables={"sleep": 30}
    )
    write_project(
        root,
        "flaky",
        [BlockDef("flaky", FLAKY, type="data_loader")],
        retry_config={"retries": 2, "delay": 0},
    )
    write_project(root, "crashy", [BlockDef("crash", CRASH, type="data_loader")])
    write_project(root, "stall", [BlockDef("stall", STALL, type="data_loader")])
    write_project(
        root,
        "limited",
        [BlockDef("sleepy", SLEEPY, type="data_loader")],
        variables={"sleep": 1},
        concurrency_config={"pipeline_run_limit": 1},
    )
    write_project(root, "parent", [BlockDef("parent", PARENT, type="data_loader")])
    return root


def marks(root: Path) -> list[int]:
    path = root / "marks.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def start_scheduler(
    root: Path, database_url: str, *extra: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`weir scheduler` as a child process in a session of its own (so tests can kill it)."""
    command = [sys.executable, "-m", "weir.cli", "scheduler", str(root), *extra]
    environment = {**os.environ, "WEIR_DATABASE_URL": database_url}
    if log is None:
        return subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            command, env=environment, stdout=out, stderr=out, start_new_session=True
        )


def children_of(pid: int) -> list[int]:
    """Pids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found
