"""`weir demo`: build the demo project, run it, and say what was built and where."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from weir.cli.errors import exit_on_error
from weir.cli.live_view import LiveRunView, print_run_summary


def demo_command(path: Path) -> int:
    """Build and run the demo; returns the exit code (0 when the run completed)."""
    from weir.data_products.store import DataProductStore
    from weir.demo import DEMO_PIPELINE, create_demo_project
    from weir.engine.runner import run_pipeline
    from weir.project.project import load_project

    console = Console()
    with exit_on_error():
        root = create_demo_project(path)
        console.print(f"Demo project at [bold]{root}[/bold]; running pipeline {DEMO_PIPELINE}")
        record = run_pipeline(root, DEMO_PIPELINE, observer=LiveRunView(console))
    print_run_summary(console, record)
    if record.status.value != "completed":
        return 1
    products = DataProductStore(load_project(root).data_dir / "pipeline_runs")
    built = products.read_output(record.id, "export_warehouse")
    console.print(_built_table(built))
    console.print(f"Inspect a block's output: weir output show {path} {DEMO_PIPELINE} clean_sales")
    console.print(f"Run history: weir runs list --project {path}")
    return 0


def _built_table(built: object) -> Table:
    table = Table(title="what the demo built", title_justify="left")
    for column in ("table", "rows", "DuckDB warehouse", "Parquet file"):
        table.add_column(column)
    for item in built if isinstance(built, list) else []:
        table.add_row(item["table"], f"{item['rows']:,}", item["warehouse"], item["parquet"])
    return table
