"""`weir run`: parse variables, run the pipeline with a live view, print the summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from weir.cli.errors import exit_on_error


def parse_variables(pairs: list[str] | None, runtime_json: str | None) -> dict[str, Any]:
    """Variables from `--vars KEY=VALUE` pairs and one `--runtime-vars` JSON object.

    VALUE is parsed as JSON when it is valid JSON (`3`, `true`, `[1,2]`, `"x"`), else kept as text.
    `--runtime-vars` is applied first, so a `--vars` pair wins.

    Raises:
        typer.BadParameter: a pair without `=`, or `--runtime-vars` that is not a JSON object.
    """
    merged: dict[str, Any] = {}
    if runtime_json:
        try:
            loaded = json.loads(runtime_json)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"--runtime-vars is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise typer.BadParameter("--runtime-vars must be a JSON object, e.g. '{\"k\": 1}'")
        merged.update(loaded)
    for pair in pairs or []:
        key, separator, raw = pair.partition("=")
        if not separator or not key:
            raise typer.BadParameter(f"--vars expects KEY=VALUE, got {pair!r}")
        try:
            merged[key] = json.loads(raw)
        except json.JSONDecodeError:
            merged[key] = raw
    return merged


def run_command(
    project: Path,
    pipeline: str,
    *,
    pairs: list[str] | None,
    runtime_json: str | None,
    blocks: list[str] | None,
    downstream: bool,
    live: bool,
) -> int:
    """Run and report; returns the process exit code (0 completed, 1 failed, 130 cancelled)."""
    from rich.console import Console

    from weir.cli.live_view import LiveRunView, print_run_summary
    from weir.engine.runner import run_pipeline

    variables = parse_variables(pairs, runtime_json)
    console = Console()
    observer = LiveRunView(console) if live else None
    with exit_on_error():
        record = run_pipeline(
            project,
            pipeline,
            runtime_variables=variables,
            block_uuids=blocks or None,
            downstream=downstream,
            observer=observer,
        )
    print_run_summary(console, record)
    return {"completed": 0, "cancelled": 130}.get(record.status.value, 1)
