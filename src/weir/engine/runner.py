"""Starting a pipeline run: plan it, record it, execute it in an isolated worker process.

Isolation: the run executes in a forked child process (the parent only supervises), so a block that
calls `os._exit()`, segfaults, exhausts memory or is killed with SIGKILL ends its run `failed` with
the reason instead of leaving it `running`: the parent sees the child's exit and fails whatever the
child did not finish. Forking keeps start-up cheap: the child inherits the loaded modules.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import Any, Protocol

from weir.blocks.base import BlockRequest, BlockResult
from weir.blocks.python_block import execute_python_block
from weir.data_products.formats import DEFAULT_TABLE_FORMAT
from weir.data_products.store import DataProductStore
from weir.engine.block_attempt import BlockExecutor
from weir.engine.events import RunObserver
from weir.engine.executor import PipelineRunExecutor, RunPlan
from weir.engine.logs import routed_standard_streams
from weir.errors import ConfigError, PipelineValidationError
from weir.pipeline.pipeline import Pipeline, load_pipeline
from weir.project.project import Project, load_project
from weir.runs.database import default_database_url
from weir.runs.records import PipelineRunRecord
from weir.runs.status import TERMINAL_STATUSES, RunStatus
from weir.runs.store import RunStore

HEARTBEAT_INTERVAL_SECONDS = 10.0
_EXIT_CODES = {RunStatus.COMPLETED: 0, RunStatus.FAILED: 1, RunStatus.CANCELLED: 130}


def execute_sql(request: BlockRequest) -> BlockResult:
    """Run a SQL block (imported on first use: DuckDB and Jinja cost start-up time)."""
    from weir.blocks.sql import execute_sql_block

    return execute_sql_block(request)


#: Block language -> executor. Later languages (R, dbt) register here.
EXECUTORS: Mapping[str, BlockExecutor] = {"python": execute_python_block, "sql": execute_sql}


class PipelineTypeExecutor(Protocol):
    """Runs a whole planned run of one pipeline type (e.g. `integration`) to a terminal status.

    It owns its block runs' status changes (through `runs`) and must leave none unfinished.
    """

    def __call__(
        self,
        plan: RunPlan,
        runs: RunStore,
        data_products: DataProductStore,
        observer: RunObserver | None,
    ) -> RunStatus:
        """Execute the plan; returns the run's terminal status."""


#: Pipeline type -> "module:function" of its executor. Named, not imported, because those
#: layers (integration, streaming) sit above the engine and import it, not the other way round.
#: Types not listed run as batch DAGs of blocks (PipelineRunExecutor).
PIPELINE_TYPE_EXECUTORS: Mapping[str, str] = {
    "integration": "weir.integration.pipeline_run:execute_integration_run",
}


def _type_executor(pipeline_type: str) -> PipelineTypeExecutor | None:
    reference = PIPELINE_TYPE_EXECUTORS.get(pipeline_type)
    if reference is None:
        return None
    module_name, _, function_name = reference.partition(":")
    executor: PipelineTypeExecutor = getattr(importlib.import_module(module_name), function_name)
    return executor


def merge_variables(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge variable layers, later ones winning: pipeline < trigger < runtime (Mage's order)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer or {})
    return merged


def select_blocks(
    pipeline: Pipeline, block_uuids: Iterable[str] | None, *, downstream: bool
) -> tuple[str, ...]:
    """The blocks a run executes, in topological order.

    Args:
        pipeline: the pipeline.
        block_uuids: blocks to run; None runs them all.
        downstream: also run every block downstream of those given.

    Raises:
        PipelineValidationError: a uuid is not a block of the pipeline.
    """
    dag = pipeline.dag
    if block_uuids is None:
        return dag.blocks
    chosen = set(block_uuids)
    for uuid in chosen:
        if uuid not in dag:
            known = ", ".join(dag.blocks)
            raise PipelineValidationError(
                f"pipeline '{pipeline.uuid}' has no block '{uuid}' (blocks: {known})"
            )
    if downstream:
        for uuid in list(chosen):
            chosen |= dag.descendants(uuid)
    return tuple(uuid for uuid in dag.blocks if uuid in chosen)


def run_pipeline(
    project_path: str | os.PathLike[str],
    pipeline_uuid: str,
    *,
    runtime_variables: Mapping[str, Any] | None = None,
    trigger_variables: Mapping[str, Any] | None = None,
    block_uuids: Iterable[str] | None = None,
    downstream: bool = False,
    execution_date: datetime | None = None,
    observer: RunObserver | None = None,
    isolate: bool = True,
    database_url: str | None = None,
) -> PipelineRunRecord:
    """Run a pipeline (or some of its blocks) once and return the finished run record.

    Args:
        project_path: the project folder.
        pipeline_uuid: the pipeline to run.
        runtime_variables: variables of this run; they win over trigger and pipeline variables.
        trigger_variables: variables of the trigger that started the run.
        block_uuids: run only these blocks; their upstream outputs are read from disk.
        downstream: with `block_uuids`, also run everything downstream of them.
        execution_date: the run's logical date; default now (UTC).
        observer: told of each block's progress (the CLI's live view).
        isolate: execute in a forked worker process (default where the OS can fork).
        database_url: the metadata database; default `WEIR_DATABASE_URL` or the project's SQLite.

    Returns:
        The run record in a terminal status, with its block runs.

    Raises:
        ProjectNotFoundError, PipelineValidationError, ConfigError: before any run is recorded.
    """
    project = load_project(os.fspath(project_path))
    pipeline = load_pipeline(project, pipeline_uuid)
    selected = select_blocks(pipeline, block_uuids, downstream=downstream)
    data_product_store(project)  # a bad data_product_format fails before any run is recorded
    url = database_url or default_database_url(project.data_dir)
    with RunStore(url) as runs:
        plan = plan_run(
            project,
            pipeline,
            runs,
            variables=merge_variables(
                pipeline.spec.variables, trigger_variables, runtime_variables
            ),
            block_uuids=selected,
            execution_date=execution_date or datetime.now(UTC),
        )
        return _run_plan(plan, runs, url, observer=observer, isolate=isolate)


def execute_recorded_run(
    project_path: str | os.PathLike[str],
    pipeline_run_id: int,
    *,
    observer: RunObserver | None = None,
    isolate: bool = True,
    database_url: str | None = None,
) -> PipelineRunRecord:
    """Execute a run recorded earlier (status `initial` or `queued`), e.g. by the scheduler.

    The run's own variables, execution date and block runs are used as recorded. Block runs
    that already ended (kept by a retry from a block, `RunStore.retry_block_runs`) are not run
    again: completed ones hand their outputs, read from this run's data products, to the
    blocks that run.

    Args:
        project_path: the project folder.
        pipeline_run_id: the run to execute.
        observer: told of each block's progress.
        isolate: execute in a forked worker process (default where the OS can fork).
        database_url: the metadata database; default `WEIR_DATABASE_URL` or the project's SQLite.

    Returns:
        The run record in a terminal status. When the pipeline can no longer be loaded (its file
        was deleted or broken since the run was recorded), the run is failed with that reason.

    Raises:
        RunNotFoundError: no run with that id.
    """
    project = load_project(os.fspath(project_path))
    url = database_url or default_database_url(project.data_dir)
    with RunStore(url) as runs:
        record = runs.get_pipeline_run(pipeline_run_id)
        try:
            pipeline = load_pipeline(project, record.pipeline_uuid)
            block_uuids = tuple(b.block_uuid for b in record.block_runs)
            pipeline.dag.subset(block_uuids)  # every recorded block must still exist
            data_product_store(project)
        except ConfigError as exc:
            return runs.fail_unfinished(pipeline_run_id, f"cannot load the pipeline: {exc}")
        plan = RunPlan(
            project=project,
            pipeline=pipeline,
            run=record,
            block_uuids=block_uuids,
            variables=record.variables,
            execution_date=record.execution_date,
        )
        return _run_plan(plan, runs, url, observer=observer, isolate=isolate)


def _run_plan(
    plan: RunPlan, runs: RunStore, url: str, *, observer: RunObserver | None, isolate: bool
) -> PipelineRunRecord:
    if isolate and hasattr(os, "fork"):
        return _execute_in_child(plan, runs, url, observer)
    _execute(plan, runs, observer)
    return runs.get_pipeline_run(plan.run.id)


def plan_run(
    project: Project,
    pipeline: Pipeline,
    runs: RunStore,
    *,
    variables: Mapping[str, Any],
    block_uuids: tuple[str, ...],
    execution_date: datetime,
) -> RunPlan:
    """Record a new run (status `initial`, one block run per block) and return its plan."""
    record = runs.create_pipeline_run(
        pipeline.uuid, block_uuids, variables=variables, execution_date=execution_date
    )
    return RunPlan(
        project=project,
        pipeline=pipeline,
        run=record,
        block_uuids=block_uuids,
        variables=variables,
        execution_date=execution_date,
    )


def data_product_store(project: Project) -> DataProductStore:
    """The project's data product store.

    `data_product_format` in the project's metadata.yaml picks the file format of table outputs:
    `arrow` (Arrow IPC, the default) or `parquet`.

    Raises:
        ConfigError: `data_product_format` is neither `arrow` nor `parquet`.
    """
    table_format = project.settings.get("data_product_format", DEFAULT_TABLE_FORMAT)
    if table_format not in ("arrow", "parquet"):
        raise ConfigError(
            f"{project.root / 'metadata.yaml'}: key 'data_product_format' is {table_format!r}; "
            "use 'arrow' (fast, the default) or 'parquet' (smaller files)"
        )
    return DataProductStore(project.data_dir / "pipeline_runs", table_format=table_format)


def _execute(plan: RunPlan, runs: RunStore, observer: RunObserver | None) -> RunStatus:
    products = data_product_store(plan.project)
    type_executor = _type_executor(plan.pipeline.spec.type)
    stop_heartbeat = threading.Event()
    beat = threading.Thread(
        target=_heartbeat,
        args=(runs, plan.run.id, stop_heartbeat),
        name="weir-heartbeat",
        daemon=True,
    )
    beat.start()
    try:
        with routed_standard_streams():
            if type_executor is not None:
                return type_executor(plan, runs, products, observer)
            return PipelineRunExecutor(plan, runs, products, EXECUTORS, observer=observer).execute()
    finally:
        stop_heartbeat.set()


def _heartbeat(runs: RunStore, run_id: int, stop: threading.Event) -> None:
    # Lets a scheduler tell a live run from one whose process died without a word.
    while not stop.wait(HEARTBEAT_INTERVAL_SECONDS):
        try:
            runs.heartbeat(run_id)
        except Exception:  # a missed beat is harmless; the run itself reports real failures
            continue


def _execute_in_child(
    plan: RunPlan, runs: RunStore, url: str, observer: RunObserver | None
) -> PipelineRunRecord:
    runs.close()  # the child must not share the parent's pooled database connections

    def child() -> None:
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            with RunStore(url) as child_runs:
                status = _execute(plan, child_runs, observer)
        except KeyboardInterrupt:
            status = RunStatus.CANCELLED
        sys.stdout.flush()
        os._exit(_EXIT_CODES.get(status, 1))

    process = multiprocessing.get_context("fork").Process(target=child, name="weir-run")
    process.start()
    _wait_for(process)
    record = runs.get_pipeline_run(plan.run.id)
    if record.status not in TERMINAL_STATUSES:
        record = runs.fail_unfinished(plan.run.id, _death_reason(process.exitcode))
    return record


def _wait_for(process: multiprocessing.process.BaseProcess) -> None:
    # Ctrl-C reaches the child too (same process group); it cancels its run and exits. The parent
    # keeps waiting, and forwards SIGTERM so `kill <parent>` also cancels cleanly.
    previous = signal.signal(signal.SIGTERM, lambda *_: _terminate(process))
    try:
        while True:
            try:
                process.join()
                return
            except KeyboardInterrupt:
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(process: multiprocessing.process.BaseProcess) -> None:
    if process.is_alive():
        process.terminate()


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return (
            f"the run's worker process was killed by {name} (signal {-exitcode}) before the run "
            "finished; block runs still running were failed"
        )
    return (
        f"the run's worker process exited with code {exitcode} before the run finished (a block "
        "called os._exit() or the interpreter crashed); block runs still running were failed"
    )
