"""What the engine tells an observer as a run progresses.

Observers (the CLI's live view, later the scheduler and the UI) must be quick and must not raise;
the engine calls them from its loop thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from weir.runs.status import RunStatus


@dataclass(frozen=True, slots=True)
class BlockRunEvent:
    """A block run changed status.

    Attributes:
        block_uuid: the block.
        status: its new status.
        attempt: 1 for the first try, 2 for the first retry, ...
        seconds: wall time of the attempt so far (0 when it starts).
        rows: rows in its outputs (tables: row count; lists: length), when known.
        error: the first line of the error, when it failed.
    """

    block_uuid: str
    status: RunStatus
    attempt: int = 1
    seconds: float = 0.0
    rows: int | None = None
    error: str | None = None


class RunObserver(Protocol):
    """Receives a run's progress."""

    def run_started(self, pipeline_run_id: int, block_uuids: tuple[str, ...]) -> None:
        """The run began; these blocks will run, in topological order."""

    def block_changed(self, event: BlockRunEvent) -> None:
        """A block run changed status (running, retrying, completed, failed, ...)."""

    def run_finished(self, status: RunStatus) -> None:
        """The pipeline run reached a terminal status."""


class NullObserver:
    """Ignores everything; the default."""

    def run_started(self, pipeline_run_id: int, block_uuids: tuple[str, ...]) -> None:
        """Ignore the start of the run."""

    def block_changed(self, event: BlockRunEvent) -> None:
        """Ignore the event."""

    def run_finished(self, status: RunStatus) -> None:
        """Ignore the end of the run."""
