"""`weir demo`: build the demo project, run it, and say what was built and where."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from weir.cli.errors import exit_on_error
from weir.cli.live_view import LiveRunView, print_run_summary


def demo_command(path: Path) -> int:
    """Build and run the demo; returns the exit code (0 when the run completed)."""
    from weir.data_products.preview import preview_output, render_preview
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
    console.print(_built_table(built, root))
    for block in ("survival_by_class", "revenue_by_country_month"):
        info = products.info(record.id, block)[0]
        console.print(render_preview(preview_output(info, limit_rows=6), f"{block} (first rows)"))
    console.print(f"Inspect a block's output: weir output show {path} {DEMO_PIPELINE} clean_sales")
    console.print(f"Run history: weir runs list --project {path}")
    return 0


def _built_table(built: object, root: Path) -> Table:
    table = Table(title=f"what the demo built (paths relative to {root})", title_justify="left")
    for column in ("table", "rows", "DuckDB warehouse", "Parquet file"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for item in built if isinstance(built, list) else []:
        table.add_row(
            item["table"],
            f"{item['rows']:,}",
            _relative(item["warehouse"], root),
            _relative(item["parquet"], root),
        )
    return table


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path
