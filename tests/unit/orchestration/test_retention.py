"""Retention: old runs, logs and data products go; a dry run lists them; some always stay."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.unit.orchestration.conftest import T0
from weir.orchestration.clock import ManualClock
from weir.orchestration.retention import clean_project, parse_age
from weir.project.project import Project
from weir.runs.records import PipelineRunRecord
from weir.runs.status import RunStatus
from weir.runs.store import RunStore

DAY = 86400


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * DAY), ("12h", 43200), ("90m", 5400), ("2w", 14 * DAY)]
)
def test_parse_age(text: str, seconds: int) -> None:
    assert parse_age(text) == timedelta(seconds=seconds)


def test_parse_age_refuses_other_text() -> None:
    with pytest.raises(ValueError, match="like 30d"):
        parse_age("30 days")


def finished_run(
    runs: RunStore, project: Project, *, pipeline: str = "etl", trigger: int | None = None
) -> PipelineRunRecord:
    count = len(runs.list_pipeline_runs(limit=1000))
    run = runs.create_pipeline_run(
        pipeline,
        ["load"],
        variables={},
        execution_date=T0 + timedelta(seconds=count),
        pipeline_schedule_id=trigger,
    )
    runs.transition_pipeline_run(run.id, RunStatus.RUNNING)
    runs.transition_pipeline_run(run.id, RunStatus.COMPLETED)
    for folder in ("logs", "pipeline_runs"):
        path = project.data_dir / folder / str(run.id)
        path.mkdir(parents=True)
        (path / "data.bin").write_bytes(b"x" * 100)
    return run


def folder_exists(project: Project, run_id: int) -> bool:
    return (project.data_dir / "logs" / str(run_id)).exists()


def test_clean_old_runs_with_a_dry_run_first(
    runs: RunStore, project: Project, clock: ManualClock
) -> None:
    old = [finished_run(runs, project, trigger=1) for _ in range(2)]
    clock.advance(40 * DAY)
    recent = finished_run(runs, project, trigger=1)
    running = runs.create_pipeline_run("etl", ["load"], variables={}, execution_date=T0)
    runs.transition_pipeline_run(running.id, RunStatus.RUNNING)
    orphan = project.data_dir / "pipeline_runs" / "999"
    orphan.mkdir(parents=True)
    os.utime(orphan, (0, 0))
    now = clock()

    preview = clean_project(project, runs, older_than=timedelta(days=30), dry_run=True, now=now)
    old_ids = tuple(r.id for r in old)
    assert (preview.runs, preview.dry_run, preview.bytes) == (old_ids, True, 400)
    assert set(preview.folders) == {
        *(project.data_dir / f / str(i) for f in ("logs", "pipeline_runs") for i in old_ids),
        orphan,
    }
    assert all(folder_exists(project, i) for i in old_ids)
    assert len(runs.list_pipeline_runs(limit=100)) == 4

    done = clean_project(project, runs, older_than=timedelta(days=30), now=now)
    assert done.runs == old_ids
    assert not any(folder_exists(project, i) for i in old_ids)
    assert not orphan.exists()
    left = {r.id for r in runs.list_pipeline_runs(limit=100)}
    assert not left & set(old_ids)
    assert {recent.id, running.id} <= left
    assert folder_exists(project, recent.id)


def test_the_newest_run_of_each_trigger_stays(
    runs: RunStore, project: Project, clock: ManualClock
) -> None:
    first = finished_run(runs, project, trigger=7)
    last = finished_run(runs, project, trigger=7)
    clock.advance(100 * DAY)
    report = clean_project(project, runs, older_than=timedelta(days=1), now=clock())
    assert first.id in report.runs
    assert last.id not in report.runs
    assert runs.get_pipeline_run(last.id).status is RunStatus.COMPLETED


def test_other_projects_runs_stay(runs: RunStore, project: Project, clock: ManualClock) -> None:
    theirs = [finished_run(runs, project, pipeline="elsewhere") for _ in range(3)]
    clock.advance(100 * DAY)
    report = clean_project(project, runs, older_than=timedelta(days=1), now=clock())
    assert not set(report.runs) & {r.id for r in theirs}
    assert len(runs.list_pipeline_runs(pipeline_uuid="elsewhere")) == 3


def test_nothing_to_clean(runs: RunStore, project: Project, tmp_path: Path) -> None:
    report = clean_project(project, runs, older_than=timedelta(days=30))
    assert (report.runs, report.folders, report.bytes) == ((), (), 0)
