"""What the API does beyond reading: runs started, cancelled and retried; triggers changed.

Routers call these functions; these call the stores. API triggers are fired here too.

Runs are never executed here: a new run is *queued* (`weir.orchestration.queue.enqueue_run`)
and a scheduler (`weir start` runs one beside the server) claims and executes it, so an API
call returns at once whatever the pipeline does.

Retrying a failed or cancelled run keeps its id. Without a block it is the run's next attempt:
every block again (`RunStore.retry_pipeline_run`). From a block X (`retry_run` with a
`block_uuid`), the run is queued again with X's block run and those of every block downstream
of X reset to `initial` (`RunStore.retry_block_runs`); every other block run keeps its status.
When a scheduler executes it, only the reset block runs run; X's completed upstream block runs
hand over their outputs from this run's data products, and the run's status at the end counts
all its block runs (a failed block elsewhere in the DAG, not downstream of X, leaves it
failed). X must not have completed (a completed block's outputs may have been read
downstream), nor may any block downstream of it; X's upstream blocks in the run must have
completed. The block logs of the retried blocks get the new attempt appended.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from weir.engine.runner import PIPELINE_TYPE_EXECUTORS
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
from weir.runs.status import RETRY_FROM_STATES, RecordKind, RunStatus
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
    """Run a failed or cancelled run again, in place (same id): all of it, or from one block.

    Args:
        context: the server's stores.
        run_id: the run.
        block_uuid: None queues the run's next attempt (`RunStore.retry_pipeline_run`: every
            block again, `attempt` + 1). A block queues the run again with that block and every
            block downstream of it reset (see the module docstring).

    Returns:
        The queued run.

    Raises:
        RunNotFoundError: no such run.
        RunStateError: the run is not failed or cancelled; or the block, or a block downstream
            of it, completed; or an upstream block of it in the run did not complete.
        NotFoundError: the block is not one of the run's.
        ConflictError: the pipeline's type runs its blocks its own way (integration).
        ConfigError: the pipeline does not load, or no longer has the block.
    """
    if block_uuid is None:
        return context.runs.retry_pipeline_run(run_id)
    run = context.runs.get_pipeline_run(run_id)
    if run.status not in RETRY_FROM_STATES[RecordKind.PIPELINE_RUN]:
        raise RunStateError(
            f"pipeline run {run_id} is '{run.status}'; only failed or cancelled runs are retried"
        )
    statuses = {b.block_uuid: b.status for b in run.block_runs}
    if block_uuid not in statuses:
        raise NotFoundError(f"pipeline run {run_id} has no block run of block '{block_uuid}'")
    pipeline = _pipeline(context, run.pipeline_uuid)
    if pipeline.spec.type in PIPELINE_TYPE_EXECUTORS:
        raise ConflictError(
            f"pipeline '{pipeline.uuid}' is an {pipeline.spec.type} pipeline, whose runs are "
            f"retried whole: POST /api/pipeline_runs/{run_id}/retry without block_uuid"
        )
    if block_uuid not in pipeline.dag:
        raise ConfigError(
            f"pipeline '{pipeline.uuid}' no longer has block '{block_uuid}'; retry the whole run"
        )
    downstream = pipeline.dag.descendants(block_uuid)
    chosen = [
        u for u in pipeline.dag.blocks if u in statuses and (u == block_uuid or u in downstream)
    ]
    _check_retry_from(run_id, block_uuid, statuses, chosen, pipeline.dag.upstream_of(block_uuid))
    resets = [u for u in chosen if statuses[u] is not RunStatus.INITIAL]
    return context.runs.retry_block_runs(run_id, resets)


def _check_retry_from(
    run_id: int,
    block_uuid: str,
    statuses: Mapping[str, RunStatus],
    chosen: Sequence[str],
    upstream: Iterable[str],
) -> None:
    # Refuse what would re-run a block on inputs it cannot get, or leave stale outputs behind.
    completed = [u for u in chosen if statuses[u] is RunStatus.COMPLETED]
    if block_uuid in completed:
        raise RunStateError(
            f"block '{block_uuid}' of pipeline run {run_id} completed; retry from a block that "
            "did not complete, or retry the whole run (no block_uuid)"
        )
    if completed:
        raise RunStateError(
            f"block(s) {', '.join(completed)} of pipeline run {run_id}, downstream of "
            f"'{block_uuid}', completed on its earlier output; retry the whole run (no block_uuid)"
        )
    blocked = [u for u in upstream if u in statuses and statuses[u] is not RunStatus.COMPLETED]
    if blocked:
        raise RunStateError(
            f"block '{block_uuid}' of pipeline run {run_id} cannot run: its upstream block "
            f"'{blocked[0]}' did not complete in this run; retry from '{blocked[0]}'"
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
