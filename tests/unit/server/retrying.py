"""A project for "retry from a block", and the scenario shared by SQLite and PostgreSQL tests.

Pipeline `etl`:  load -> double -> export,  side -> export.
Each block appends its name to `calls.txt` in the project folder when it runs. `double` fails
while the file `fail_double` exists, `side` while `fail_side` exists. `load` returns rows built
from the run variable `base`, so a run's outputs tell which run's `load` they came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.project_builder import BlockDef, write_project
from weir.engine.runner import data_product_store, execute_recorded_run, run_pipeline
from weir.project.project import load_project
from weir.runs.records import PipelineRunRecord

_RECORD = """
from pathlib import Path

def record(name):
    root = Path(__file__).resolve().parents[1]
    with open(root / "calls.txt", "a") as calls:
        calls.write(name + "\\n")
    return root
"""

LOAD = (
    _RECORD
    + """
@data_loader
def load(*args, **kwargs):
    record("load")
    return [{"n": kwargs["base"] + i} for i in range(3)]
"""
)
DOUBLE = (
    _RECORD
    + """
@transformer
def double(rows, *args, **kwargs):
    if (record("double") / "fail_double").exists():
        raise ValueError("asked to fail")
    return [{"n": row["n"], "twice": row["n"] * 2} for row in rows]
"""
)
SIDE = (
    _RECORD
    + """
@data_loader
def side(*args, **kwargs):
    if (record("side") / "fail_side").exists():
        raise ValueError("side asked to fail")
    return [{"label": "side"}]
"""
)
EXPORT = (
    _RECORD
    + """
@data_exporter
def export(doubled, labels, *args, **kwargs):
    record("export")
    return [{"total": sum(row["twice"] for row in doubled), "label": labels[0]["label"]}]
"""
)


def make_retry_project(root: Path) -> Path:
    """Write the project (see the module docstring); returns its root."""
    return write_project(
        root,
        "etl",
        [
            BlockDef("load", LOAD, type="data_loader"),
            BlockDef("double", DOUBLE, upstream=["load"]),
            BlockDef("side", SIDE, type="data_loader"),
            BlockDef("export", EXPORT, type="data_exporter", upstream=["double", "side"]),
        ],
    )


def calls(root: Path) -> list[str]:
    """The blocks that ran so far, in order."""
    path = root / "calls.txt"
    return path.read_text().split() if path.exists() else []


def statuses(run: PipelineRunRecord) -> dict[str, str]:
    """{block: status} of a run."""
    return {b.block_uuid: b.status.value for b in run.block_runs}


def run_once(root: Path, url: str, *, base: int, fail: tuple[str, ...] = ()) -> PipelineRunRecord:
    """Run `etl` in-process with the given blocks made to fail; returns the finished run."""
    for name in ("double", "side"):
        flag = root / f"fail_{name}"
        flag.touch() if name in fail else flag.unlink(missing_ok=True)
    return run_pipeline(
        root, "etl", runtime_variables={"base": base}, isolate=False, database_url=url
    )


def execute(root: Path, url: str, run_id: int, *, fail: tuple[str, ...] = ()) -> PipelineRunRecord:
    """Execute a queued run as a scheduler's worker would, with the given blocks failing."""
    for name in ("double", "side"):
        flag = root / f"fail_{name}"
        flag.touch() if name in fail else flag.unlink(missing_ok=True)
    return execute_recorded_run(root, run_id, isolate=False, database_url=url)


def output(root: Path, run_id: int, block_uuid: str) -> Any:
    """A block's first output in a run, as persisted."""
    return data_product_store(load_project(root)).read(run_id, block_uuid)[0]
