"""Finding and printing data products for `weir output show`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from weir.data_products.preview import preview_output, render_preview
from weir.data_products.store import DataProductStore
from weir.errors import DataProductError
from weir.project.project import Project, load_project
from weir.runs.database import default_database_url
from weir.runs.store import RunStore


def find_output_run(
    project_path: Path, pipeline_uuid: str, block_uuid: str, run_id: int | None
) -> tuple[Project, int]:
    """The project and the pipeline run whose output to show (the latest completed by default).

    Raises:
        DataProductError: the block never completed in that pipeline.
    """
    project = load_project(project_path)
    if run_id is not None:
        return project, run_id
    store = RunStore(default_database_url(project.data_dir))
    latest = store.latest_block_run(pipeline_uuid, block_uuid)
    if latest is None:
        raise DataProductError(
            f"block '{block_uuid}' of pipeline '{pipeline_uuid}' has no completed run; run it: "
            f"weir run {project_path} {pipeline_uuid} --block {block_uuid}"
        )
    return project, latest.pipeline_run_id


def print_outputs(
    console: Console, project: Project, run_id: int, block_uuid: str, *, rows: int
) -> None:
    """Print one preview table per output of the block in that run."""
    products = DataProductStore(project.data_dir / "pipeline_runs")
    infos = products.info(run_id, block_uuid)
    if not infos:
        console.print(f"block '{block_uuid}' returned nothing in run {run_id}")
    for info in infos:
        preview = preview_output(info, limit_rows=rows)
        title = f"run {run_id} / {block_uuid} / output_{info.index} ({info.kind}, {info.format})"
        console.print(render_preview(preview, title))
        console.print(f"[dim]{info.path}[/dim]")
