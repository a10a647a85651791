"""The run queue: putting runs in it, and taking one out for exactly one scheduler.

A queued run is a `pipeline_run` row in status `queued`. `enqueue_run` creates it with the
trigger's id and execution date; the database's unique index on (pipeline, trigger, execution
date) makes a second attempt at the same date fail, which `enqueue_run` reports as None, so
schedulers racing to enqueue the same due run need no coordination. `claim_next_run` takes the
oldest claimable run under the pipeline's concurrency settings (Mage's `concurrency_config`):

- `pipeline_run_limit`: at most this many active runs per trigger (per backfill for backfills);
- `pipeline_run_limit_all_triggers`: at most this many active runs of the pipeline in all;
- `on_pipeline_run_limit_reached`: `wait` (the default: leave the run queued) or `skip`
  (cancel it, with the reason);
- the trigger's `skip_if_previous_running`: cancel the run while another run of the trigger is
  active.

Active means running, or claimed and about to run (see `weir.runs.records.ActiveRuns`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from weir.engine.runner import merge_variables
from weir.errors import ConfigError, RunConflictError
from weir.orchestration.triggers import TriggerRecord
from weir.pipeline.pipeline import Pipeline
from weir.pipeline.spec import ConcurrencyConfig
from weir.runs.records import (
    ActiveRuns,
    ClaimAction,
    ClaimCandidate,
    ClaimDecision,
    ClaimResult,
    PipelineRunRecord,
)
from weir.runs.store import RunStore

__all__ = ["RunLimits", "claim_next_run", "enqueue_run", "limits_policy"]


@dataclass(frozen=True, slots=True)
class RunLimits:
    """The limits that apply to one queued run.

    Attributes:
        pipeline_run_limit: active runs allowed per trigger (or backfill); None = no limit.
        pipeline_run_limit_all_triggers: active runs allowed for the pipeline; None = no limit.
        on_limit_reached: `wait` keeps the run queued, `skip` cancels it.
        skip_if_previous_running: cancel the run while another of its trigger is active.
    """

    pipeline_run_limit: int | None = None
    pipeline_run_limit_all_triggers: int | None = None
    on_limit_reached: Literal["wait", "skip"] = "wait"
    skip_if_previous_running: bool = False

    @classmethod
    def of(cls, concurrency: ConcurrencyConfig, trigger: TriggerRecord | None = None) -> RunLimits:
        """The limits from a pipeline's `concurrency_config` and the run's trigger, if any."""
        return cls(
            pipeline_run_limit=concurrency.pipeline_run_limit,
            pipeline_run_limit_all_triggers=concurrency.pipeline_run_limit_all_triggers,
            on_limit_reached=concurrency.on_pipeline_run_limit_reached or "wait",
            skip_if_previous_running=bool(trigger and trigger.settings.skip_if_previous_running),
        )


def enqueue_run(
    store: RunStore,
    trigger: TriggerRecord | None,
    execution_date: datetime,
    variables: Mapping[str, Any] | None = None,
    *,
    pipeline: Pipeline,
    backfill_id: int | None = None,
    start_after: datetime | None = None,
) -> PipelineRunRecord | None:
    """Queue a run of `pipeline` for `execution_date`, unless the trigger has one for it.

    The run's variables are merged as Mage does: pipeline < trigger < `variables`. Its block runs
    are the pipeline's blocks (all of them).

    Args:
        store: the run store.
        trigger: the trigger asking for the run; None for a manual or backfill run (those are
            never refused: runs without a trigger do not collide).
        execution_date: the run's logical date (tz-aware).
        variables: run variables, winning over the trigger's and the pipeline's.
        pipeline: the loaded pipeline (`weir.pipeline.load_pipeline`).
        backfill_id: the backfill the run belongs to, if any.
        start_after: no scheduler starts it before this time, if given.

    Returns:
        The queued run, or None when the trigger has a run for `execution_date` already (the
        database's unique index refused the insert; nothing was read first).

    Raises:
        ConfigError: `trigger` belongs to another pipeline.
    """
    if trigger is not None and trigger.pipeline_uuid != pipeline.uuid:
        raise ConfigError(
            f"trigger '{trigger.name}' (id {trigger.id}) belongs to pipeline "
            f"'{trigger.pipeline_uuid}', not '{pipeline.uuid}'"
        )
    merged = merge_variables(
        pipeline.spec.variables, trigger.variables if trigger else None, variables
    )
    try:
        return store.create_pipeline_run(
            pipeline.uuid,
            pipeline.dag.blocks,
            variables=merged,
            execution_date=execution_date,
            pipeline_schedule_id=trigger.id if trigger else None,
            backfill_id=backfill_id,
            queued=True,
            start_after=start_after,
        )
    except RunConflictError:
        return None


def limits_policy(
    limits_of: Callable[[ClaimCandidate], RunLimits],
) -> Callable[[ClaimCandidate, ActiveRuns], ClaimDecision]:
    """A claim policy applying `RunLimits` (see the module docstring for the rules).

    Args:
        limits_of: the limits of a candidate (from its pipeline and trigger).
    """

    def decide(candidate: ClaimCandidate, active: ActiveRuns) -> ClaimDecision:
        limits = limits_of(candidate)
        grouped = candidate.pipeline_schedule_id is not None or candidate.backfill_id is not None
        if limits.skip_if_previous_running and grouped and active.group > 0:
            return ClaimDecision(
                ClaimAction.SKIP,
                f"skipped: trigger {candidate.pipeline_schedule_id} has a run in progress "
                "(settings.skip_if_previous_running)",
            )
        reached = _limit_reached(limits, active, grouped=grouped)
        if reached is None:
            return ClaimDecision(ClaimAction.CLAIM)
        if limits.on_limit_reached == "skip":
            return ClaimDecision(
                ClaimAction.SKIP,
                f"skipped: {reached} (concurrency_config.on_pipeline_run_limit_reached: skip)",
            )
        return ClaimDecision(ClaimAction.WAIT, reached)

    return decide


def _limit_reached(limits: RunLimits, active: ActiveRuns, *, grouped: bool) -> str | None:
    per_trigger = limits.pipeline_run_limit
    if grouped and per_trigger is not None and active.group >= per_trigger:
        return f"pipeline_run_limit of {per_trigger} active runs per trigger reached"
    in_all = limits.pipeline_run_limit_all_triggers
    if in_all is not None and active.pipeline >= in_all:
        return f"pipeline_run_limit_all_triggers of {in_all} active runs reached"
    return None


def claim_next_run(
    store: RunStore,
    claimer: str,
    limits_of: Callable[[ClaimCandidate], RunLimits],
    *,
    limit: int = 1,
) -> ClaimResult:
    """Take the oldest queued runs that their limits allow to start, for `claimer` alone.

    PostgreSQL: candidates are locked with `SELECT ... FOR UPDATE SKIP LOCKED`, and each
    pipeline's count-and-claim runs under a transaction-scoped advisory lock, so two schedulers
    never take one run nor together exceed a limit. SQLite: the whole claim holds the database
    write lock (`BEGIN IMMEDIATE`). See `RunStore.claim_pipeline_run`.

    Args:
        store: the run store.
        claimer: the scheduler's identity (stored as the run's `claimed_by`).
        limits_of: the limits of a candidate.
        limit: claim up to this many runs (the scheduler's free workers) in one transaction.

    Returns:
        The claimed runs (still `queued` until their worker starts them; `.claimed` is the
        first or None), and the runs skipped by `skip` rules on the way (now `cancelled`).
    """
    return store.claim_pipeline_run(claimer, limits_policy(limits_of), limit=limit)
