"""Rich renderings of run records for the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from weir.cli.live_view import STATUS_STYLES, print_run_summary
from weir.engine.logs import read_log_tail
from weir.runs.records import PipelineRunRecord


def runs_table(records: Sequence[PipelineRunRecord]) -> Table:
    """One row per run: id, pipeline, status, execution date, start, seconds, blocks done/total."""
    table = Table(title="pipeline runs (newest first)", title_justify="left")
    for column in ("id", "pipeline", "status", "execution date", "started", "seconds", "blocks"):
        table.add_column(column)
    for record in records:
        done = sum(1 for b in record.block_runs if b.status.value == "completed")
        seconds = record.duration_seconds
        table.add_row(
            str(record.id),
            record.pipeline_uuid,
            Text(record.status.value, style=STATUS_STYLES.get(record.status, "")),
            record.execution_date.isoformat(timespec="seconds"),
            record.started_at.isoformat(timespec="seconds") if record.started_at else "",
            "" if seconds is None else f"{seconds:.2f}",
            f"{done}/{len(record.block_runs)}",
        )
    return table


def print_run_details(
    console: Console, record: PipelineRunRecord, *, log_lines: int, full_traceback: bool
) -> None:
    """The run's summary (with each failed block's error), and each block's log tail.

    With `full_traceback`, also each failed block's whole exception chain, Weir's frames included.
    """
    print_run_summary(console, record)
    if record.variables:
        console.print(f"variables: {record.variables}")
    for block_run in record.block_runs:
        if full_traceback and block_run.traceback:
            console.rule(f"{block_run.block_uuid}: full traceback")
            console.print(Text(block_run.traceback))
        if block_run.log_path:
            entries = read_log_tail(Path(block_run.log_path), lines=log_lines)
            if entries:
                console.rule(f"{block_run.block_uuid}: last {len(entries)} log lines")
                for entry in entries:
                    console.print(
                        Text(f"{entry['timestamp']} {entry['level']:<7} {entry['message']}")
                    )
