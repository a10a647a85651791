"""`weir output show`: preview a block's data product."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Inspect data products (block outputs).", no_args_is_help=True)


@app.command("show")
def show_output(
    project: Annotated[Path, typer.Argument(help="The project folder.")],
    pipeline: Annotated[str, typer.Argument(help="The pipeline's uuid.")],
    block: Annotated[str, typer.Argument(help="The block's uuid.")],
    run_id: Annotated[
        int | None, typer.Option("--run", help="Pipeline run id; default the latest completed.")
    ] = None,
    rows: Annotated[int, typer.Option(min=1, help="Rows to preview.")] = 10,
) -> None:
    """Print a preview of each output of a block run: schema, first rows, row count."""
    from rich.console import Console

    from weir.cli.errors import exit_on_error
    from weir.cli.output_view import find_output_run, print_outputs

    with exit_on_error():
        loaded, chosen_run = find_output_run(project, pipeline, block, run_id)
        print_outputs(Console(), loaded, chosen_run, block, rows=rows)
