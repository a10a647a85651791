"""End-to-end runs of small pipelines: real SQLite metadata database, real files, forked workers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.project_builder import BlockDef, write_project
from weir.data_products.store import DataProductStore
from weir.engine.runner import run_pipeline
from weir.project import load_project
from weir.runs.status import RunStatus


def statuses(record) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {b.block_uuid: b.status.value for b in record.block_runs}


def products(root: Path) -> DataProductStore:
    return DataProductStore(load_project(root).data_dir / "pipeline_runs")


LOADER = """
@data_loader
def load(*args, **kwargs):
    return [1, 2, 3]
"""

DOUBLE = """
@transformer
def double(data, *args, **kwargs):
    return [2 * x for x in data]
"""


def test_linear_pipeline_completes_and_persists_outputs(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef("load", LOADER, type="data_loader"),
            BlockDef("double", DOUBLE, upstream=["load"]),
        ],
    )
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.COMPLETED
    assert statuses(record) == {"load": "completed", "double": "completed"}
    assert products(root).read_output(record.id, "double") == [2, 4, 6]
    double_run = next(b for b in record.block_runs if b.block_uuid == "double")
    assert double_run.metrics["rows"] == 3
    assert double_run.attempts == 1
    assert double_run.started_at is not None
    assert double_run.completed_at is not None


def test_downstream_gets_the_upstream_object_from_memory(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef(
                "load",
                "import utils.shared as shared\n@data_loader\ndef load(*a, **k):\n"
                "    shared.OBJECT = {'big': list(range(10))}\n    return shared.OBJECT\n",
                type="data_loader",
            ),
            BlockDef(
                "check",
                "import utils.shared as shared\n@transformer\ndef check(data, *a, **k):\n"
                "    assert data is shared.OBJECT, 'the output was re-read instead of shared'\n"
                "    return True\n",
                upstream=["load"],
            ),
        ],
    )
    (root / "utils" / "__init__.py").write_text("")
    (root / "utils" / "shared.py").write_text("OBJECT = None\n")
    assert run_pipeline(root, "p").status is RunStatus.COMPLETED


def test_failure_marks_downstream_upstream_failed_and_others_go_on(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef(
                "bad",
                "@data_loader\ndef f(*a, **k):\n    raise RuntimeError('source down')\n",
                type="data_loader",
            ),
            BlockDef("after_bad", DOUBLE, upstream=["bad"]),
            BlockDef("after_after", DOUBLE, upstream=["after_bad"]),
            BlockDef("good", LOADER, type="data_loader"),
        ],
    )
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.FAILED
    assert statuses(record) == {
        "bad": "failed",
        "after_bad": "upstream_failed",
        "after_after": "upstream_failed",
        "good": "completed",
    }
    bad = next(b for b in record.block_runs if b.block_uuid == "bad")
    assert "RuntimeError: source down" in (bad.error or "")
    assert "Traceback" in (bad.traceback or "")
    assert "bad" in (record.error or "")


def test_independent_blocks_run_concurrently_up_to_the_limit(tmp_path: Path) -> None:
    sleeper = "import time\n@data_loader\ndef f(*a, **k):\n    time.sleep(0.6)\n    return 1\n"
    blocks = [BlockDef(f"s{i}", sleeper, type="data_loader") for i in range(3)]
    root = write_project(
        tmp_path / "parallel", "p", blocks, concurrency_config={"block_run_limit": 3}
    )
    started = time.monotonic()
    assert run_pipeline(root, "p").status is RunStatus.COMPLETED
    parallel_seconds = time.monotonic() - started
    root = write_project(
        tmp_path / "serial", "p", blocks, concurrency_config={"block_run_limit": 1}
    )
    started = time.monotonic()
    assert run_pipeline(root, "p").status is RunStatus.COMPLETED
    serial_seconds = time.monotonic() - started
    assert serial_seconds >= 1.8
    assert parallel_seconds < serial_seconds - 0.8


def test_retries_until_success(tmp_path: Path) -> None:
    flaky = (
        "from pathlib import Path\n@data_loader\ndef f(*a, **k):\n"
        "    marker = Path(__file__).with_suffix('.count')\n"
        "    count = int(marker.read_text()) if marker.exists() else 0\n"
        "    marker.write_text(str(count + 1))\n"
        "    if count < 2:\n        raise ConnectionError(f'attempt {count + 1} failed')\n"
        "    return count + 1\n"
    )
    retry = {"retry_config": {"retries": 2, "delay": 0.05, "exponential_backoff": True}}
    root = write_project(
        tmp_path / "proj", "p", [BlockDef("flaky", flaky, type="data_loader", extra=retry)]
    )
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.COMPLETED
    assert record.block_runs[0].attempts == 3
    assert products(root).read_output(record.id, "flaky") == 3


def test_retries_exhausted_fail_with_the_last_error(tmp_path: Path) -> None:
    always = "@data_loader\ndef f(*a, **k):\n    raise ConnectionError('still down')\n"
    retry = {"retry_config": {"retries": 1, "delay": 0}}
    root = write_project(
        tmp_path / "proj", "p", [BlockDef("x", always, type="data_loader", extra=retry)]
    )
    record = run_pipeline(root, "p")
    assert record.block_runs[0].status is RunStatus.FAILED
    assert record.block_runs[0].attempts == 2
    assert "still down" in (record.block_runs[0].error or "")


def test_timeout_fails_a_hung_block_quickly(tmp_path: Path) -> None:
    hang = "import time\n@data_loader\ndef f(*a, **k):\n    time.sleep(30)\n"
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef("hang", hang, type="data_loader", extra={"timeout": 0.5}),
            BlockDef("next", DOUBLE, upstream=["hang"]),
        ],
    )
    started = time.monotonic()
    record = run_pipeline(root, "p")
    assert time.monotonic() - started < 10
    assert statuses(record) == {"hang": "failed", "next": "upstream_failed"}
    assert "timeout of 0.5 s" in (record.block_runs[0].error or "")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("import os\n@data_loader\ndef f(*a, **k):\n    os._exit(7)\n", "exited with code 7"),
        (
            "import os, signal\n@data_loader\ndef f(*a, **k):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
            "killed by SIGKILL",
        ),
    ],
    ids=["os-exit", "sigkill"],
)
def test_a_dying_worker_never_leaves_the_run_running(
    tmp_path: Path, code: str, reason: str
) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("die", code, type="data_loader")])
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.FAILED
    assert reason in (record.error or "")
    assert record.block_runs[0].status is RunStatus.FAILED
    assert reason in (record.block_runs[0].error or "")


def test_rerun_of_one_block_reads_its_inputs_from_disk(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef("load", LOADER, type="data_loader"),
            BlockDef("double", DOUBLE, upstream=["load"]),
            BlockDef(
                "triple",
                "@transformer\ndef t(d, *a, **k):\n    return [3 * x for x in d]\n",
                upstream=["double"],
            ),
        ],
    )
    first = run_pipeline(root, "p")
    (root / "data_loaders" / "load.py").write_text(
        "@data_loader\ndef f(*a, **k):\n    raise RuntimeError\n"
    )
    rerun = run_pipeline(root, "p", block_uuids=["double"], downstream=True)
    assert rerun.status is RunStatus.COMPLETED
    assert statuses(rerun) == {"double": "completed", "triple": "completed"}
    assert products(root).read_output(rerun.id, "triple") == [6, 12, 18]
    assert rerun.id != first.id


def test_rerun_without_a_previous_upstream_run_says_what_to_do(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef("load", LOADER, type="data_loader"),
            BlockDef("double", DOUBLE, upstream=["load"]),
        ],
    )
    record = run_pipeline(root, "p", block_uuids=["double"])
    assert record.status is RunStatus.FAILED
    assert "--block load" in (record.block_runs[0].error or "")


def test_variables_pipeline_lt_trigger_lt_runtime(tmp_path: Path) -> None:
    code = "@data_loader\ndef f(*a, **k):\n    return [k['a'], k['b'], k['c']]\n"
    root = write_project(
        tmp_path / "proj",
        "p",
        [BlockDef("v", code, type="data_loader")],
        variables={"a": 1, "b": 1, "c": 1},
    )
    record = run_pipeline(root, "p", trigger_variables={"b": 2, "c": 2}, runtime_variables={"c": 3})
    assert products(root).read_output(record.id, "v") == [1, 2, 3]
    assert record.variables == {"a": 1, "b": 2, "c": 3}


def test_prints_and_logger_go_to_the_block_log(tmp_path: Path) -> None:
    code = (
        "@data_loader\ndef f(*a, **kwargs):\n    print('hello from print')\n"
        "    kwargs['logger'].warning('careful: %s', 42)\n    return 1\n"
    )
    root = write_project(tmp_path / "proj", "p", [BlockDef("talk", code, type="data_loader")])
    record = run_pipeline(root, "p")
    log_path = Path(record.block_runs[0].log_path or "")
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    messages = {(e["level"], e["message"], e["stream"]) for e in entries}
    assert ("INFO", "hello from print", "stdout") in messages
    assert ("WARNING", "careful: 42", "logger") in messages
    assert all(e["block_uuid"] == "talk" and e["pipeline_run_id"] == record.id for e in entries)


def test_runs_in_process_without_isolation(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "p", [BlockDef("load", LOADER, type="data_loader")])
    assert run_pipeline(root, "p", isolate=False).status is RunStatus.COMPLETED


@pytest.mark.postgres
def test_postgres_metadata_database(tmp_path: Path, postgres_url: str) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef("load", LOADER, type="data_loader"),
            BlockDef("double", DOUBLE, upstream=["load"]),
        ],
    )
    record = run_pipeline(root, "p", database_url=postgres_url)
    assert record.status is RunStatus.COMPLETED
    assert not (load_project(root).data_dir / "weir.db").exists()
    from weir.runs.store import RunStore

    with RunStore(postgres_url) as store:
        listed = store.list_pipeline_runs(pipeline_uuid="p")
    assert [r.id for r in listed] == [record.id]


def test_output_that_cannot_be_persisted_fails_the_block_and_the_run(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef(
                "make", "@data_loader\ndef f(*a, **k):\n    return lambda: 1\n", type="data_loader"
            ),
            BlockDef(
                "use", "@transformer\ndef t(fn, *a, **k):\n    return fn()\n", upstream=["make"]
            ),
            BlockDef("after", DOUBLE, upstream=["use"]),
        ],
    )
    record = run_pipeline(root, "p")
    assert record.status is RunStatus.FAILED
    make = record.block_run("make")
    assert make.status is RunStatus.FAILED
    assert "make" in (make.error or "")
    assert all(b.status is not RunStatus.RUNNING for b in record.block_runs)


def test_execute_a_recorded_run(tmp_path: Path) -> None:
    from weir.engine.runner import execute_recorded_run
    from weir.pipeline import load_pipeline
    from weir.runs.database import default_database_url
    from weir.runs.store import RunStore

    root = write_project(
        tmp_path / "proj",
        "p",
        [
            BlockDef("load", LOADER, type="data_loader"),
            BlockDef("double", DOUBLE, upstream=["load"]),
        ],
    )
    project = load_project(root)
    url = default_database_url(project.data_dir)
    with RunStore(url) as store:
        recorded = store.create_pipeline_run(
            "p",
            load_pipeline(project, "p").dag.blocks,
            variables={"x": 1},
            execution_date=datetime(2026, 1, 1, tzinfo=UTC),
        )
        store.transition_pipeline_run(recorded.id, RunStatus.QUEUED)
    record = execute_recorded_run(root, recorded.id)
    assert record.status is RunStatus.COMPLETED
    assert record.execution_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert products(root).read_output(record.id, "double") == [2, 4, 6]


def test_a_recorded_run_of_a_broken_pipeline_fails_with_the_reason(tmp_path: Path) -> None:
    from weir.engine.runner import execute_recorded_run
    from weir.runs.database import default_database_url
    from weir.runs.store import RunStore

    root = write_project(tmp_path / "proj", "p", [BlockDef("load", LOADER, type="data_loader")])
    url = default_database_url(load_project(root).data_dir)
    with RunStore(url) as store:
        recorded = store.create_pipeline_run(
            "p", ("load", "gone"), variables={}, execution_date=datetime(2026, 1, 1, tzinfo=UTC)
        )
    record = execute_recorded_run(root, recorded.id)
    assert record.status is RunStatus.FAILED
    assert "gone" in (record.error or "")
