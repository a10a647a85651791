"""The scheduler in this process, runs in real worker processes, decisions on a manual clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.orchestration.helpers import marks, scheduler_project
from tests.project_builder import BlockDef, write_project
from weir.orchestration import (
    EventKind,
    ManualClock,
    RunEvent,
    Scheduler,
    TriggerSpec,
    enqueue_run,
    trigger_pipeline,
)
from weir.orchestration.queue import RunLimits, claim_next_run
from weir.pipeline.pipeline import load_pipeline
from weir.runs.status import RunStatus

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return scheduler_project(tmp_path / "project")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def events() -> list[RunEvent]:
    return []


@pytest.fixture
def scheduler(root: Path, clock: ManualClock, events: list[RunEvent]) -> Iterator[Scheduler]:
    url = f"sqlite:///{root / '.weir' / 'weir.db'}"
    (root / ".weir").mkdir(exist_ok=True)
    with Scheduler(
        root, url, clock=clock, workers=2, stale_after=30, hooks=[events.append], sweep_seconds=0
    ) as running:
        yield running


def add_trigger(scheduler: Scheduler, pipeline: str, **fields: object) -> int:
    data: dict[str, object] = {
        "name": f"{pipeline}-trigger",
        "pipeline_uuid": pipeline,
        "schedule_interval": "@hourly",
    }
    data.update(fields)
    record, _ = scheduler.triggers.create(TriggerSpec.model_validate(data))
    return record.id


def kinds(events: list[RunEvent]) -> list[tuple[str, int, str]]:
    return [(e.kind.value, e.run.id, e.run.status.value) for e in events]


def test_a_due_run_executes_and_the_hook_hears_of_it(
    scheduler: Scheduler, root: Path, events: list[RunEvent]
) -> None:
    trigger_id = add_trigger(scheduler, "quick", variables={"who": "trigger"})
    report = scheduler.tick()
    assert report.enqueued == report.started == [1]
    assert scheduler.drain().finished == [1]
    run = scheduler.runs.get_pipeline_run(1)
    assert (run.status, run.pipeline_schedule_id, run.execution_date) == (
        RunStatus.COMPLETED,
        trigger_id,
        T0,
    )
    assert run.variables == {"who": "trigger"}
    assert run.claimed_by == scheduler.name
    assert marks(root) == [1]
    scheduler.flush_hooks()
    assert kinds(events) == [("run_ended", 1, "completed")]
    assert events[0].trigger is not None
    assert events[0].trigger.id == trigger_id
    assert not events[0].will_retry


def test_runs_queued_elsewhere_are_started(scheduler: Scheduler, root: Path) -> None:
    project = scheduler.project
    queued = enqueue_run(scheduler.runs, None, T0, pipeline=load_pipeline(project, "quick"))
    child = trigger_pipeline(project, "quick", {"x": 1}, database_url=scheduler.database_url)
    assert child.status is RunStatus.QUEUED
    assert sorted(scheduler.tick().started) == sorted([queued.id, child.id])
    scheduler.drain()
    assert sorted(marks(root)) == sorted([queued.id, child.id])


def test_a_failed_run_is_retried_per_the_pipelines_retry_config(
    scheduler: Scheduler, events: list[RunEvent]
) -> None:
    add_trigger(scheduler, "flaky")
    scheduler.tick()
    first = scheduler.drain()
    assert (first.finished, first.retried) == ([1], [1])
    assert scheduler.runs.get_pipeline_run(1).status is RunStatus.QUEUED
    assert scheduler.tick().started == [1]
    scheduler.drain()
    run = scheduler.runs.get_pipeline_run(1)
    assert (run.status, run.attempt) == (RunStatus.COMPLETED, 2)
    (previous,) = run.metrics["previous_attempts"]
    assert previous["failed_blocks"]["flaky"].startswith("block 'flaky'")
    scheduler.flush_hooks()
    assert [(e.run.status.value, e.will_retry) for e in events] == [
        ("failed", True),
        ("completed", False),
    ]


def test_retry_delay_and_attempts_from_the_trigger(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    add_trigger(
        scheduler,
        "crashy",
        settings={"retry_config": {"retries": 1, "delay": 300, "max_delay": 600}},
    )
    scheduler.tick()
    assert scheduler.drain().retried == [1]
    run = scheduler.runs.get_pipeline_run(1)
    assert run.start_after == T0 + timedelta(seconds=300)
    assert scheduler.tick().started == []  # not before its delay
    clock.advance(300)
    assert scheduler.tick().started == [1]
    last = scheduler.drain()
    assert (last.finished, last.retried) == ([1], [])  # one retry only
    run = scheduler.runs.get_pipeline_run(1)
    assert (run.status, run.attempt) == (RunStatus.FAILED, 2)
    assert "exited with code 7" in (run.error or "")


def test_a_worker_that_dies_fails_its_run_with_the_reason(scheduler: Scheduler) -> None:
    add_trigger(scheduler, "crashy")
    scheduler.tick()
    scheduler.drain()
    run = scheduler.runs.get_pipeline_run(1)
    assert run.status is RunStatus.FAILED
    assert "worker process exited with code 7 before the run finished" in (run.error or "")
    assert run.block_runs[0].status is RunStatus.FAILED


def test_a_run_past_its_timeout_is_stopped(scheduler: Scheduler) -> None:
    add_trigger(scheduler, "slow", settings={"timeout": 1})
    started = time.monotonic()
    scheduler.tick()
    report = scheduler.drain(timeout=20)
    assert report.timed_out == [1]
    assert time.monotonic() - started < 10
    run = scheduler.runs.get_pipeline_run(1)
    assert run.status is RunStatus.FAILED
    assert "longer than its trigger's timeout of 1 s (settings.timeout)" in (run.error or "")


def test_sla_miss_is_reported_once(
    scheduler: Scheduler, clock: ManualClock, events: list[RunEvent]
) -> None:
    add_trigger(scheduler, "slow", sla=60)
    scheduler.tick()
    clock.advance(59)
    assert scheduler.tick().sla_missed == []
    clock.advance(2)
    assert scheduler.tick().sla_missed == [1]
    assert scheduler.tick().sla_missed == []
    assert scheduler.runs.get_pipeline_run(1).passed_sla
    scheduler.flush_hooks()
    assert [(e.kind, e.run.id, e.run.is_terminal) for e in events] == [
        (EventKind.SLA_MISSED, 1, False)
    ]


def test_a_run_that_ends_late_is_reported_when_it_ends(
    scheduler: Scheduler, events: list[RunEvent]
) -> None:
    add_trigger(scheduler, "quick", sla=1)
    scheduler.tick()
    assert scheduler.drain().sla_missed == [1]  # it completed (real time) long after T0 + 1 s
    scheduler.flush_hooks()
    assert kinds(events) == [("sla_missed", 1, "completed"), ("run_ended", 1, "completed")]


def test_a_stale_run_of_a_dead_scheduler_is_failed_and_retried(
    scheduler: Scheduler, clock: ManualClock, root: Path
) -> None:
    trigger_id = add_trigger(
        scheduler, "quick", status="inactive", settings={"retry_config": {"retries": 1, "delay": 0}}
    )
    trigger = scheduler.triggers.get(trigger_id)
    ghost = enqueue_run(
        scheduler.runs, trigger, T0, pipeline=load_pipeline(scheduler.project, "quick")
    )
    assert ghost is not None
    claim_next_run(scheduler.runs, "ghost", lambda _c: RunLimits())  # a scheduler that then died
    scheduler.runs.transition_pipeline_run(ghost.id, RunStatus.RUNNING)
    clock.advance(29)
    assert scheduler.tick().recovered == []
    clock.advance(2)
    report = scheduler.tick()
    assert (report.recovered, report.retried, report.started) == ([ghost.id],) * 3
    scheduler.drain()
    run = scheduler.runs.get_pipeline_run(ghost.id)
    assert (run.status, run.attempt, run.claimed_by) == (RunStatus.COMPLETED, 2, scheduler.name)
    reason = run.metrics["previous_attempts"][0]["error"]
    assert reason.startswith("no heartbeat since 2024-05-01 12:00:00 UTC, more than 30 s")
    assert "claimed by scheduler ghost" in reason
    assert marks(root) == [ghost.id]


def test_a_stale_run_started_by_hand_is_failed_not_retried(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    run = scheduler.runs.create_pipeline_run("quick", ["mark"], variables={}, execution_date=T0)
    scheduler.runs.transition_pipeline_run(run.id, RunStatus.RUNNING)
    clock.advance(31)
    report = scheduler.tick()
    assert (report.recovered, report.retried, report.started) == ([run.id], [], [])
    assert scheduler.runs.get_pipeline_run(run.id).status is RunStatus.FAILED


def test_pipeline_run_limit_holds_runs_back(scheduler: Scheduler) -> None:
    trigger = scheduler.triggers.get(add_trigger(scheduler, "limited", status="inactive"))
    pipeline = load_pipeline(scheduler.project, "limited")
    for hour in range(3):
        enqueue_run(scheduler.runs, trigger, T0 + timedelta(hours=hour), pipeline=pipeline)
    assert scheduler.tick().started == [1]  # two free workers, one allowed
    scheduler.drain()
    assert scheduler.tick().started == [2]
    scheduler.drain()
    assert scheduler.tick().started == [3]
    scheduler.drain()


def test_always_on_starts_again_when_its_run_ends(root: Path) -> None:
    clock = ManualClock(datetime.now(UTC))
    with Scheduler(root, clock=clock, workers=1, hooks=[]) as scheduler:
        add_trigger(scheduler, "quick", schedule_interval="@always_on")
        assert scheduler.tick().started == [1]
        assert scheduler.tick().enqueued == []  # still running
        scheduler.drain()
        clock.set(datetime.now(UTC))
        assert scheduler.tick().started == [2]
        scheduler.drain()
        first, second = (scheduler.runs.get_pipeline_run(i) for i in (1, 2))
        assert second.execution_date == first.completed_at
    assert marks(root) == [1, 2]


def test_a_run_cancelled_meanwhile_has_its_worker_stopped(scheduler: Scheduler) -> None:
    add_trigger(scheduler, "slow")
    scheduler.tick()
    time.sleep(0.5)
    scheduler.runs.cancel_pipeline_run(1, "cancelled by the API")
    started = time.monotonic()
    scheduler.tick()
    scheduler.drain(timeout=20)
    assert time.monotonic() - started < 10
    run = scheduler.runs.get_pipeline_run(1)
    assert (run.status, run.error) == (RunStatus.CANCELLED, "cancelled by the API")


def test_closing_cancels_running_runs(root: Path, clock: ManualClock) -> None:
    scheduler = Scheduler(root, clock=clock, hooks=[], sweep_seconds=0)
    add_trigger(scheduler, "slow")
    scheduler.tick()
    time.sleep(0.5)  # let the worker start the run
    scheduler.close()
    with Scheduler(root, clock=clock, hooks=[]) as again:
        run = again.runs.get_pipeline_run(1)
    assert run.status is RunStatus.CANCELLED
    assert run.block_runs[0].status is RunStatus.CANCELLED


def test_a_pipeline_broken_since_fails_its_run_with_the_reason(
    scheduler: Scheduler, root: Path
) -> None:
    add_trigger(scheduler, "quick")
    (root / "pipelines" / "quick" / "metadata.yaml").write_text("blocks: [\n")
    scheduler.tick()
    scheduler.drain()
    run = scheduler.runs.get_pipeline_run(1)
    assert run.status is RunStatus.FAILED
    assert (run.error or "").startswith("cannot load the pipeline: malformed YAML")


def test_triggers_yaml_is_read_by_the_tick(scheduler: Scheduler, root: Path) -> None:
    (root / "pipelines" / "quick" / "triggers.yaml").write_text(
        "triggers:\n- name: from_file\n  schedule_type: time\n  schedule_interval: '@hourly'\n"
        "  start_time: 2024-05-01 00:00:00\n  status: active\n"
    )
    report = scheduler.tick()
    (trigger,) = scheduler.triggers.list()
    assert trigger.name == "from_file"
    assert report.enqueued == [1]  # 12:00, the hour it appeared (earlier ones are not missed)
    (root / "pipelines" / "quick" / "triggers.yaml").write_text("triggers: [{name: x\n")
    assert "malformed YAML" in scheduler.tick().trigger_errors["quick"]
    scheduler.drain()


def test_warm_workers_import_edited_project_code_afresh(root: Path, clock: ManualClock) -> None:
    (root / "utils" / "__init__.py").write_text("")
    (root / "utils" / "greeting.py").write_text("WORD = 'first'\n")
    (root / "data_loaders" / "greet.py").write_text(
        "from pathlib import Path\nfrom utils.greeting import WORD\n\n"
        "@data_loader\ndef greet(*args, **kwargs):\n"
        "    (Path(__file__).resolve().parents[1] / 'words.txt').open('a').write(WORD + '\\n')\n"
    )
    write_project(root, "greet", [BlockDef("greet", "", type="data_loader")])
    (root / "data_loaders" / "greet.py").write_text(
        "from pathlib import Path\nfrom utils.greeting import WORD\n\n"
        "@data_loader\ndef greet(*args, **kwargs):\n"
        "    (Path(__file__).resolve().parents[1] / 'words.txt').open('a').write(WORD + '\\n')\n"
    )
    with Scheduler(root, clock=clock, workers=1, hooks=[], max_runs_per_worker=10) as scheduler:
        pipeline = load_pipeline(scheduler.project, "greet")
        enqueue_run(scheduler.runs, None, T0, pipeline=pipeline)
        scheduler.tick()
        scheduler.drain()
        worker_pids = {w.process.pid for w in scheduler._pool._workers}
        (root / "utils" / "greeting.py").write_text("WORD = 'second'\n")
        enqueue_run(scheduler.runs, None, T0, pipeline=pipeline)
        scheduler.tick()
        scheduler.drain()
        assert {w.process.pid for w in scheduler._pool._workers} == worker_pids  # reused
    assert (root / "words.txt").read_text().split() == ["first", "second"]


def test_a_worker_is_replaced_after_max_runs(root: Path, clock: ManualClock) -> None:
    with Scheduler(root, clock=clock, workers=1, hooks=[], max_runs_per_worker=2) as scheduler:
        pipeline = load_pipeline(scheduler.project, "quick")
        pids = []
        for _ in range(4):
            enqueue_run(scheduler.runs, None, T0, pipeline=pipeline)
            scheduler.tick()
            pids.append(scheduler._pool.running[max(scheduler.running)].process.pid)
            scheduler.drain()
    assert pids[0] == pids[1] != pids[2] == pids[3]
    assert len(marks(root)) == 4
