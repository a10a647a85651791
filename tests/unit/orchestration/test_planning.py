"""Which runs time triggers get, on a clock the test moves: each kind and catch-up policy."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.unit.orchestration.conftest import T0, spec
from weir.orchestration.clock import ManualClock
from weir.orchestration.planning import DuePlanner, PipelineCache
from weir.orchestration.triggers import TriggerRecord, TriggerStore
from weir.project.project import Project
from weir.runs.status import RunStatus
from weir.runs.store import RunStore

HOUR = timedelta(hours=1)


@pytest.fixture
def planner(runs: RunStore, project: Project) -> DuePlanner:
    return DuePlanner(runs, PipelineCache(project), grace=timedelta(seconds=60))


def plan(planner: DuePlanner, triggers: TriggerStore, now: datetime) -> list[tuple[str, datetime]]:
    names = {t.id: t.name for t in triggers.list()}
    created = planner.plan(triggers.list(), now)
    return [(names[r.pipeline_schedule_id or 0], r.execution_date) for r in created]


def dates_of(runs: RunStore, trigger: TriggerRecord) -> list[datetime]:
    return sorted(
        r.execution_date
        for r in runs.list_pipeline_runs(limit=1000)
        if r.pipeline_schedule_id == trigger.id
    )


def test_hourly_trigger_runs_on_the_hour(
    planner: DuePlanner, triggers: TriggerStore, clock: ManualClock
) -> None:
    clock.advance(600)  # created at 12:10: the 12:00 point was before it existed
    triggers.create(spec("hourly"))
    assert plan(planner, triggers, clock()) == []
    assert planner.next_due() == T0 + HOUR
    assert plan(planner, triggers, T0 + HOUR - timedelta(seconds=1)) == []
    assert plan(planner, triggers, T0 + HOUR) == [("hourly", T0 + HOUR)]
    assert plan(planner, triggers, T0 + HOUR + timedelta(seconds=5)) == []
    assert planner.next_due() == T0 + 2 * HOUR


def test_catch_up_policies_after_downtime(
    planner: DuePlanner, runs: RunStore, triggers: TriggerStore, project: Project
) -> None:
    made = {
        policy: triggers.create(spec(policy, settings={"catch_up": policy}))[0]
        for policy in ("all", "latest", "none")
    }
    assert sorted(plan(planner, triggers, T0)) == [(p, T0) for p in ("all", "latest", "none")]
    # The scheduler is down from 12:00 to 17:30; a new one starts.
    restarted = DuePlanner(runs, PipelineCache(project), grace=timedelta(seconds=60))
    now = T0 + timedelta(hours=5, minutes=30)
    created = plan(restarted, triggers, now)
    assert sorted(d for name, d in created if name == "all") == [T0 + n * HOUR for n in range(1, 6)]
    assert [d for name, d in created if name == "latest"] == [T0 + 5 * HOUR]
    assert [d for name, d in created if name == "none"] == []
    assert plan(restarted, triggers, T0 + 6 * HOUR) == [
        (name, T0 + 6 * HOUR) for name in ("all", "latest", "none")
    ]
    assert dates_of(runs, made["none"]) == [T0, T0 + 6 * HOUR]


def test_catch_up_is_the_latest_by_default(
    planner: DuePlanner, triggers: TriggerStore, runs: RunStore
) -> None:
    trigger, _ = triggers.create(spec("default"))
    plan(planner, triggers, T0)
    plan(planner, triggers, T0 + 48 * HOUR + timedelta(minutes=1))
    assert dates_of(runs, trigger) == [T0, T0 + 48 * HOUR]


def test_no_catch_up_for_time_spent_disabled(
    planner: DuePlanner, triggers: TriggerStore, runs: RunStore, clock: ManualClock
) -> None:
    trigger, _ = triggers.create(spec("all", settings={"catch_up": "all"}))
    plan(planner, triggers, T0)
    clock.advance(3600 + 60)
    triggers.set_active(trigger.id, False)
    assert plan(planner, triggers, T0 + 3 * HOUR) == []
    clock.set(T0 + timedelta(hours=5, minutes=30))
    triggers.set_active(trigger.id, True)
    assert plan(planner, triggers, clock()) == []
    assert plan(planner, triggers, T0 + 6 * HOUR) == [("all", T0 + 6 * HOUR)]
    assert dates_of(runs, trigger) == [T0, T0 + 6 * HOUR]


def test_start_time_in_the_future(
    planner: DuePlanner, triggers: TriggerStore, runs: RunStore
) -> None:
    trigger, _ = triggers.create(
        spec("later", schedule_interval="@daily", start_time=T0 + 50 * HOUR)
    )
    assert plan(planner, triggers, T0 + 24 * HOUR) == []
    assert planner.next_due() == T0 + 60 * HOUR  # the first midnight at or after the start
    plan(planner, triggers, T0 + 60 * HOUR)
    assert dates_of(runs, trigger) == [T0 + 60 * HOUR]


def test_once_runs_once_at_its_start_time(
    planner: DuePlanner, triggers: TriggerStore, runs: RunStore
) -> None:
    at_start, _ = triggers.create(spec("at", schedule_interval="@once", start_time=T0 + HOUR))
    at_once, _ = triggers.create(spec("now", schedule_interval="@once"))
    assert plan(planner, triggers, T0) == [("now", T0)]
    assert planner.next_due() == T0 + HOUR
    assert plan(planner, triggers, T0 + HOUR) == [("at", T0 + HOUR)]
    assert plan(planner, triggers, T0 + 100 * HOUR) == []
    fresh = DuePlanner(runs, PipelineCache.__new__(PipelineCache), grace=timedelta(0))
    assert fresh.plan(triggers.list(), T0 + 200 * HOUR) == []  # a restart does not repeat it
    assert dates_of(runs, at_start) == [T0 + HOUR]
    assert dates_of(runs, at_once) == [T0]


def test_always_on_starts_again_when_the_run_ends(
    planner: DuePlanner, triggers: TriggerStore, runs: RunStore, clock: ManualClock
) -> None:
    trigger, _ = triggers.create(spec("loop", schedule_interval="@always_on"))
    (first,) = planner.plan(triggers.list(), T0)
    assert first.execution_date == T0
    assert planner.plan(triggers.list(), T0 + HOUR) == []  # still queued
    runs.transition_pipeline_run(first.id, RunStatus.RUNNING)
    assert planner.plan(triggers.list(), T0 + HOUR) == []  # still running
    clock.advance(90)
    ended = runs.transition_pipeline_run(first.id, RunStatus.FAILED, error="x")
    (second,) = planner.plan(triggers.list(), T0 + HOUR)
    assert second.execution_date == ended.completed_at == T0 + timedelta(seconds=90)
    # A run that ends the instant it was queued (skipped) still gets a successor.
    runs.cancel_pipeline_run(second.id, "skipped")
    (third,) = planner.plan(triggers.list(), T0 + HOUR)
    assert third.execution_date == second.execution_date + timedelta(microseconds=1)
    assert dates_of(runs, trigger) == [T0, second.execution_date, third.execution_date]


def test_only_active_time_triggers_of_this_environment(  # api and event ones never fire
    planner: DuePlanner, triggers: TriggerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    triggers.create(spec("off", status="inactive"))
    triggers.create(spec("api", schedule_type="api", schedule_interval=None))
    triggers.create(spec("event", schedule_type="event", schedule_interval=None))
    triggers.create(spec("prod_only", envs=["prod"]))
    triggers.create(spec("everywhere"))
    monkeypatch.setenv("ENV", "dev")
    assert plan(planner, triggers, T0) == [("everywhere", T0)]
    monkeypatch.setenv("ENV", "prod")
    assert plan(planner, triggers, T0) == [("prod_only", T0)]


def test_two_schedulers_queue_each_date_once(
    triggers: TriggerStore, runs: RunStore, project: Project
) -> None:
    trigger, _ = triggers.create(spec("all", settings={"catch_up": "all"}))
    planners = [DuePlanner(runs, PipelineCache(project), grace=timedelta(0)) for _ in range(2)]
    now = T0 + 10 * HOUR
    created = [r.execution_date for p in planners for r in p.plan(triggers.list(), now)]
    assert sorted(created) == [T0 + n * HOUR for n in range(11)]
    assert len(dates_of(runs, trigger)) == 11


def test_changed_trigger_is_planned_again(
    planner: DuePlanner, triggers: TriggerStore, clock: ManualClock
) -> None:
    trigger, _ = triggers.create(spec("t", schedule_interval="@daily"))
    plan(planner, triggers, T0 + timedelta(minutes=5))
    clock.advance(300)
    triggers.update(trigger.id, schedule_interval="*/30 * * * *")
    assert plan(planner, triggers, T0 + timedelta(minutes=30)) == [
        ("t", T0 + timedelta(minutes=30))
    ]


def test_a_broken_pipeline_still_gets_its_run(
    planner: DuePlanner, triggers: TriggerStore, project: Project
) -> None:
    (project.pipeline_dir("etl") / "metadata.yaml").write_text("blocks: [\n")
    (run,) = planner.plan([triggers.create(spec("t"))[0]], T0)
    assert run.block_runs == ()  # its worker fails it with the reason
