"""The `weir` command line.

Commands import their heavy modules inside the function, so that `weir --help` answers in well
under 0.3 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from weir.cli import (
    integration_commands,
    orchestration_commands,
    output_commands,
    runs_commands,
    server_commands,
)

app = typer.Typer(
    name="weir",
    help="Weir: data pipelines that integrate, transform and orchestrate. Runs Mage projects.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(runs_commands.app, name="runs")
app.add_typer(output_commands.app, name="output")
app.add_typer(integration_commands.app, name="integration")
app.add_typer(server_commands.app, name="users")
app.command("start")(server_commands.start)
app.add_typer(orchestration_commands.triggers_app, name="triggers")
app.add_typer(orchestration_commands.backfills_app, name="backfills")
app.command("scheduler")(orchestration_commands.scheduler)
app.command("backfill")(orchestration_commands.backfill)
app.command("clean")(orchestration_commands.clean)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Folder of the new project (created).")],
) -> None:
    """Create a project in Mage's layout, with an example pipeline."""
    from weir.cli.errors import exit_on_error
    from weir.project.scaffold import create_project

    with exit_on_error():
        root = create_project(path)
    typer.echo(f"Created project {root.name} at {root}")
    typer.echo(f"Run its example pipeline: weir run {path} example_pipeline")


@app.command()
def run(
    project: Annotated[Path, typer.Argument(help="The project folder.")],
    pipeline: Annotated[str, typer.Argument(help="The pipeline's uuid.")],
    variables: Annotated[
        list[str] | None,
        typer.Option("--vars", help="A variable as KEY=VALUE (VALUE parsed as JSON if it can be)."),
    ] = None,
    runtime_vars: Annotated[
        str | None, typer.Option("--runtime-vars", help="Variables as one JSON object.")
    ] = None,
    blocks: Annotated[
        list[str] | None, typer.Option("--block", help="Run only this block (repeatable).")
    ] = None,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="With --block, also run its downstream blocks.")
    ] = False,
    live: Annotated[bool, typer.Option(help="Show the live status table.")] = True,
) -> None:
    """Run a pipeline once; exits 1 if any block fails."""
    from weir.cli.run_command import run_command

    raise typer.Exit(
        run_command(
            project,
            pipeline,
            pairs=variables,
            runtime_json=runtime_vars,
            blocks=blocks,
            downstream=downstream,
            live=live,
        )
    )


@app.command()
def demo(
    path: Annotated[Path, typer.Argument(help="Folder for the demo project.")] = Path(
        "demo_project"
    ),
) -> None:
    """Build the demo project (Chinook + Titanic) and run its pipeline."""
    from weir.cli.demo_command import demo_command

    raise typer.Exit(demo_command(path))


@app.command()
def version() -> None:
    """Print Weir's version."""
    from importlib.metadata import version as package_version

    typer.echo(package_version("weir"))


def main() -> None:
    """Entry point of the `weir` console script."""
    app()
