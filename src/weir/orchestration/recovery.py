"""Retries, stale runs and SLAs: what the scheduler does about runs that ended badly or late.

- **Retries** (run level): a run that ended `failed` is queued again as its next attempt
  (`RunStore.retry_pipeline_run`) when its trigger's `settings.retry_config`, or else its
  pipeline's `retry_config` (Mage's keys: `retries`, `delay`, `max_delay`,
  `exponential_backoff`), allows another attempt. Block-level `retry_config` is the engine's
  business and happens inside one attempt. Cancelled runs are never retried.
- **Stale runs**: a run `running` (or claimed) whose last sign of life is older than
  `stale_after` lost its process (a worker killed with its scheduler, a machine gone). Exactly
  one scheduler fails it with the reason (`RunStore.recover_stale_run`); a run a scheduler had
  claimed is then retried as above.
- **SLA**: a run of a trigger with `sla` seconds that has not completed `sla` seconds after its
  execution date is marked `passed_sla` (Mage's column), once, and reported to the hooks; a
  run that completes late without having been reported is reported when it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from weir.orchestration._queries import StaleCandidate, sla_candidates, stale_candidates
from weir.orchestration.planning import PipelineCache
from weir.orchestration.triggers import TriggerRecord
from weir.pipeline.spec import RetryConfig
from weir.runs.records import PipelineRunRecord
from weir.runs.status import RunStatus
from weir.runs.store import RunStore

__all__ = [
    "find_stale_runs",
    "recover_stale",
    "retry_config_for",
    "retry_if_allowed",
    "sla_deadline",
    "sla_misses",
]


def retry_config_for(
    run: PipelineRunRecord, trigger: TriggerRecord | None, pipelines: PipelineCache
) -> RetryConfig | None:
    """The run-level retry settings of `run`: its trigger's, else its pipeline's, else None."""
    if trigger is not None and trigger.settings.retry_config is not None:
        return trigger.settings.retry_config
    pipeline = pipelines.find(run.pipeline_uuid)
    return pipeline.spec.retry_config if pipeline is not None else None


def retry_if_allowed(
    store: RunStore, run: PipelineRunRecord, retry: RetryConfig | None, now: datetime
) -> PipelineRunRecord | None:
    """Queue the next attempt of a failed run if `retry` allows one.

    Attempt n+1 waits `retry.delay_seconds(n)` (exponential by default, capped at `max_delay`).

    Returns:
        The queued run, or None (not failed, no retry settings, or attempts used up).
    """
    if run.status is not RunStatus.FAILED or retry is None or run.attempt > retry.retries:
        return None
    delay = timedelta(seconds=retry.delay_seconds(run.attempt))
    return store.retry_pipeline_run(run.id, start_after=now + delay if delay else None)


def find_stale_runs(
    store: RunStore, now: datetime, stale_after: float, own: set[int]
) -> list[StaleCandidate]:
    """Runs whose process seems dead: no sign of life for `stale_after` seconds.

    Args:
        store: the run store.
        now: the current time.
        stale_after: seconds of silence that mean dead.
        own: runs this scheduler's live workers execute (watched by their process instead).
    """
    return stale_candidates(store.engine, now - timedelta(seconds=stale_after), own)


def recover_stale(
    store: RunStore, candidate: StaleCandidate, now: datetime, stale_after: float
) -> PipelineRunRecord | None:
    """Fail one stale run with the reason, unless it came back to life or another did it.

    Returns:
        The failed run, or None.
    """
    since = candidate.last_sign_of_life.strftime("%Y-%m-%d %H:%M:%S UTC")
    owner = f" (claimed by scheduler {candidate.claimed_by})" if candidate.claimed_by else ""
    reason = (
        f"no heartbeat since {since}, more than {stale_after:g} s: the process running it "
        f"died{owner}, e.g. killed together with its scheduler; block runs still running "
        "were failed"
    )
    cutoff = now - timedelta(seconds=stale_after)
    return store.recover_stale_run(candidate.run_id, stale_before=cutoff, reason=reason)


def sla_deadline(run: PipelineRunRecord, trigger: TriggerRecord | None) -> datetime | None:
    """When the run misses its trigger's SLA (execution date + `sla` seconds), if it has one."""
    if trigger is None or not trigger.sla:
        return None
    return run.execution_date + timedelta(seconds=trigger.sla)


def sla_misses(
    store: RunStore, triggers: Mapping[int, TriggerRecord], now: datetime
) -> list[tuple[int, TriggerRecord]]:
    """Unfinished runs past their trigger's SLA that this call marked `passed_sla` (once each).

    Returns:
        `(run id, trigger)` for each run newly marked; another scheduler marking it first
        leaves it out.
    """
    with_sla = {trigger_id: t for trigger_id, t in triggers.items() if t.sla}
    missed: list[tuple[int, TriggerRecord]] = []
    for run_id, trigger_id, execution_date in sla_candidates(store.engine, list(with_sla)):
        trigger = with_sla[trigger_id]
        deadline = execution_date + timedelta(seconds=trigger.sla or 0)
        if now > deadline and store.mark_passed_sla(run_id):
            missed.append((run_id, trigger))
    return missed
