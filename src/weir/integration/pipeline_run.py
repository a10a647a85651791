"""Running an integration pipeline (`weir run` on `type: integration`), and discovering its catalog.

`execute_integration_run` is the engine's executor for integration pipelines (named in
`weir.engine.runner.PIPELINE_TYPE_EXECUTORS`). One run:

1. marks the pipeline run and every block run `running`;
2. renders the YAML blocks (`weir.integration.pipeline_config`), builds the source and the
   destination (`weir.integration.registry`), reads the catalog and loads the transformers;
3. checks both connectors, then syncs each selected stream in catalog order with
   `weir.integration.sync.run_sync`, under the state id of the pipeline's uuid, so bookmarks
   are committed by the destination with the rows (a run killed at any point resumes from the
   last committed batch). A failed stream does not stop the others;
4. ends each block run and the pipeline run through the run store, with metrics: per stream,
   the rows written and read, seconds, replication method, committed bookmark and error (in the
   pipeline run's `streams`); per block, its rows.

Who is blamed for a failure: a source, catalog or source-config error fails the data loader
block; a destination, schema-change or destination-config error the data exporter; a
transformer's error that transformer; anything else both connector blocks. When the failure
stopped the run before every stream was tried, the other block runs end `cancelled`; when only
some streams failed, the blocks that did their part end `completed`. The pipeline run is
`failed` with the reason whenever any block run failed; no block run is left `running`.

Each stream's progress (rows, rows/s, and the source's row estimate when it gives one) goes to
observers with a `stream_progress` method (`weir.engine.events.StreamObserver`).
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Collection, Mapping
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from weir.blocks.base import BlockRequest
from weir.data_products.store import DataProductStore
from weir.engine.events import BlockRunEvent, NullObserver, RunObserver, StreamProgressEvent
from weir.engine.executor import RunPlan
from weir.engine.logs import block_log_path, block_run_logger
from weir.errors import BlockError, ConfigError, WeirError
from weir.integration.base import Destination
from weir.integration.errors import (
    CatalogError,
    DestinationError,
    SchemaChangeError,
    SourceError,
    SyncFailedError,
)
from weir.integration.pipeline_config import (
    IntegrationPipelineConfig,
    load_integration_config,
    load_pipeline_catalog,
    merge_discovered,
    read_catalog_file,
    write_catalog_file,
)
from weir.integration.registry import (
    ConnectorConfig,
    ConnectorContext,
    create_destination,
    create_source,
)
from weir.integration.singer import Catalog, CatalogEntry
from weir.integration.sync import StreamResult, SyncProgress, run_sync
from weir.integration.transform import BatchTransformer, TransformedSource, TransformerError
from weir.pipeline.pipeline import load_pipeline
from weir.project.project import Project, load_project
from weir.runs.status import TERMINAL_STATUSES, RunStatus
from weir.runs.store import RunStore

__all__ = ["discover_catalog", "execute_integration_run", "integration_work_dir"]

_T = TypeVar("_T")
_CANCELLED = "cancelled: interrupted by the user (SIGINT/SIGTERM)"


def integration_work_dir(project: Project, pipeline_uuid: str) -> Path:
    """A pipeline's folder for connector files: `<data dir>/integration/<pipeline uuid>`."""
    return project.data_dir / "integration" / pipeline_uuid


def execute_integration_run(
    plan: RunPlan,
    runs: RunStore,
    data_products: DataProductStore,
    observer: RunObserver | None,
) -> RunStatus:
    """Run an integration pipeline's planned run to a terminal status (see the module docstring).

    Args:
        plan: the run; it must include every block of the pipeline.
        runs: the run store; every status change goes through it.
        data_products: unused (an integration run writes to its destination, not to data
            products); part of the engine's `PipelineTypeExecutor` signature.
        observer: told of block status changes and, if it can take them, stream progress.

    Returns:
        `completed`, or `failed` with the reason in the run's `error`.

    Raises:
        KeyboardInterrupt: the run was interrupted; its records are `cancelled` first.
    """
    return _IntegrationRun(plan, runs, observer).execute()


class _BlamedError(Exception):
    """A step failed; `blocks` are the block runs that fail because of it."""

    def __init__(self, blocks: tuple[str, ...], error: BaseException) -> None:
        super().__init__(str(error))
        self.blocks, self.error = blocks, error


class _IntegrationRun:
    """One integration run: its block runs' statuses, loggers, metrics and progress."""

    def __init__(self, plan: RunPlan, runs: RunStore, observer: RunObserver | None) -> None:
        self.plan, self.runs = plan, runs
        self.observer: RunObserver = observer or NullObserver()
        self.block_run_ids = {b.block_uuid: b.id for b in plan.run.block_runs}
        self.statuses = dict.fromkeys(plan.block_uuids, RunStatus.INITIAL)
        self.started = dict.fromkeys(plan.block_uuids, time.monotonic())
        self.loggers: dict[str, logging.Logger] = {}
        self.failures: dict[str, list[BaseException]] = {}
        self.results: list[StreamResult] = []
        self.config: IntegrationPipelineConfig | None = None
        self.source: TransformedSource | None = None
        self.stopped_early = False

    # -- the run --------------------------------------------------------------------------------
    def execute(self) -> RunStatus:
        plan = self.plan
        self.runs.transition_pipeline_run(plan.run.id, RunStatus.RUNNING)
        self.observer.run_started(plan.run.id, plan.block_uuids)
        with ExitStack() as stack:
            for uuid in plan.block_uuids:
                path = block_log_path(plan.project.data_dir, plan.run.id, uuid)
                self.loggers[uuid] = stack.enter_context(
                    block_run_logger(
                        path,
                        pipeline_uuid=plan.pipeline.uuid,
                        pipeline_run_id=plan.run.id,
                        block_uuid=uuid,
                    )
                )
                self._set(uuid, RunStatus.RUNNING, log_path=str(path), attempts=1)
            try:
                self._run()
            except _BlamedError as blamed:
                self.stopped_early = True
                self._fail(blamed.blocks, blamed.error)
            except KeyboardInterrupt:
                self._cancel_all(_CANCELLED)
                raise
            except Exception as exc:  # a bug outside any step: still end every block run
                self.stopped_early = True
                self._fail(plan.block_uuids, exc)
            return self._finish()

    def _run(self) -> None:
        config = self._load_config()
        self.config = config
        context = ConnectorContext(
            config.project.root, integration_work_dir(config.project, config.pipeline.uuid)
        )
        src, dst = config.source, config.destination
        source, read_src = self._step(
            (src.block_uuid,), lambda: create_source(src.name, src.config, context)
        )
        destination, read_dst = self._step(
            (dst.block_uuid,), lambda: create_destination(dst.name, dst.config, context)
        )
        self._log_config(src.block_uuid, read_src)
        self._log_config(dst.block_uuid, read_dst)
        catalog = self._step((src.block_uuid,), lambda: _selected_catalog(config))
        transformers: list[BatchTransformer] = []
        for uuid in config.transformers:
            request = self._request(uuid)
            transformers.append(self._step((uuid,), partial(BatchTransformer, request)))
        self.source = TransformedSource(source, tuple(transformers))
        self._step((src.block_uuid,), source.check)
        self._step((dst.block_uuid,), destination.check)
        for entry in catalog.selected:
            self._sync_stream(entry, config, self.source, destination)

    def _load_config(self) -> IntegrationPipelineConfig:
        plan = self.plan
        try:
            config = load_integration_config(plan.project, plan.pipeline, plan.variables)
        except WeirError as exc:
            raise _BlamedError(self._blocks_named_in(exc), exc) from exc
        if set(plan.block_uuids) != set(config.block_order):
            raise _BlamedError(
                plan.block_uuids,
                ConfigError(
                    f"pipeline '{plan.pipeline.uuid}' is an integration pipeline and runs as a "
                    "whole; run it without --block"
                ),
            )
        return config

    def _blocks_named_in(self, error: WeirError) -> tuple[str, ...]:
        # Config errors name the file at fault; blame that block, else every block.
        files = self.plan.pipeline.block_files
        named = tuple(u for u in self.plan.block_uuids if str(files.get(u, "\0")) in str(error))
        return named or self.plan.block_uuids

    def _step(self, blocks: tuple[str, ...], action: Callable[[], _T]) -> _T:
        try:
            return action()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            raise _BlamedError(blocks, exc) from exc

    def _request(self, uuid: str) -> BlockRequest:
        plan = self.plan
        spec = plan.pipeline.block(uuid)
        return BlockRequest(
            project_root=plan.project.root,
            pipeline_uuid=plan.pipeline.uuid,
            block_uuid=uuid,
            block_type=spec.type,
            language=spec.language,
            file_path=plan.pipeline.block_files[uuid],
            upstream=(),
            variables=plan.variables,
            configuration=spec.configuration,
            pipeline_run_id=plan.run.id,
            execution_date=plan.execution_date,
            logger=self.loggers[uuid],
        )

    def _log_config(self, uuid: str, config: ConnectorConfig) -> None:
        for note in config.notes:
            self.loggers[uuid].warning(note)
        unused = config.unused()
        if unused:
            self.loggers[uuid].warning(
                "%s: config keys %s are not used by Weir (misspelt, or not supported)",
                config.where,
                unused,
            )

    # -- streams --------------------------------------------------------------------------------
    def _sync_stream(
        self,
        entry: CatalogEntry,
        config: IntegrationPipelineConfig,
        source: TransformedSource,
        destination: Destination,
    ) -> None:
        name = entry.stream
        expected = _row_estimate(entry)
        self._progress(StreamProgressEvent(name, RunStatus.RUNNING, expected_rows=expected))

        def on_progress(progress: SyncProgress) -> None:
            self._progress(
                StreamProgressEvent(
                    name, RunStatus.RUNNING, progress.rows, progress.seconds, expected
                )
            )

        blocks = (config.source.block_uuid, config.destination.block_uuid)
        try:
            result = self._step(
                blocks,
                lambda: run_sync(
                    source,
                    destination,
                    Catalog((entry,)),
                    state_id=config.pipeline.uuid,
                    batch_size_rows=config.batch_size_rows,
                    on_progress=on_progress,
                ).streams[0],
            )
        except _BlamedError as blamed:
            if not isinstance(blamed.error, SyncFailedError):
                raise
            result = blamed.error.result.streams[0]
        self.results.append(result)
        self._stream_ended(result, expected, config, source)

    def _stream_ended(
        self,
        result: StreamResult,
        expected: int | None,
        config: IntegrationPipelineConfig,
        source: TransformedSource,
    ) -> None:
        read = source.rows_read.get(result.stream, 0)
        self.loggers[config.source.block_uuid].info("stream %s: read %d rows", result.stream, read)
        rate = result.rows / result.seconds if result.seconds > 0 else 0.0
        self.loggers[config.destination.block_uuid].info(
            "stream %s: wrote %d rows in %.2f s (%.0f rows/s); committed bookmark %s",
            result.stream,
            result.rows,
            result.seconds,
            rate,
            dict(result.bookmark) if result.bookmark is not None else None,
        )
        status = RunStatus.COMPLETED
        error_line = None
        if result.error is not None:
            status, error_line = RunStatus.FAILED, _first_line(result.error)
            self._fail(_blame(result.error, config), result.error)
        self._progress(
            StreamProgressEvent(
                result.stream, status, result.rows, result.seconds, expected, error_line
            )
        )

    def _progress(self, event: StreamProgressEvent) -> None:
        notify = getattr(self.observer, "stream_progress", None)
        if notify is not None:
            notify(event)

    # -- ending ---------------------------------------------------------------------------------
    def _fail(self, blocks: tuple[str, ...], error: BaseException) -> None:
        for uuid in blocks:
            self.failures.setdefault(uuid, []).append(error)
            if uuid in self.loggers:
                self.loggers[uuid].error("%s", _message(error), exc_info=error)

    def _finish(self) -> RunStatus:
        others = RunStatus.CANCELLED if self.stopped_early else RunStatus.COMPLETED
        first_failed = next(iter(self.failures), None)
        for uuid in self.plan.block_uuids:
            errors = self.failures.get(uuid)
            metrics = {**self._block_metrics(uuid), "seconds": self._seconds(uuid)}
            if errors:
                self._end_block(uuid, RunStatus.FAILED, metrics, errors)
            elif first_failed is not None and others is RunStatus.CANCELLED:
                reason = f"stopped: block '{first_failed}' failed"
                self._set(uuid, RunStatus.CANCELLED, error=reason, metrics=metrics)
                self._notify(uuid, RunStatus.CANCELLED, metrics, reason)
            else:
                self._set(uuid, RunStatus.COMPLETED, metrics=metrics)
                self._notify(uuid, RunStatus.COMPLETED, metrics)
        status = RunStatus.FAILED if self.failures else RunStatus.COMPLETED
        self.runs.transition_pipeline_run(
            self.plan.run.id, status, error=self._run_error(), metrics=self._run_metrics()
        )
        self.observer.run_finished(status)
        return status

    def _end_block(
        self, uuid: str, status: RunStatus, metrics: dict[str, Any], errors: list[BaseException]
    ) -> None:
        message = "\n".join(_message(e) for e in errors)
        trace = "\n".join("".join(traceback.format_exception(e)) for e in errors)
        self._set(uuid, status, error=message, traceback=trace, metrics=metrics)
        self._notify(uuid, status, metrics, _first_line(errors[0]))

    def _notify(
        self, uuid: str, status: RunStatus, metrics: Mapping[str, Any], error: str | None = None
    ) -> None:
        rows = metrics.get("rows")
        event = BlockRunEvent(uuid, status, 1, self._seconds(uuid), rows, error)
        self.observer.block_changed(event)

    def _run_error(self) -> str | None:
        if not self.failures:
            return None
        parts = [f"block '{u}' failed: {_first_line(e[0])}" for u, e in self.failures.items()]
        return "; ".join(parts)

    def _block_metrics(self, uuid: str) -> dict[str, Any]:
        config, source = self.config, self.source
        if config is None or source is None:
            return {}
        if uuid == config.source.block_uuid:
            return {"rows": sum(source.rows_read.values()), "streams": dict(source.rows_read)}
        if uuid == config.destination.block_uuid:
            return {
                "rows": sum(r.rows for r in self.results),
                "streams": {r.stream: r.rows for r in self.results},
            }
        for transformer in source.transformers:
            if transformer.block_uuid == uuid:
                return transformer.stats.to_metrics()
        return {}

    def _run_metrics(self) -> dict[str, Any]:
        read = self.source.rows_read if self.source is not None else {}
        streams = {
            r.stream: {
                "rows": r.rows,
                "rows_read": read.get(r.stream, 0),
                "seconds": round(r.seconds, 6),
                "replication_method": r.replication_method.value,
                "bookmark": dict(r.bookmark) if r.bookmark is not None else None,
                **({"error": str(r.error)} if r.error is not None else {}),
            }
            for r in self.results
        }
        counts: dict[str, int] = {}
        for status in self.statuses.values():
            counts[status.value] = counts.get(status.value, 0) + 1
        rows = sum(r.rows for r in self.results)
        return {"streams": streams, "rows": rows, "block_runs": counts}

    def _seconds(self, uuid: str) -> float:
        return round(time.monotonic() - self.started[uuid], 6)

    def _set(self, uuid: str, status: RunStatus, **fields: Any) -> None:
        self.runs.transition_block_run(self.block_run_ids[uuid], status, **fields)
        self.statuses[uuid] = status
        if status is RunStatus.RUNNING:
            self.started[uuid] = time.monotonic()
            self.observer.block_changed(BlockRunEvent(uuid, status, 1))

    def _cancel_all(self, reason: str) -> None:
        for uuid, status in self.statuses.items():
            if status not in TERMINAL_STATUSES:
                self._set(uuid, RunStatus.CANCELLED, error=reason)
        self.runs.transition_pipeline_run(self.plan.run.id, RunStatus.CANCELLED, error=reason)
        self.observer.run_finished(RunStatus.CANCELLED)


def _blame(error: BaseException, config: IntegrationPipelineConfig) -> tuple[str, ...]:
    """The blocks a stream's error fails (see the module docstring)."""
    source, destination = config.source.block_uuid, config.destination.block_uuid
    if isinstance(error, TransformerError | BlockError):
        return (error.block_uuid,)
    if isinstance(error, SourceError | CatalogError):
        return (source,)
    if isinstance(error, DestinationError | SchemaChangeError):
        return (destination,)
    return (source, destination)


def _selected_catalog(config: IntegrationPipelineConfig) -> Catalog:
    catalog = load_pipeline_catalog(config)
    if not catalog.selected:
        raise ConfigError(
            f"no stream is selected in the catalog of pipeline '{config.pipeline.uuid}' "
            f'({config.catalog_path}); set "selected": true in a stream\'s root metadata '
            f"(breadcrumb []), or run: weir integration discover {config.project.root} "
            f"{config.pipeline.uuid} --select"
        )
    return catalog


def _row_estimate(entry: CatalogEntry) -> int | None:
    value = entry.field_metadata().get("row-count")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _message(error: BaseException) -> str:
    if isinstance(error, WeirError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _first_line(error: BaseException) -> str:
    text = _message(error)
    return text.splitlines()[0] if text else type(error).__name__


# -- discovery -----------------------------------------------------------------------------------
def discover_catalog(
    project_path: str | os.PathLike[str],
    pipeline_uuid: str,
    *,
    streams: Collection[str] | None = None,
    select: bool = False,
    variables: Mapping[str, Any] | None = None,
) -> tuple[Catalog, Path]:
    """Discover the pipeline's source and write its catalog file, keeping the user's settings.

    Args:
        project_path: the project folder.
        pipeline_uuid: the integration pipeline.
        streams: discover only these `tap_stream_id`s (the others in the file are kept); None
            discovers every stream.
        select: also mark the discovered streams selected.
        variables: runtime variables for the YAML templates (over the pipeline's own).

    Returns:
        The catalog written, and the file's path.

    Raises:
        ProjectNotFoundError, PipelineValidationError, ConfigError: the project, pipeline or
            block files are wrong; a named stream does not exist in the source; or the data
            loader holds an inline `catalog:` (which would win over the file).
        IntegrationError: the source cannot be reached or refuses discovery.
    """
    project = load_project(os.fspath(project_path))
    pipeline = load_pipeline(project, pipeline_uuid)
    merged_variables = {**pipeline.spec.variables, **(variables or {})}
    config = load_integration_config(project, pipeline, merged_variables)
    if "catalog" in config.source.settings:
        raise ConfigError(
            f"{config.source.file_path} holds an inline 'catalog:' (an older Mage format), which "
            f"wins over {config.catalog_path}; delete that key to manage the catalog with "
            "weir integration discover"
        )
    context = ConnectorContext(project.root, integration_work_dir(project, pipeline.uuid))
    source, _read = create_source(config.source.name, config.source.config, context)
    discovered = source.discover(streams=list(streams) if streams else None)
    found = {entry.tap_stream_id for entry in discovered.streams}
    missing = sorted(set(streams or ()) - found)
    if missing:
        raise ConfigError(
            f"source '{config.source.name}' of pipeline '{pipeline.uuid}' has no streams "
            f"{missing}; check the names (weir integration discover without --stream lists all)"
        )
    merged = merge_discovered(read_catalog_file(config.catalog_path), discovered)
    if select:
        merged = merged.with_selected(sorted(found))
    write_catalog_file(config.catalog_path, merged)
    return merged, config.catalog_path
