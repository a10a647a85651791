"""One attempt at running one block, on a worker thread: inputs in, outputs persisted.

The engine's loop owns statuses, retries and timeouts; an attempt only computes and persists, then
reports its outcome on a queue. An attempt abandoned at its timeout keeps running on its thread (Python
cannot stop a thread) but is told so, and persists nothing afterwards.
"""

from __future__ import annotations

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
from weir.errors import BlockError, BlockExecutionError

BlockExecutor = Callable[[BlockRequest], BlockResult]
OpenLog = Callable[[], AbstractContextManager[logging.Logger]]
MakeRequest = Callable[[logging.Logger], BlockRequest]


@dataclass(slots=True)
class AttemptOutcome:
    """How an attempt ended.

    Attributes:
        block_uuid: the block.
        attempt: its number (1 = first try).
        result: the outputs, on success.
        infos: the persisted outputs' descriptions, on success.
        error: the error, on failure.
        seconds: wall time from start to outcome.
    """

    block_uuid: str
    attempt: int
    result: BlockResult | None = None
    infos: tuple[OutputInfo, ...] = ()
    error: BaseException | None = None
    seconds: float = 0.0

    @property
    def succeeded(self) -> bool:
        """Whether the attempt produced outputs without error."""
        return self.error is None


@dataclass(slots=True)
class Attempt:
    """A running attempt, as the loop tracks it."""

    block_uuid: str
    number: int
    started: float
    deadline: float | None
    abandoned: threading.Event = field(default_factory=threading.Event)


def start_attempt(
    attempt: Attempt,
    open_log: OpenLog,
    make_request: MakeRequest,
    execute: BlockExecutor,
    data_products: DataProductStore,
    outcomes: queue.Queue[AttemptOutcome],
) -> None:
    """Run the attempt on a new daemon thread; its outcome is put on `outcomes`.

    Args:
        attempt: the attempt being started.
        open_log: opens the block run's logger (closed when the attempt ends).
        make_request: builds the request; may read upstream outputs from disk, so it runs on the
            attempt's thread and its errors fail the attempt.
        execute: the executor of the block's language.
        data_products: where the outputs are persisted.
        outcomes: the engine loop's queue.
    """
    thread = threading.Thread(
        target=_run,
        args=(attempt, open_log, make_request, execute, data_products, outcomes),
        name=f"weir-block-{attempt.block_uuid}-{attempt.number}",
        daemon=True,
    )
    thread.start()


def _run(
    attempt: Attempt,
    open_log: OpenLog,
    make_request: MakeRequest,
    execute: BlockExecutor,
    data_products: DataProductStore,
    outcomes: queue.Queue[AttemptOutcome],
) -> None:
    outcome = AttemptOutcome(block_uuid=attempt.block_uuid, attempt=attempt.number)
    try:
        with open_log() as logger:
            logger.info("attempt %d started", attempt.number)
            try:
                _compute_and_persist(attempt, outcome, make_request(logger), execute, data_products)
            except BaseException as exc:
                outcome.error = _as_block_error(attempt.block_uuid, exc)
                logger.error("attempt %d failed: %s", attempt.number, outcome.error, exc_info=exc)
            else:
                logger.info("attempt %d completed", attempt.number)
    except BaseException as exc:  # the log itself failed (disk full, ...): still report an outcome
        outcome.error = outcome.error or _as_block_error(attempt.block_uuid, exc)
    outcome.seconds = time.monotonic() - attempt.started
    outcomes.put(outcome)


def _compute_and_persist(
    attempt: Attempt,
    outcome: AttemptOutcome,
    request: BlockRequest,
    execute: BlockExecutor,
    data_products: DataProductStore,
) -> None:
    with capture_prints(request.logger):
        result = execute(request)
    if attempt.abandoned.is_set():
        return  # timed out meanwhile: its run has moved on, and must not see late outputs
    outcome.infos = data_products.write(request.pipeline_run_id, request.block_uuid, result.outputs)
    outcome.result = result


def _as_block_error(block_uuid: str, exc: BaseException) -> BaseException:
    if isinstance(exc, BlockError):
        return exc
    # Not user code (that is wrapped by the executors) but the engine or storage: say so.
    wrapped = BlockExecutionError(block_uuid, f"{type(exc).__name__}: {exc}")
    wrapped.__cause__ = exc
    return wrapped


def count_rows(outputs: tuple[Any, ...], infos: tuple[OutputInfo, ...]) -> int | None:
    """Rows across a block's outputs: table rows from the persisted infos, else list lengths."""
    total: int | None = None
    for value, info in zip(outputs, infos, strict=False):
        rows = info.rows if info.rows is not None else (len(value) if isinstance(value, list) else None)
        if rows is not None:
            total = (total or 0) + rows
    return total


def error_details(error: BaseException) -> tuple[str, str]:
    """(message, traceback text) of a failed attempt, for the block run record."""
    text = "".join(traceback.format_exception(error))
    return str(error), text
