"""Run and trigger records and small projects for alert tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from weir.orchestration.triggers import TriggerRecord, TriggerSettings, TriggerSpec
from weir.project.project import Project, load_project
from weir.runs.records import BlockRunRecord, PipelineRunRecord
from weir.runs.status import RunStatus

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def block_run(
    uuid: str, status: RunStatus = RunStatus.COMPLETED, error: str | None = None
) -> BlockRunRecord:
    return BlockRunRecord(
        id=1,
        pipeline_run_id=7,
        block_uuid=uuid,
        status=status,
        started_at=T0,
        completed_at=T0 + timedelta(seconds=1),
        attempts=1,
        error=error,
        traceback=f"Traceback of {uuid}" if error else None,
        metrics={},
        log_path=None,
    )


def run_record(
    status: RunStatus = RunStatus.FAILED,
    *,
    run_id: int = 7,
    pipeline_uuid: str = "etl",
    error: str | None = None,
    blocks: tuple[BlockRunRecord, ...] = (),
    seconds: float = 125.0,
    schedule_id: int | None = 3,
    attempt: int = 1,
) -> PipelineRunRecord:
    return PipelineRunRecord(
        id=run_id,
        pipeline_uuid=pipeline_uuid,
        pipeline_schedule_id=schedule_id,
        status=status,
        execution_date=T0,
        variables={},
        created_at=T0,
        started_at=T0,
        completed_at=T0 + timedelta(seconds=seconds),
        heartbeat_at=None,
        error=error,
        metrics={},
        block_runs=blocks,
        attempt=attempt,
    )


def failed_run(**fields: Any) -> PipelineRunRecord:
    blocks = (
        block_run("load"),
        block_run("clean", RunStatus.FAILED, "block 'clean': ValueError: x < 0 & y > 1"),
        block_run("export", RunStatus.UPSTREAM_FAILED),
    )
    return run_record(RunStatus.FAILED, blocks=blocks, **fields)


def trigger_record(
    trigger_id: int = 3, name: str = "nightly", sla: int | None = 600
) -> TriggerRecord:
    spec = TriggerSpec(name=name, pipeline_uuid="etl", schedule_interval="@daily", sla=sla)
    return TriggerRecord(
        id=trigger_id,
        name=spec.name,
        pipeline_uuid=spec.pipeline_uuid,
        schedule_type=spec.schedule_type,
        schedule_interval=spec.schedule_interval,
        start_time=None,
        timezone="UTC",
        status=spec.status,
        variables={},
        sla=sla,
        settings=TriggerSettings(),
        envs=(),
        description=None,
        has_token=False,
        last_enabled_at=T0,
        created_at=T0,
        updated_at=T0,
    )


def write_alert_project(
    root: Path,
    notification_config: dict[str, Any] | None,
    *,
    pipeline_config: dict[str, Any] | None = None,
) -> Project:
    """A project whose metadata.yaml holds `notification_config`, with an empty pipeline `etl`."""
    (root / "pipelines" / "etl").mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {"project_type": "standalone"}
    if notification_config is not None:
        settings["notification_config"] = notification_config
    (root / "metadata.yaml").write_text(yaml.safe_dump(settings))
    pipeline: dict[str, Any] = {"uuid": "etl", "type": "python", "blocks": []}
    if pipeline_config is not None:
        pipeline["notification_config"] = pipeline_config
    (root / "pipelines" / "etl" / "metadata.yaml").write_text(yaml.safe_dump(pipeline))
    return load_project(root)
