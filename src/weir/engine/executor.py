"""Executing one pipeline run: the ready-block queue, workers, retries, timeouts.

The loop runs on the calling thread; each block attempt runs on a thread of its own (see
`block_attempt`), at most `block_run_limit` computing at once. Outputs stay in memory for downstream
blocks of the same run (no re-read) and are dropped as soon as every downstream block has finished,
so peak memory follows the widest layer of the DAG, not the whole pipeline. Downstream blocks start
as soon as their inputs are computed, while those are still being written to disk; a block run is
`completed` only once its data product is on disk. Every status change goes through the run
store's state machine.

A run may hold block runs that ended before this execution: a retry from a block
(`RunStore.retry_block_runs`) resets that block and its downstream block runs and keeps the
others. Only block runs still `initial` (or `queued`) run; kept `completed` ones supply their
outputs from this run's own data products, and a block behind a kept block run that did not
complete is `upstream_failed` at once. The run's final status counts every block run.
"""

from __future__ import annotations

import heapq
import logging
import os
import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from weir.blocks.base import BlockRequest, UpstreamInput
from weir.data_products.store import DataProductStore
from weir.engine.block_attempt import (
    Attempt,
    AttemptOutcome,
    AttemptWork,
    BlockExecutor,
    Stage,
    count_rows,
    error_details,
    start_attempt,
)
from weir.engine.events import BlockRunEvent, NullObserver, RunObserver
from weir.engine.logs import block_log_path, block_run_logger
from weir.errors import BlockLoadError, BlockTimeoutError, DataProductError, WeirError
from weir.pipeline.pipeline import Pipeline
from weir.project.project import Project
from weir.runs.records import PipelineRunRecord
from weir.runs.status import TERMINAL_STATUSES, RunStatus
from weir.runs.store import RunStore

#: Worker threads when a pipeline sets no `concurrency_config.block_run_limit`.
DEFAULT_BLOCK_RUN_LIMIT = max(2, min(8, (os.cpu_count() or 2)))

#: Recorded block-run statuses the executor runs; a block run in any other status is kept.
_TO_RUN = frozenset({RunStatus.INITIAL, RunStatus.QUEUED})


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What one pipeline run executes.

    Attributes:
        project: the project.
        pipeline: the loaded pipeline.
        run: the run record, created with one block run per block in `block_uuids`.
        block_uuids: the blocks to run, a subset of the pipeline's; upstream blocks outside it
            supply their outputs from their latest completed run, read from disk.
        variables: the merged variables (pipeline < trigger < runtime).
        execution_date: the run's logical date (tz-aware).
    """

    project: Project
    pipeline: Pipeline
    run: PipelineRunRecord
    block_uuids: tuple[str, ...]
    variables: Mapping[str, Any]
    execution_date: datetime


class PipelineRunExecutor:
    """Runs a `RunPlan` to a terminal status.

    Args:
        plan: what to run.
        runs: the metadata store (every status change goes through it).
        data_products: where outputs are persisted and read back.
        executors: block language -> executor function.
        observer: told of each status change.
        clock: monotonic seconds; tests pass a fake.
    """

    def __init__(
        self,
        plan: RunPlan,
        runs: RunStore,
        data_products: DataProductStore,
        executors: Mapping[str, BlockExecutor],
        *,
        observer: RunObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._plan = plan
        self._runs = runs
        self._products = data_products
        self._executors = executors
        self._observer = observer or NullObserver()
        self._clock = clock
        self._dag = plan.pipeline.dag.subset(plan.block_uuids)
        self._block_run_ids = {b.block_uuid: b.id for b in plan.run.block_runs}
        recorded = {b.block_uuid: b.status for b in plan.run.block_runs}
        # Block runs that ended before this execution (kept by a retry from a block) stay as
        # they are; only the others run.
        self._kept = {
            uuid: recorded[uuid]
            for uuid in plan.block_uuids
            if recorded.get(uuid, RunStatus.INITIAL) not in _TO_RUN
        }
        self._to_run = tuple(uuid for uuid in self._dag.blocks if uuid not in self._kept)
        self._statuses: dict[str, RunStatus] = {
            uuid: self._kept.get(uuid, RunStatus.INITIAL) for uuid in plan.block_uuids
        }
        self._waiting_on = {
            uuid: sum(1 for up in self._dag.upstream_of(uuid) if up not in self._kept)
            for uuid in plan.block_uuids
        }
        self._consumers_left = {
            uuid: sum(1 for down in self._dag.downstream_of(uuid) if down not in self._kept)
            for uuid in plan.block_uuids
        }
        self._inputs: dict[str, UpstreamInput] = {}
        self._ready: list[str] = [uuid for uuid in self._to_run if self._waiting_on[uuid] == 0]
        self._running: dict[str, Attempt] = {}
        self._retry_at: list[tuple[float, str, int]] = []
        self._outcomes: queue.Queue[AttemptOutcome] = queue.Queue()
        limit = plan.pipeline.spec.concurrency_config.block_run_limit
        self._limit = limit or DEFAULT_BLOCK_RUN_LIMIT

    def execute(self) -> RunStatus:
        """Run every planned block; returns the run's terminal status.

        A KeyboardInterrupt cancels the run (running and pending block runs become `cancelled`)
        and is re-raised.
        """
        self._runs.transition_pipeline_run(self._plan.run.id, RunStatus.RUNNING)
        self._observer.run_started(self._plan.run.id, self._to_run)
        try:
            self._skip_blocks_behind_kept_failures()
            while self._ready or self._running or self._retry_at:
                self._start_ready_blocks()
                self._wait_and_handle_one()
                self._expire_timeouts()
                self._release_due_retries()
        except KeyboardInterrupt:
            self._cancel_all("cancelled: interrupted by the user (SIGINT/SIGTERM)")
            raise
        status = self._final_status()
        failed = [uuid for uuid, s in self._statuses.items() if s is not RunStatus.COMPLETED]
        self._runs.transition_pipeline_run(
            self._plan.run.id,
            status,
            error=f"blocks not completed: {', '.join(failed)}" if failed else None,
            metrics=self._run_metrics(),
        )
        self._observer.run_finished(status)
        return status

    def _skip_blocks_behind_kept_failures(self) -> None:
        # A block to run whose upstream block run was kept without completing can never get its
        # input; in topological order, so whatever is behind a skipped block is skipped too.
        for uuid in self._to_run:
            blocked = [
                up
                for up in self._dag.upstream_of(uuid)
                if self._statuses[up] in TERMINAL_STATUSES
                and self._statuses[up] is not RunStatus.COMPLETED
            ]
            if self._statuses[uuid] is RunStatus.INITIAL and blocked:
                self._set_status(
                    uuid,
                    RunStatus.UPSTREAM_FAILED,
                    error=f"upstream block '{blocked[0]}' did not complete",
                )
                self._observer.block_changed(BlockRunEvent(uuid, RunStatus.UPSTREAM_FAILED))
                self._ready = [ready for ready in self._ready if ready != uuid]
                self._finished(uuid)

    # --- starting blocks -------------------------------------------------------------------

    def _computing(self) -> int:
        return sum(1 for attempt in self._running.values() if not attempt.computed)

    def _start_ready_blocks(self) -> None:
        while self._ready and self._computing() < self._limit:
            uuid = self._ready.pop(0)
            self._start(uuid, attempt_number=1)

    def _start(self, uuid: str, *, attempt_number: int) -> None:
        spec = self._plan.pipeline.block(uuid)
        now = self._clock()
        deadline = now + spec.timeout if spec.timeout else None
        attempt = Attempt(block_uuid=uuid, number=attempt_number, started=now, deadline=deadline)
        plan = self._plan
        log_path = block_log_path(plan.project.data_dir, plan.run.id, uuid)
        if attempt_number == 1:
            self._set_status(uuid, RunStatus.RUNNING, log_path=str(log_path))
        self._running[uuid] = attempt
        self._observer.block_changed(BlockRunEvent(uuid, RunStatus.RUNNING, attempt_number))
        executor = self._executors.get(spec.language)
        if executor is None:
            error = BlockLoadError(uuid, f"no executor for language '{spec.language}'")
            self._outcomes.put(AttemptOutcome(uuid, attempt_number, Stage.FAILED, error=error))
            return
        work = AttemptWork(
            open_log=lambda: block_run_logger(
                log_path,
                pipeline_uuid=plan.pipeline.uuid,
                pipeline_run_id=plan.run.id,
                block_uuid=uuid,
            ),
            make_request=lambda logger: self._request(uuid, logger),
            execute=executor,
            data_products=self._products,
        )
        start_attempt(attempt, work, self._outcomes)

    def _request(self, uuid: str, logger: logging.Logger) -> BlockRequest:
        # Runs on the attempt's thread: reading upstream outputs from disk happens there, too.
        spec = self._plan.pipeline.block(uuid)
        plan = self._plan
        return BlockRequest(
            project_root=plan.project.root,
            pipeline_uuid=plan.pipeline.uuid,
            block_uuid=uuid,
            block_type=spec.type,
            language=spec.language,
            file_path=plan.pipeline.block_files[uuid],
            upstream=tuple(self._upstream_input(uuid, parent) for parent in spec.upstream_blocks),
            variables=plan.variables,
            configuration=spec.configuration,
            pipeline_run_id=plan.run.id,
            execution_date=plan.execution_date,
            logger=logger,
        )

    def _upstream_input(self, uuid: str, parent: str) -> UpstreamInput:
        held = self._inputs.get(parent)
        if held is not None:
            return held
        return self._read_from_disk(uuid, parent)

    def _read_from_disk(self, uuid: str, parent: str) -> UpstreamInput:
        pipeline_uuid = self._plan.pipeline.uuid
        if parent in self._kept:
            # Completed earlier in this very run (a retry from a block): its own outputs.
            source_run_id = self._plan.run.id
        else:
            previous = self._runs.latest_block_run(pipeline_uuid, parent)
            if previous is None:
                raise BlockLoadError(
                    uuid,
                    f"its upstream block '{parent}' has no completed run to read its output from; "
                    f"run it first: weir run {self._plan.project.root} {pipeline_uuid} "
                    f"--block {parent}",
                )
            source_run_id = previous.pipeline_run_id
        outputs = self._products.read(source_run_id, parent)
        infos = self._products.info(source_run_id, parent)
        value: Any = outputs[0] if len(outputs) == 1 else (outputs or None)
        parent_spec = self._plan.pipeline.block(parent)
        return UpstreamInput(
            block_uuid=parent,
            value=value,
            paths=tuple(info.path for info in infos),
            language=parent_spec.language,
        )

    # --- outcomes ----------------------------------------------------------------------------

    def _wait_and_handle_one(self) -> None:
        if not self._running:
            timeout = self._seconds_until_next_wakeup()
            if timeout:
                time.sleep(timeout)
            return
        try:
            outcome = self._outcomes.get(timeout=self._seconds_until_next_wakeup())
        except queue.Empty:
            return
        attempt = self._running.get(outcome.block_uuid)
        if attempt is None or attempt.number != outcome.attempt:
            return  # a late answer from an attempt abandoned at its timeout
        if outcome.stage is Stage.COMPUTED:
            attempt.computed = True
            attempt.deadline = None  # the timeout bounds the block's code, not Weir's writing
            self._hand_to_downstream(outcome)
            return
        del self._running[outcome.block_uuid]
        if outcome.stage is Stage.PERSISTED:
            self._complete(outcome)
        elif attempt.computed:
            assert isinstance(outcome.error, DataProductError)
            self._fail_block(outcome.block_uuid, outcome.attempt, outcome.error, outcome.seconds)
        else:
            assert outcome.error is not None
            self._fail_attempt(outcome.block_uuid, outcome.attempt, outcome.error, outcome.seconds)

    def _hand_to_downstream(self, outcome: AttemptOutcome) -> None:
        uuid = outcome.block_uuid
        assert outcome.result is not None
        outputs = outcome.result.outputs
        if self._consumers_left[uuid] > 0:
            value: Any = outputs[0] if len(outputs) == 1 else (outputs or None)
            language = self._plan.pipeline.block(uuid).language
            self._inputs[uuid] = UpstreamInput(block_uuid=uuid, value=value, language=language)
        for child in self._dag.downstream_of(uuid):
            self._waiting_on[child] -= 1
            if self._waiting_on[child] == 0 and self._statuses[child] is RunStatus.INITIAL:
                self._ready.append(child)

    def _complete(self, outcome: AttemptOutcome) -> None:
        uuid = outcome.block_uuid
        assert outcome.result is not None
        outputs = outcome.result.outputs
        rows = count_rows(outputs, outcome.infos)
        metrics = {
            "rows": rows,
            "bytes": sum(info.bytes for info in outcome.infos),
            "seconds": round(outcome.seconds, 6),
            "outputs": len(outputs),
        }
        self._set_status(uuid, RunStatus.COMPLETED, metrics=metrics, attempts=outcome.attempt)
        self._observer.block_changed(
            BlockRunEvent(uuid, RunStatus.COMPLETED, outcome.attempt, outcome.seconds, rows)
        )
        held = self._inputs.get(uuid)
        if held is not None:  # from now on SQL engines may also read the files in place
            self._inputs[uuid] = UpstreamInput(
                block_uuid=uuid,
                value=held.value,
                paths=tuple(info.path for info in outcome.infos),
                language=held.language,
            )
        self._finished(uuid)

    def _fail_attempt(self, uuid: str, attempt: int, error: BaseException, seconds: float) -> None:
        retry = self._plan.pipeline.block(uuid).retry_config
        if retry is not None and attempt <= retry.retries:
            due = self._clock() + retry.delay_seconds(attempt)
            heapq.heappush(self._retry_at, (due, uuid, attempt + 1))
            self._observer.block_changed(
                BlockRunEvent(
                    uuid, RunStatus.RUNNING, attempt + 1, seconds, error=_first_line(error)
                )
            )
            return
        self._fail_block(uuid, attempt, error, seconds)

    def _fail_block(self, uuid: str, attempt: int, error: BaseException, seconds: float) -> None:
        message, trace = error_details(error)
        self._set_status(
            uuid,
            RunStatus.FAILED,
            error=message,
            traceback=trace,
            metrics={"seconds": round(seconds, 6)},
            attempts=attempt,
        )
        self._observer.block_changed(
            BlockRunEvent(uuid, RunStatus.FAILED, attempt, seconds, error=_first_line(error))
        )
        doomed = self._dag.descendants(uuid)
        # A block already started on the in-memory outputs may finish; the rest never start.
        self._ready = [ready for ready in self._ready if ready not in doomed]
        for descendant in self._dag.blocks:
            if descendant in doomed and self._statuses[descendant] is RunStatus.INITIAL:
                self._set_status(
                    descendant, RunStatus.UPSTREAM_FAILED, error=f"upstream block '{uuid}' failed"
                )
                self._observer.block_changed(BlockRunEvent(descendant, RunStatus.UPSTREAM_FAILED))
                self._finished(descendant)
        self._finished(uuid)

    def _finished(self, uuid: str) -> None:
        # Drop in-memory outputs nobody still needs, so memory follows the DAG's width.
        for parent in self._dag.upstream_of(uuid):
            self._consumers_left[parent] -= 1
            if self._consumers_left[parent] == 0:
                self._inputs.pop(parent, None)

    # --- time --------------------------------------------------------------------------------

    def _seconds_until_next_wakeup(self) -> float | None:
        moments = [a.deadline for a in self._running.values() if a.deadline is not None]
        if self._retry_at:
            moments.append(self._retry_at[0][0])
        if not moments:
            return None
        return max(0.0, min(moments) - self._clock())

    def _expire_timeouts(self) -> None:
        now = self._clock()
        for uuid, attempt in list(self._running.items()):
            if attempt.deadline is not None and now >= attempt.deadline:
                attempt.abandoned.set()
                del self._running[uuid]
                timeout = self._plan.pipeline.block(uuid).timeout
                error = BlockTimeoutError(
                    uuid, f"ran longer than its timeout of {timeout:g} s and was stopped"
                )
                self._fail_attempt(uuid, attempt.number, error, now - attempt.started)

    def _release_due_retries(self) -> None:
        now = self._clock()
        while self._retry_at and self._retry_at[0][0] <= now and self._computing() < self._limit:
            _, uuid, number = heapq.heappop(self._retry_at)
            self._start(uuid, attempt_number=number)

    # --- statuses ----------------------------------------------------------------------------

    def _set_status(self, uuid: str, status: RunStatus, **fields: Any) -> None:
        self._runs.transition_block_run(self._block_run_ids[uuid], status, **fields)
        self._statuses[uuid] = status

    def _cancel_all(self, reason: str) -> None:
        for attempt in self._running.values():
            attempt.abandoned.set()
        for uuid, status in self._statuses.items():
            if status in (RunStatus.INITIAL, RunStatus.QUEUED, RunStatus.RUNNING):
                self._set_status(uuid, RunStatus.CANCELLED, error=reason)
        self._runs.transition_pipeline_run(self._plan.run.id, RunStatus.CANCELLED, error=reason)
        self._observer.run_finished(RunStatus.CANCELLED)

    def _final_status(self) -> RunStatus:
        if all(status is RunStatus.COMPLETED for status in self._statuses.values()):
            return RunStatus.COMPLETED
        return RunStatus.FAILED

    def _run_metrics(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for status in self._statuses.values():
            counts[status.value] = counts.get(status.value, 0) + 1
        return {"block_runs": counts}


def _first_line(error: BaseException) -> str:
    text = str(error) if isinstance(error, WeirError) else f"{type(error).__name__}: {error}"
    return text.splitlines()[0] if text else type(error).__name__
