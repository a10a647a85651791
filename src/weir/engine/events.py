"""What the engine tells an observer as a run progresses.

Observers (the CLI's live view, later the scheduler and the UI) must be quick and must not raise;
the engine calls them from its loop thread. Integration runs also report each stream's progress
to observers that have a `stream_progress` method (`StreamObserver`); others are not asked.
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


@dataclass(frozen=True, slots=True)
class StreamProgressEvent:
    """A stream of an integration run moved on: a batch was written, or the stream ended.

    Attributes:
        stream: the stream's name.
        status: `running` while batches are written; `completed` or `failed` at the end.
        rows: rows written so far.
        seconds: seconds since the stream started.
        expected_rows: the source's estimate of the stream's rows, when it gives one.
        error: the first line of the error, when it failed.
    """

    stream: str
    status: RunStatus
    rows: int = 0
    seconds: float = 0.0
    expected_rows: int | None = None
    error: str | None = None

    @property
    def rows_per_second(self) -> float:
        """Average throughput so far (0 before the first batch)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class StreamObserver(Protocol):
    """Receives the per-stream progress of integration runs (optional for observers)."""

    def stream_progress(self, event: StreamProgressEvent) -> None:
        """A stream wrote a batch, or ended."""


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

    def stream_progress(self, event: StreamProgressEvent) -> None:
        """Ignore a stream's progress."""
