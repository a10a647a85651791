"""`weir scheduler`, `weir triggers ...`, `weir backfill`, `weir backfills ...`, `weir clean`.

Trigger changes go through `editing_triggers`, so the pipeline's `triggers.yaml` is read in
first and rewritten after: the file and the database stay in step.
"""

from __future__ import annotations

import signal
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weir.cli.errors import exit_on_error

if TYPE_CHECKING:
    from weir.orchestration.scheduler import TickReport
    from weir.orchestration.triggers import TriggerRecord
    from weir.project.project import Project

triggers_app = typer.Typer(help="List, create, enable, disable and delete triggers.")
backfills_app = typer.Typer(help="List and cancel backfills.")

ProjectArgument = Annotated[Path, typer.Argument(help="The project folder.")]
PipelineArgument = Annotated[str, typer.Argument(help="The pipeline's uuid.")]
NameArgument = Annotated[str, typer.Argument(help="The trigger's name (unique per pipeline).")]


def _open(project: Path) -> tuple[Project, str]:
    from weir.project.project import load_project
    from weir.runs.database import default_database_url

    loaded = load_project(project)
    return loaded, default_database_url(loaded.data_dir)


def scheduler(
    project: ProjectArgument,
    *,
    workers: Annotated[int, typer.Option(min=1, help="Runs executing at once.")] = 4,
    stale_after: Annotated[
        float, typer.Option(help="Seconds without a heartbeat after which a run counts as dead.")
    ] = 60.0,
    max_runs_per_worker: Annotated[
        int, typer.Option(min=1, help="Runs a worker process executes before it is replaced.")
    ] = 50,
    quiet: Annotated[bool, typer.Option(help="Print nothing per run.")] = False,
) -> None:
    """Run the project's triggers until Ctrl-C or SIGTERM (running runs are then cancelled)."""
    from weir.orchestration.scheduler import Scheduler

    with exit_on_error():
        loaded, url = _open(project)
        running = Scheduler(
            loaded,
            url,
            workers=workers,
            stale_after=stale_after,
            max_runs_per_worker=max_runs_per_worker,
        )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: running.stop())
    typer.echo(f"scheduler {running.name}: project {loaded.root}, {workers} workers", err=True)
    running.run(on_tick=None if quiet else _print_tick)


def _print_tick(report: TickReport) -> None:
    for label, ids in (
        ("queued", report.enqueued),
        ("started", report.started),
        ("ended", report.finished),
        ("retried", report.retried),
        ("recovered (stale)", report.recovered),
        ("skipped", report.skipped),
        ("timed out", report.timed_out),
        ("missed SLA", report.sla_missed),
    ):
        if ids:
            typer.echo(f"{datetime.now():%H:%M:%S} {label}: runs {', '.join(map(str, ids))}")
    for pipeline_uuid, problem in report.trigger_errors.items():
        typer.secho(f"triggers of '{pipeline_uuid}' not loaded: {problem}", err=True, fg="red")


@triggers_app.command("list")
def list_triggers(
    project: ProjectArgument,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline's.")] = None,
) -> None:
    """List triggers (after reading the pipelines' triggers.yaml files in)."""
    from weir.orchestration.triggers import TriggerStore
    from weir.orchestration.triggers_yaml import sync_triggers_from_files

    with exit_on_error():
        loaded, url = _open(project)
        with TriggerStore(url) as store:
            sync_triggers_from_files(loaded, store)
            records = store.list(pipeline)
    for record in records:
        typer.echo(_describe(record))


def _describe(record: TriggerRecord) -> str:
    when = record.schedule_interval or "-"
    extra = f" tz={record.timezone}" if record.timezone != "UTC" else ""
    return (
        f"{record.id}\t{record.pipeline_uuid}\t{record.name}\t{record.schedule_type.value}\t"
        f"{when}{extra}\t{record.status.value}"
    )


@triggers_app.command("create")
def create_trigger(
    project: ProjectArgument,
    pipeline: PipelineArgument,
    name: NameArgument,
    *,
    schedule_type: Annotated[str, typer.Option("--type", help="time, api or event.")] = "time",
    interval: Annotated[
        str | None, typer.Option(help="@once @hourly @daily @weekly @monthly @always_on or cron.")
    ] = None,
    start: Annotated[str | None, typer.Option(help="Start time, ISO 8601.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone of the schedule.")] = "UTC",
    sla: Annotated[int | None, typer.Option(help="SLA in seconds.")] = None,
    catch_up: Annotated[str, typer.Option(help="all, latest or none.")] = "latest",
    timeout: Annotated[float | None, typer.Option(help="Run timeout in seconds.")] = None,
    variables: Annotated[
        list[str] | None, typer.Option("--vars", help="A variable as KEY=VALUE (repeatable).")
    ] = None,
    inactive: Annotated[bool, typer.Option(help="Create it disabled.")] = False,
) -> None:
    """Create a trigger (and write it to the pipeline's triggers.yaml)."""
    from weir.cli.run_command import parse_variables
    from weir.orchestration.triggers import TriggerSpec, TriggerStore
    from weir.orchestration.triggers_yaml import editing_triggers

    data: dict[str, Any] = {
        "name": name,
        "pipeline_uuid": pipeline,
        "schedule_type": schedule_type,
        "schedule_interval": interval,
        "start_time": start,
        "timezone": timezone,
        "status": "inactive" if inactive else "active",
        "variables": parse_variables(variables, None),
        "sla": sla,
        "settings": {"catch_up": catch_up, **({"timeout": timeout} if timeout else {})},
    }
    with exit_on_error():
        loaded, url = _open(project)
        spec = TriggerSpec.parse(data, where=f"trigger '{name}'")
        with TriggerStore(url) as store, editing_triggers(loaded, store, pipeline) as edit:
            record, token = edit.create(spec)
    typer.echo(_describe(record))
    if token is not None:
        typer.echo(f"API token (shown once): {token}")
        typer.echo(f"POST /api/pipeline_schedules/{record.id}/pipeline_runs/{token}")


def _change(project: Path, pipeline: str, name: str, action: str) -> None:
    from weir.orchestration.triggers import TriggerStore
    from weir.orchestration.triggers_yaml import editing_triggers

    with exit_on_error():
        loaded, url = _open(project)
        with TriggerStore(url) as store, editing_triggers(loaded, store, pipeline) as edit:
            record = edit.get_by_name(pipeline, name)
            if action == "delete":
                edit.delete(record.id)
            else:
                edit.set_active(record.id, action == "enable")
    typer.echo(f"{action}d trigger '{name}' of pipeline '{pipeline}'")


@triggers_app.command("enable")
def enable_trigger(
    project: ProjectArgument, pipeline: PipelineArgument, name: NameArgument
) -> None:
    """Enable a trigger; dates before now are not caught up."""
    _change(project, pipeline, name, "enable")


@triggers_app.command("disable")
def disable_trigger(
    project: ProjectArgument, pipeline: PipelineArgument, name: NameArgument
) -> None:
    """Disable a trigger."""
    _change(project, pipeline, name, "disable")


@triggers_app.command("delete")
def delete_trigger(
    project: ProjectArgument, pipeline: PipelineArgument, name: NameArgument
) -> None:
    """Delete a trigger (its runs stay)."""
    _change(project, pipeline, name, "delete")


def backfill(
    project: ProjectArgument,
    pipeline: PipelineArgument,
    *,
    start: Annotated[str, typer.Option(help="First interval's start, ISO 8601.")],
    end: Annotated[str, typer.Option(help="Last interval starts at or before this (inclusive).")],
    interval: Annotated[
        str, typer.Option(help="second, minute, hour, day, week, month or year.")
    ] = "day",
    units: Annotated[int, typer.Option(min=1, help="Units per interval.")] = 1,
    timezone: Annotated[str, typer.Option(help="IANA time zone of the intervals.")] = "UTC",
    variables: Annotated[
        list[str] | None, typer.Option("--vars", help="A variable as KEY=VALUE (repeatable).")
    ] = None,
) -> None:
    """Queue one run per interval (a running scheduler executes them under the limits)."""
    from weir.cli.run_command import parse_variables
    from weir.orchestration.backfill import create_backfill
    from weir.pipeline.pipeline import load_pipeline
    from weir.runs.store import RunStore

    try:
        first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    except ValueError as exc:
        raise typer.BadParameter(f"--start/--end: {exc}") from None
    with exit_on_error():
        loaded, url = _open(project)
        loaded_pipeline = load_pipeline(loaded, pipeline)
        with RunStore(url) as runs:
            try:
                record = create_backfill(
                    runs,
                    loaded_pipeline,
                    start=first,
                    end=last,
                    interval_type=interval,
                    interval_units=units,
                    variables=parse_variables(variables, None),
                    timezone=timezone,
                )
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from None
    queued = sum(record.run_counts.values())
    typer.echo(f"backfill {record.id} ({record.name}): {queued} runs queued")


@backfills_app.command("list")
def list_backfill_runs(project: ProjectArgument) -> None:
    """List backfills, newest first, with their runs by status."""
    from weir.orchestration.backfill import list_backfills
    from weir.runs.store import RunStore

    with exit_on_error():
        _loaded, url = _open(project)
        with RunStore(url) as runs:
            records = list_backfills(runs)
    for record in records:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(record.run_counts.items()))
        typer.echo(f"{record.id}\t{record.status}\t{record.name}\t{counts}")


@backfills_app.command("cancel")
def cancel_backfill_runs(
    project: ProjectArgument,
    backfill_id: Annotated[int, typer.Argument(help="The backfill's id.")],
    running: Annotated[bool, typer.Option(help="Also cancel its running runs.")] = False,
) -> None:
    """Cancel a backfill's runs that have not started (and, with --running, those running)."""
    from weir.orchestration.backfill import cancel_backfill
    from weir.runs.store import RunStore

    with exit_on_error():
        _loaded, url = _open(project)
        with RunStore(url) as runs:
            record = cancel_backfill(runs, backfill_id, include_running=running)
    typer.echo(f"backfill {record.id} cancelled; runs by status: {dict(record.run_counts)}")


def clean(
    project: ProjectArgument,
    *,
    older_than: Annotated[str, typer.Option(help="Age such as 30d, 12h, 2w.")],
    dry_run: Annotated[bool, typer.Option(help="Only list what would be deleted.")] = False,
) -> None:
    """Delete runs that ended longer ago than --older-than, with their logs and data products."""
    from weir.orchestration.retention import clean_project, parse_age
    from weir.runs.store import RunStore

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with exit_on_error():
        loaded, url = _open(project)
        with RunStore(url) as runs:
            report = clean_project(loaded, runs, older_than=age, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {len(report.runs)} runs and {len(report.folders)} folders "
        f"({report.bytes / 1e6:.1f} MB) ended before {report.cutoff:%Y-%m-%d %H:%M} UTC"
    )
    if dry_run:
        for folder in report.folders:
            typer.echo(f"  {folder}")
        if report.runs:
            typer.echo(f"  runs: {', '.join(map(str, report.runs))}")
