"""The hook dispatcher, the alerts plug-in point, and the package's curated surface."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

import pytest

import weir.orchestration
from tests.unit.orchestration.conftest import T0
from weir.orchestration.hooks import (
    ALERTS_HOOK,
    EventKind,
    HookDispatcher,
    RunEvent,
    default_hooks,
)
from weir.project.project import Project
from weir.runs.records import PipelineRunRecord
from weir.runs.status import RunStatus


def event(run_id: int, project: Project) -> RunEvent:
    run = PipelineRunRecord(
        id=run_id,
        pipeline_uuid="etl",
        pipeline_schedule_id=None,
        status=RunStatus.FAILED,
        execution_date=T0,
        variables={},
        created_at=T0,
        started_at=None,
        completed_at=T0,
        heartbeat_at=None,
        error="boom",
        metrics={},
        block_runs=(),
    )
    return RunEvent(EventKind.RUN_ENDED, run, None, project, T0)


def test_hooks_run_in_order_off_the_callers_thread(project: Project) -> None:
    seen: list[tuple[int, str]] = []
    caller = threading.current_thread().name
    dispatcher = HookDispatcher(
        [lambda e: seen.append((e.run.id, threading.current_thread().name))]
    )
    for run_id in range(5):
        dispatcher.submit(event(run_id, project))
    dispatcher.flush()
    assert [run_id for run_id, _ in seen] == list(range(5))
    assert {name for _, name in seen} == {"weir-hooks"} != {caller}
    dispatcher.close()


def test_a_failing_hook_is_logged_and_the_others_still_run(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    def broken(_event: RunEvent) -> None:
        raise RuntimeError("webhook down")

    dispatcher = HookDispatcher([broken, lambda e: seen.append(e.run.id)])
    with caplog.at_level(logging.ERROR, logger="weir.orchestration.hooks"):
        dispatcher.submit(event(1, project))
        dispatcher.close()
    assert seen == [1]
    assert "failed on run_ended of run 1" in caplog.text


def test_no_hooks_no_thread(project: Project) -> None:
    dispatcher = HookDispatcher([])
    dispatcher.submit(event(1, project))
    assert dispatcher._thread is None
    dispatcher.close()


def test_default_hooks_load_the_alerts_module_when_it_exists() -> None:
    assert ALERTS_HOOK == "weir.orchestration.alerts:handle_run_event"
    assert default_hooks("weir.orchestration.not_there:handle") == []
    assert default_hooks("no_such_package.alerts:handle") == []
    (hook,) = default_hooks("json:dumps")
    assert hook.__name__ == "dumps"


def test_curated_all() -> None:
    assert sorted(weir.orchestration.__all__) == weir.orchestration.__all__
    for name in weir.orchestration.__all__:
        assert getattr(weir.orchestration, name) is not None
    assert {
        "Scheduler",
        "TriggerStore",
        "enqueue_run",
        "claim_next_run",
        "trigger_pipeline",
    } <= set(weir.orchestration.__all__)


def test_cli_help_does_not_import_orchestration() -> None:
    probe = (
        "import sys; from weir.cli.app import app; "
        "print(sorted(m for m in sys.modules if m.startswith('weir.orchestration')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
