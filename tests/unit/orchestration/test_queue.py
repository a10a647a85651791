"""The run queue: enqueue_run and claiming under Mage's concurrency settings."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.unit.orchestration.conftest import T0, spec
from weir.errors import ConfigError
from weir.orchestration.queue import RunLimits, claim_next_run, enqueue_run
from weir.orchestration.triggers import TriggerRecord, TriggerStore
from weir.pipeline.pipeline import Pipeline, load_pipeline
from weir.pipeline.spec import ConcurrencyConfig
from weir.project.project import Project
from weir.runs.records import ClaimCandidate
from weir.runs.status import RunStatus
from weir.runs.store import RunStore


@pytest.fixture
def pipeline(project: Project) -> Pipeline:
    return load_pipeline(project, "etl")


@pytest.fixture
def trigger(triggers: TriggerStore) -> TriggerRecord:
    record, _ = triggers.create(spec(variables={"source": "trigger", "day": "mon"}))
    return record


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def test_enqueue_merges_variables_and_plans_every_block(
    runs: RunStore, trigger: TriggerRecord, pipeline: Pipeline
) -> None:
    run = enqueue_run(runs, trigger, T0, {"day": "tue"}, pipeline=pipeline)
    assert run is not None
    assert (run.status, run.pipeline_schedule_id, run.execution_date) == (
        RunStatus.QUEUED,
        trigger.id,
        T0,
    )
    assert run.variables == {"source": "trigger", "level": 1, "day": "tue"}  # pipeline<trigger<run
    assert [b.block_uuid for b in run.block_runs] == ["load", "add"]


def test_enqueue_twice_for_one_date_is_refused_by_the_database(
    runs: RunStore, trigger: TriggerRecord, pipeline: Pipeline
) -> None:
    assert enqueue_run(runs, trigger, T0, pipeline=pipeline) is not None
    assert enqueue_run(runs, trigger, T0, pipeline=pipeline) is None
    assert enqueue_run(runs, None, T0, pipeline=pipeline) is not None  # manual: no trigger
    assert enqueue_run(runs, None, T0, pipeline=pipeline) is not None
    assert len(runs.list_pipeline_runs()) == 3


def test_enqueue_refuses_a_trigger_of_another_pipeline(
    runs: RunStore, triggers: TriggerStore, pipeline: Pipeline
) -> None:
    other, _ = triggers.create(spec("x", pipeline_uuid="other"))
    with pytest.raises(ConfigError, match="belongs to pipeline 'other', not 'etl'"):
        enqueue_run(runs, other, T0, pipeline=pipeline)


def claim(runs: RunStore, limits: RunLimits) -> list[int]:
    """Claim until nothing more can be; returns the claimed ids."""
    claimed = []
    while (record := claim_next_run(runs, "s", lambda _c: limits).claimed) is not None:
        claimed.append(record.id)
    return claimed


def test_pipeline_run_limit_per_trigger_waits(
    runs: RunStore, triggers: TriggerStore, trigger: TriggerRecord, pipeline: Pipeline
) -> None:
    other, _ = triggers.create(spec("other"))
    mine = [enqueue_run(runs, trigger, at(h), pipeline=pipeline) for h in range(3)]
    theirs = enqueue_run(runs, other, T0, pipeline=pipeline)
    assert theirs is not None
    limits = RunLimits(pipeline_run_limit=1)
    claimed = claim(runs, limits)
    assert claimed == [mine[0].id, theirs.id]
    assert runs.get_pipeline_run(mine[1].id).status is RunStatus.QUEUED
    runs.transition_pipeline_run(claimed[0], RunStatus.RUNNING)
    runs.transition_pipeline_run(claimed[0], RunStatus.COMPLETED)
    assert claim(runs, limits) == [mine[1].id]


def test_pipeline_run_limit_all_triggers(
    runs: RunStore, triggers: TriggerStore, trigger: TriggerRecord, pipeline: Pipeline
) -> None:
    other, _ = triggers.create(spec("other"))
    first = enqueue_run(runs, trigger, T0, pipeline=pipeline)
    enqueue_run(runs, other, T0, pipeline=pipeline)
    manual = enqueue_run(runs, None, T0, pipeline=pipeline)
    assert first is not None
    assert manual is not None
    assert claim(runs, RunLimits(pipeline_run_limit_all_triggers=2)) == [first.id, first.id + 1]
    assert runs.get_pipeline_run(manual.id).status is RunStatus.QUEUED


def test_limit_reached_with_skip_cancels_with_the_reason(
    runs: RunStore, trigger: TriggerRecord, pipeline: Pipeline
) -> None:
    first, second = (enqueue_run(runs, trigger, at(h), pipeline=pipeline) for h in range(2))
    assert first is not None
    assert second is not None
    limits = RunLimits(pipeline_run_limit=1, on_limit_reached="skip")
    assert claim_next_run(runs, "s", lambda _c: limits).claimed == runs.get_pipeline_run(first.id)
    result = claim_next_run(runs, "s", lambda _c: limits)
    assert result.claimed is None
    assert [r.id for r in result.skipped] == [second.id]
    skipped = runs.get_pipeline_run(second.id)
    assert skipped.status is RunStatus.CANCELLED
    assert skipped.error == (
        "skipped: pipeline_run_limit of 1 active runs per trigger reached "
        "(concurrency_config.on_pipeline_run_limit_reached: skip)"
    )


def test_skip_if_previous_running(
    runs: RunStore, triggers: TriggerStore, pipeline: Pipeline
) -> None:
    trigger, _ = triggers.create(spec("s", settings={"skip_if_previous_running": True}))
    limits = RunLimits.of(ConcurrencyConfig(), trigger)
    assert limits.skip_if_previous_running
    first, second = (enqueue_run(runs, trigger, at(h), pipeline=pipeline) for h in range(2))
    assert first is not None
    assert second is not None
    claimed = claim_next_run(runs, "s", lambda _c: limits).claimed
    assert claimed is not None
    assert claimed.id == first.id
    runs.transition_pipeline_run(first.id, RunStatus.RUNNING)
    result = claim_next_run(runs, "s", lambda _c: limits)
    assert [r.id for r in result.skipped] == [second.id]
    assert "settings.skip_if_previous_running" in (runs.get_pipeline_run(second.id).error or "")


def test_limits_come_from_the_pipeline_and_trigger(trigger: TriggerRecord) -> None:
    concurrency = ConcurrencyConfig(
        pipeline_run_limit=2,
        pipeline_run_limit_all_triggers=5,
        on_pipeline_run_limit_reached="skip",
    )
    assert RunLimits.of(concurrency, trigger) == RunLimits(2, 5, "skip", False)
    assert RunLimits.of(ConcurrencyConfig()) == RunLimits()


def test_claim_policy_sees_the_candidate(
    runs: RunStore, trigger: TriggerRecord, pipeline: Pipeline
) -> None:
    seen: list[ClaimCandidate] = []

    def limits_of(candidate: ClaimCandidate) -> RunLimits:
        seen.append(candidate)
        return RunLimits()

    run = enqueue_run(runs, trigger, T0, pipeline=pipeline)
    assert run is not None
    claim_next_run(runs, "s", limits_of)
    assert seen == [ClaimCandidate(run.id, "etl", trigger.id, None, T0)]
