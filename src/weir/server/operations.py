"""What the API does beyond reading: runs started, cancelled and retried; triggers changed.

Routers call these functions; these call the stores. API triggers are fired here too.

Runs are never executed here: a new run is *queued* (`weir.orchestration.queue.enqueue_run`)
and a scheduler (`weir start` runs one beside the server) claims and executes it, so an API
call returns at once whatever the pipeline does.

Retrying from a block queues a new run of that block and everything downstream of it, with
the old run's variables and execution date; its upstream blocks' outputs are read from their
latest completed runs (as `weir run --block X --downstream` does). The engine runs every block
run of a run from the start, so it cannot resume the old run in place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from weir.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    RunConflictError,
    RunStateError,
)
from weir.orchestration.backfill import BackfillRecord, create_backfill
from weir.orchestration.queue import enqueue_run
from weir.orchestration.triggers import TriggerRecord, TriggerSpec, TriggerStore
from weir.orchestration.triggers_yaml import editing_triggers
from weir.pipeline.pipeline import Pipeline, load_pipeline
from weir.runs.records import PipelineRunRecord
from weir.runs.status import RETRY_FROM_STATES, RecordKind
from weir.server.context import ServerContext

__all__ = [
    "cancel_run",
    "create_trigger",
    "delete_trigger",
    "fire_api_trigger",
    "queue_run",
    "retry_run",
    "set_trigger_active",
    "start_backfill",
    "update_trigger",
]


def _pipeline(context: ServerContext, pipeline_uuid: str) -> Pipeline:
    if pipeline_uuid not in context.project.pipeline_uuids():
        raise NotFoundError(f"no pipeline '{pipeline_uuid}' in project {context.project.root}")
    return load_pipeline(context.project, pipeline_uuid)


def queue_run(
    context: ServerContext,
    pipeline_uuid: str,
    variables: Mapping[str, Any],
    trigger: TriggerRecord | None = None,
) -> PipelineRunRecord:
    """Queue a run of a pipeline now (execution date: the current time).

    Args:
        context: the server's stores.
        pipeline_uuid: the pipeline.
        variables: the run's variables; they win over the trigger's and the pipeline's.
        trigger: the trigger asking, if any (its id is stored on the run).

    Raises:
        NotFoundError: no such pipeline.
        PipelineValidationError: the pipeline does not load.
        RunConflictError: the trigger has a run for this very instant already.
    """
    pipeline = _pipeline(context, pipeline_uuid)
    now = context.clock()
    run = enqueue_run(context.runs, trigger, now, variables, pipeline=pipeline)
    if run is None:
        raise RunConflictError(
            f"trigger {trigger.id if trigger else '-'} has a run at {now.isoformat()} already; "
            "call again"
        )
    return run


def cancel_run(context: ServerContext, run_id: int, username: str) -> PipelineRunRecord:
    """Cancel a run that has not ended; a scheduler stops its worker if it is running.

    Raises:
        RunNotFoundError: no such run.
        RunStateError: the run has ended.
    """
    return context.runs.cancel_pipeline_run(run_id, f"cancelled by {username} through the API")


def retry_run(context: ServerContext, run_id: int, block_uuid: str | None) -> PipelineRunRecord:
    """Run a failed or cancelled run again.

    Args:
        context: the server's stores.
        run_id: the run.
        block_uuid: None queues the run's next attempt (`RunStore.retry_pipeline_run`: same id,
            every block again). A block queues a new run of it and its downstream blocks
            (see the module docstring).

    Returns:
        The queued run.

    Raises:
        RunNotFoundError: no such run.
        RunStateError: the run is not failed or cancelled.
        NotFoundError: the block is not one of the run's.
        PipelineValidationError: the pipeline does not load any more.
    """
    if block_uuid is None:
        return context.runs.retry_pipeline_run(run_id)
    run = context.runs.get_pipeline_run(run_id)
    if run.status not in RETRY_FROM_STATES[RecordKind.PIPELINE_RUN]:
        raise RunStateError(
            f"pipeline run {run_id} is '{run.status}'; only failed or cancelled runs are retried"
        )
    if block_uuid not in {b.block_uuid for b in run.block_runs}:
        raise NotFoundError(f"pipeline run {run_id} has no block run of block '{block_uuid}'")
    pipeline = _pipeline(context, run.pipeline_uuid)
    chosen = {block_uuid, *pipeline.dag.descendants(block_uuid)}
    blocks = [uuid for uuid in pipeline.dag.blocks if uuid in chosen]
    return context.runs.create_pipeline_run(
        run.pipeline_uuid,
        blocks,
        variables=run.variables,
        execution_date=run.execution_date,
        queued=True,
    )


@contextmanager
def _editing(context: ServerContext, pipeline_uuid: str) -> Iterator[TriggerStore]:
    # Every change follows triggers.yaml's rule: the file is read in first, rewritten after.
    with editing_triggers(context.project, context.triggers, pipeline_uuid) as triggers:
        yield triggers


def create_trigger(context: ServerContext, spec: TriggerSpec) -> tuple[TriggerRecord, str | None]:
    """Create a trigger and write it to the pipeline's triggers.yaml.

    Returns:
        The trigger and, for an `api` trigger, its token (shown this once).

    Raises:
        NotFoundError: no such pipeline.
        ConflictError: the pipeline has a trigger of that name.
        ConfigError: the pipeline's triggers.yaml is invalid (fix it first).
    """
    _pipeline(context, spec.pipeline_uuid)
    with _editing(context, spec.pipeline_uuid) as triggers:
        return triggers.create(spec)


def update_trigger(
    context: ServerContext, trigger_id: int, changes: Mapping[str, Any]
) -> TriggerRecord:
    """Change some of a trigger's keys, and its pipeline's triggers.yaml.

    Raises:
        TriggerNotFoundError: no such trigger.
        ConfigError: the result is invalid, or `pipeline_uuid` would change.
        ConflictError: the new name is taken.
    """
    current = context.triggers.get(trigger_id)
    if changes.get("pipeline_uuid", current.pipeline_uuid) != current.pipeline_uuid:
        raise ConfigError(f"trigger {trigger_id}: pipeline_uuid cannot change; create a new one")
    with _editing(context, current.pipeline_uuid) as triggers:
        return triggers.update(trigger_id, **changes)


def delete_trigger(context: ServerContext, trigger_id: int) -> None:
    """Delete a trigger (its runs stay) and remove it from the pipeline's triggers.yaml.

    Raises:
        TriggerNotFoundError: no such trigger.
    """
    current = context.triggers.get(trigger_id)
    with _editing(context, current.pipeline_uuid) as triggers:
        triggers.delete(trigger_id)


def fire_api_trigger(
    context: ServerContext,
    trigger_id: int,
    token: str,
    variables: Mapping[str, Any],
) -> PipelineRunRecord | None:
    """Queue a run for an API trigger called with its token (Mage's API trigger).

    The token is checked in constant time (`TriggerStore.verify_token`) before anything else,
    and a wrong token and an unknown trigger look the same to the caller.

    Returns:
        The queued run, or None when the token is wrong or the trigger unknown.

    Raises:
        ConflictError: the trigger is inactive.
        PipelineValidationError: its pipeline does not load.
        RunConflictError: it has a run for this very instant already.
    """
    if not token or not context.triggers.verify_token(trigger_id, token):
        return None
    trigger = context.triggers.get(trigger_id)
    if not trigger.is_active:
        raise ConflictError(
            f"trigger '{trigger.name}' (id {trigger_id}) of pipeline '{trigger.pipeline_uuid}' "
            "is inactive; enable it to accept calls"
        )
    return queue_run(context, trigger.pipeline_uuid, variables, trigger)


def set_trigger_active(context: ServerContext, trigger_id: int, active: bool) -> TriggerRecord:
    """Enable or disable a trigger, and write the change to its pipeline's triggers.yaml.

    Raises:
        TriggerNotFoundError: no such trigger.
    """
    current = context.triggers.get(trigger_id)
    with _editing(context, current.pipeline_uuid) as triggers:
        return triggers.set_active(trigger_id, active)


def start_backfill(
    context: ServerContext, pipeline_uuid: str, fields: Mapping[str, Any]
) -> BackfillRecord:
    """Record a backfill and queue one run per interval (`weir.orchestration.create_backfill`).

    Args:
        context: the server's stores.
        pipeline_uuid: the pipeline.
        fields: `create_backfill`'s keyword arguments (`start`, `end`, `interval_type`, ...).

    Raises:
        NotFoundError: no such pipeline.
        ConfigError: the dates, interval or time zone are wrong, or it would make more than
            `MAX_BACKFILL_RUNS` runs.
    """
    pipeline = _pipeline(context, pipeline_uuid)
    try:
        return create_backfill(context.runs, pipeline, **fields)
    except ValueError as exc:
        raise ConfigError(f"backfill of pipeline '{pipeline_uuid}': {exc}") from None
