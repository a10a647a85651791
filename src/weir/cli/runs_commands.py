"""`weir runs list` and `weir runs show`: the run history in the metadata database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Inspect pipeline runs.", no_args_is_help=True)

ProjectOption = Annotated[
    Path, typer.Option("--project", "-p", help="The project folder (its metadata database).")
]


@app.command("list")
def list_runs(
    project: ProjectOption = Path(),
    pipeline: Annotated[str | None, typer.Option(help="Only runs of this pipeline.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 20,
) -> None:
    """List pipeline runs, newest first."""
    from rich.console import Console

    from weir.cli.errors import exit_on_error
    from weir.cli.runs_view import runs_table
    from weir.runs.status import RunStatus

    with exit_on_error():
        store = _open_store(project)
        chosen = RunStatus(status) if status else None
        records = store.list_pipeline_runs(pipeline_uuid=pipeline, status=chosen, limit=limit)
    Console().print(runs_table(records))


@app.command("show")
def show_run(
    run_id: Annotated[int, typer.Argument(help="The pipeline run's id.")],
    project: ProjectOption = Path(),
    log_lines: Annotated[int, typer.Option(help="Log lines shown per block.")] = 10,
    full_traceback: Annotated[
        bool, typer.Option(help="Also show the whole exception chain, Weir's frames included.")
    ] = False,
) -> None:
    """Show one run: its block runs, errors and the tail of each block's log."""
    from rich.console import Console

    from weir.cli.errors import exit_on_error
    from weir.cli.runs_view import print_run_details

    with exit_on_error():
        store = _open_store(project)
        record = store.get_pipeline_run(run_id)
    print_run_details(Console(), record, log_lines=log_lines, full_traceback=full_traceback)


def _open_store(project: Path):  # type: ignore[no-untyped-def]
    from weir.project.project import load_project
    from weir.runs.database import default_database_url
    from weir.runs.store import RunStore

    loaded = load_project(project)
    return RunStore(default_database_url(loaded.data_dir))
