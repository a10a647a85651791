"""Turning Weir's errors into a clean message and exit code 2 at the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from weir.errors import WeirError


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Print a WeirError as `error: <message>` on stderr and exit with code 2 (no traceback)."""
    try:
        yield
    except WeirError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
