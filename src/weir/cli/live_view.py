"""The live status table of `weir run`, and the summary printed when a run ends."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from weir.engine.events import BlockRunEvent, StreamProgressEvent
from weir.runs.records import PipelineRunRecord
from weir.runs.status import RunStatus

STATUS_STYLES = {
    RunStatus.INITIAL: "dim",
    RunStatus.QUEUED: "dim",
    RunStatus.RUNNING: "yellow",
    RunStatus.COMPLETED: "green",
    RunStatus.FAILED: "bold red",
    RunStatus.CANCELLED: "magenta",
    RunStatus.UPSTREAM_FAILED: "red",
    RunStatus.CONDITION_FAILED: "cyan",
}


class LiveRunView:
    """A RunObserver that redraws a table of block statuses as they change.

    It starts on the first event (so that it starts inside the worker process, where the events
    happen) and disappears when the run ends; the summary is printed afterwards by the parent.
    Integration runs add one line per stream: a bar (when the source estimates the stream's
    rows), rows written and rows per second.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._rows: dict[str, BlockRunEvent] = {}
        self._started: dict[str, float] = {}
        self._streams: dict[str, StreamProgressEvent] = {}
        self._live: Live | None = None

    def run_started(self, pipeline_run_id: int, block_uuids: tuple[str, ...]) -> None:
        """List every block of the run as `initial` and start drawing."""
        for uuid in block_uuids:
            self._rows.setdefault(uuid, BlockRunEvent(uuid, RunStatus.INITIAL))
        self._start()

    def block_changed(self, event: BlockRunEvent) -> None:
        """Record the event and redraw."""
        if event.status is RunStatus.RUNNING and event.block_uuid not in self._started:
            self._started[event.block_uuid] = time.monotonic()
        self._rows[event.block_uuid] = event
        self._start()

    def stream_progress(self, event: StreamProgressEvent) -> None:
        """Record a stream's progress and redraw."""
        self._streams[event.stream] = event
        self._start()

    def _start(self) -> None:
        if self._live is None:
            self._live = Live(
                self._render(),
                console=self._console,
                transient=True,
                refresh_per_second=8,
                redirect_stdout=False,
                redirect_stderr=False,
                get_renderable=self._render,
            )
            self._live.start()

    def run_finished(self, status: RunStatus) -> None:
        """Stop redrawing."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render(self) -> RenderableType:
        if not self._streams:
            return self._table()
        return Group(self._table(), Text(""), _streams_table(self._streams.values()))

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for column in ("block", "status", "try", "seconds", "rows", "error"):
            table.add_column(column)
        now = time.monotonic()
        for uuid, event in self._rows.items():
            running = event.status is RunStatus.RUNNING
            seconds = now - self._started.get(uuid, now) if running else event.seconds
            table.add_row(
                uuid,
                Text(event.status.value, style=STATUS_STYLES[event.status]),
                str(event.attempt),
                f"{seconds:.2f}",
                "" if event.rows is None else f"{event.rows:,}",
                event.error or "",
            )
        return table


def _streams_table(events: Iterable[StreamProgressEvent]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("stream", "status", "progress", "rows", "rows/s", "seconds", "error"):
        table.add_column(column, justify="right" if column in ("rows", "rows/s") else "left")
    for event in events:
        expected = event.expected_rows
        bar: RenderableType = ""
        if expected and event.status is RunStatus.RUNNING:
            bar = ProgressBar(total=float(expected), completed=float(min(event.rows, expected)))
        table.add_row(
            event.stream,
            Text(event.status.value, style=STATUS_STYLES[event.status]),
            bar,
            f"{event.rows:,}",
            f"{event.rows_per_second:,.0f}",
            f"{event.seconds:.2f}",
            event.error or "",
        )
    return table


def print_run_summary(console: Console, record: PipelineRunRecord) -> None:
    """Print one table of the run's block runs and, for failed ones, their errors."""
    style = STATUS_STYLES.get(record.status, "")
    seconds = record.duration_seconds
    title = Text.assemble(
        f"pipeline run {record.id} of {record.pipeline_uuid}: ",
        (record.status.value, style),
        f" in {seconds:.2f} s" if seconds is not None else "",
    )
    table = Table(title=title, title_justify="left")
    for column in ("block", "status", "attempts", "seconds", "rows"):
        table.add_column(column, justify="right" if column in ("seconds", "rows") else "left")
    for block_run in record.block_runs:
        metrics = block_run.metrics or {}
        rows = metrics.get("rows")
        duration = block_run.duration_seconds
        table.add_row(
            block_run.block_uuid,
            Text(block_run.status.value, style=STATUS_STYLES[block_run.status]),
            str(block_run.attempts),
            "" if duration is None else f"{duration:.3f}",
            "" if rows is None else f"{rows:,}",
        )
    console.print(table)
    _print_streams(console, record.metrics.get("streams"))
    for block_run in record.block_runs:
        if block_run.status is RunStatus.FAILED and block_run.error:
            console.print(Text(f"{block_run.block_uuid} failed: {block_run.error}", style="red"))
    if record.status is not RunStatus.COMPLETED and record.error:
        console.print(Text(f"run {record.status.value}: {record.error}", style=style))


def _print_streams(console: Console, streams: Any) -> None:
    """Print the per-stream rows and bookmarks an integration run stored in its metrics."""
    if not isinstance(streams, dict) or not streams:
        return
    table = Table(title="streams", title_justify="left")
    for column in ("stream", "status", "rows", "seconds", "bookmark"):
        table.add_column(column, justify="right" if column in ("rows", "seconds") else "left")
    for name, stream in streams.items():
        status = RunStatus.FAILED if stream.get("error") else RunStatus.COMPLETED
        bookmark = stream.get("bookmark") or {}
        value = bookmark.get("replication_key_value", "") if isinstance(bookmark, dict) else ""
        table.add_row(
            str(name),
            Text(status.value, style=STATUS_STYLES[status]),
            f"{stream.get('rows', 0):,}",
            f"{stream.get('seconds', 0):.2f}",
            str(value),
        )
    console.print(table)
