"""One attempt at running one block, on a worker thread: inputs in, outputs persisted.

An attempt reports twice on the engine loop's queue: `computed` as soon as the block's function
returned (so downstream blocks can start at once on the in-memory outputs), then `persisted`
once the data product is on disk (only then is the block run `completed`), or `failed` at any
point. The engine's loop owns statuses, retries and timeouts. An attempt abandoned at its timeout
keeps running on its thread (Python cannot stop a thread) but is told so, and reports and persists
nothing afterwards.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from weir.blocks.base import BlockRequest, BlockResult
from weir.data_products.store import DataProductStore, OutputInfo
from weir.engine.logs import capture_prints
from weir.errors import BlockError, BlockExecutionError, DataProductError

BlockExecutor = Callable[[BlockRequest], BlockResult]


class Stage(enum.Enum):
    """What an attempt reports."""

    COMPUTED = "computed"
    PERSISTED = "persisted"
    FAILED = "failed"


@dataclass(slots=True)
class AttemptOutcome:
    """One report of an attempt.

    Attributes:
        block_uuid: the block.
        attempt: its number (1 = first try).
        stage: computed, persisted or failed.
        result: the outputs (computed).
        infos: the persisted outputs' descriptions (persisted).
        error: the error (failed); a DataProductError when persisting failed.
        seconds: wall time from the attempt's start to this report.
    """

    block_uuid: str
    attempt: int
    stage: Stage
    result: BlockResult | None = None
    infos: tuple[OutputInfo, ...] = ()
    error: BaseException | None = None
    seconds: float = 0.0


@dataclass(slots=True)
class Attempt:
    """A running attempt, as the loop tracks it."""

    block_uuid: str
    number: int
    started: float
    deadline: float | None
    computed: bool = False
    abandoned: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class AttemptWork:
    """What an attempt does, given by the engine.

    Attributes:
        open_log: opens the block run's logger (closed when the attempt ends).
        make_request: builds the request from the logger; may read upstream outputs from disk,
            so it runs on the attempt's thread and its errors fail the attempt.
        execute: the executor of the block's language.
        data_products: where the outputs are persisted.
    """

    open_log: Callable[[], AbstractContextManager[logging.Logger]]
    make_request: Callable[[logging.Logger], BlockRequest]
    execute: BlockExecutor
    data_products: DataProductStore


def start_attempt(
    attempt: Attempt, work: AttemptWork, outcomes: queue.Queue[AttemptOutcome]
) -> None:
    """Run the attempt on a new daemon thread; its reports are put on `outcomes`."""
    thread = threading.Thread(
        target=_run,
        args=(attempt, work, outcomes),
        name=f"weir-block-{attempt.block_uuid}-{attempt.number}",
        daemon=True,
    )
    thread.start()


def _run(attempt: Attempt, work: AttemptWork, outcomes: queue.Queue[AttemptOutcome]) -> None:
    def report(stage: Stage, **fields: Any) -> None:
        if not attempt.abandoned.is_set():
            seconds = time.monotonic() - attempt.started
            outcomes.put(
                AttemptOutcome(attempt.block_uuid, attempt.number, stage, seconds=seconds, **fields)
            )

    try:
        with work.open_log() as logger:
            logger.info("attempt %d started", attempt.number)
            try:
                _compute_and_persist(attempt, work, logger, report)
            except BaseException as exc:
                error = _as_block_error(attempt.block_uuid, exc)
                logger.error("attempt %d failed: %s", attempt.number, error, exc_info=exc)
                report(Stage.FAILED, error=error)
            else:
                logger.info("attempt %d completed", attempt.number)
    except BaseException as exc:  # the log itself failed (disk full, ...): still report
        report(Stage.FAILED, error=_as_block_error(attempt.block_uuid, exc))


def _compute_and_persist(
    attempt: Attempt,
    work: AttemptWork,
    logger: logging.Logger,
    report: Callable[..., None],
) -> None:
    request = work.make_request(logger)
    with capture_prints(logger):
        result = work.execute(request)
    if attempt.abandoned.is_set():
        return  # timed out meanwhile: its run has moved on and must not see late outputs
    report(Stage.COMPUTED, result=result)
    infos = work.data_products.write(request.pipeline_run_id, request.block_uuid, result.outputs)
    report(Stage.PERSISTED, result=result, infos=infos)


def _as_block_error(block_uuid: str, exc: BaseException) -> BaseException:
    if isinstance(exc, BlockError | DataProductError):
        return exc
    # Not user code (the executors wrap that) but the engine or storage: say so.
    wrapped = BlockExecutionError(block_uuid, f"{type(exc).__name__}: {exc}")
    wrapped.__cause__ = exc
    return wrapped


def count_rows(outputs: tuple[Any, ...], infos: tuple[OutputInfo, ...]) -> int | None:
    """Rows across a block's outputs: table rows from the persisted infos, else list lengths."""
    total: int | None = None
    for value, info in zip(outputs, infos, strict=False):
        rows = info.rows
        if rows is None and isinstance(value, list):
            rows = len(value)
        if rows is not None:
            total = (total or 0) + rows
    return total


def error_details(error: BaseException) -> tuple[str, str]:
    """(message, traceback text) of a failed attempt, for the block run record."""
    text = "".join(traceback.format_exception(error))
    return str(error), text
