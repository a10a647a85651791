"""`weir integration discover` and `weir integration streams`: an integration pipeline's catalog.

The catalog is `pipelines/<uuid>/data_integration_catalog.json`, in Mage's shape. After
`discover`, edit it to choose what is synced:

- select a stream: in its `metadata`, the entry with `"breadcrumb": []` gets
  `"selected": true` (or run `discover --stream NAME --select`);
- leave out a column: the entry with `"breadcrumb": ["properties", "col"]` gets
  `"selected": false` (key properties are always synced);
- replication: set the stream's top-level `"replication_method"` to `"FULL_TABLE"` (replace the
  table atomically each run) or `"INCREMENTAL"` with `"replication_key": "updated_at"` (rows
  after the last committed bookmark, in (replication key, key properties) order);
- keys: `"key_properties": ["id"]` identify a row; `"unique_conflict_method"` `"UPDATE"`
  (upsert, the default) or `"IGNORE"` (insert if absent) decides what an incoming row with an
  existing key does; `"unique_constraints"` overrides the columns used for that.

Running `discover` again refreshes the schemas and keeps all of these settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Integration pipelines: discover and list their streams.", no_args_is_help=True
)

ProjectArgument = Annotated[Path, typer.Argument(help="The project folder.")]
PipelineArgument = Annotated[str, typer.Argument(help="The integration pipeline's uuid.")]


@app.command("discover")
def discover(
    project: ProjectArgument,
    pipeline: PipelineArgument,
    streams: Annotated[
        list[str] | None,
        typer.Option("--stream", help="Discover only this stream (repeatable)."),
    ] = None,
    select: Annotated[
        bool, typer.Option("--select", help="Also mark the discovered streams selected.")
    ] = False,
    variables: Annotated[
        list[str] | None,
        typer.Option("--vars", help="A variable for the YAML templates, as KEY=VALUE."),
    ] = None,
) -> None:
    """Connect to the pipeline's source and write its catalog, keeping your settings."""
    from weir.cli.errors import exit_on_error
    from weir.cli.run_command import parse_variables
    from weir.integration.pipeline_run import discover_catalog

    with exit_on_error():
        catalog, path = discover_catalog(
            project,
            pipeline,
            streams=streams or None,
            select=select,
            variables=parse_variables(variables, None),
        )
    selected = len(catalog.selected)
    typer.echo(f"Wrote {path}: {len(catalog.streams)} streams, {selected} selected.")
    if not selected:
        typer.echo(
            'Select streams with --select, or set "selected": true in a stream\'s root '
            "metadata (breadcrumb []) in that file."
        )


@app.command("streams")
def streams_command(project: ProjectArgument, pipeline: PipelineArgument) -> None:
    """List the streams of the pipeline's catalog with their replication settings."""
    from rich.console import Console
    from rich.table import Table

    from weir.cli.errors import exit_on_error
    from weir.integration.pipeline_config import catalog_path as catalog_file
    from weir.integration.pipeline_config import read_catalog_file
    from weir.pipeline.pipeline import load_pipeline
    from weir.project.project import load_project

    with exit_on_error():
        loaded = load_project(project)
        load_pipeline(loaded, pipeline)
        path = catalog_file(loaded, pipeline)
        catalog = read_catalog_file(path)
    if catalog is None:
        typer.echo(f"No catalog at {path}; run: weir integration discover {project} {pipeline}")
        raise typer.Exit(1)
    table = Table(title=str(path), title_justify="left")
    for column in ("stream", "selected", "method", "replication key", "keys", "columns"):
        table.add_column(column)
    for entry in catalog.streams:
        fields = entry.selected_fields
        table.add_row(
            entry.tap_stream_id,
            "yes" if entry.is_selected else "no",
            entry.effective_replication_method.value,
            entry.effective_replication_key or "",
            ", ".join(entry.effective_key_properties),
            f"{len(fields)} of {len(entry.properties)}",
        )
    Console().print(table)
