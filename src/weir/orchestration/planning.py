"""Deciding which runs time triggers are due for, and queueing them.

`DuePlanner.plan` is called by every scheduler tick. Per active time trigger (that applies in
this environment, see `applies_here`):

- cron and Mage's presets: the execution dates `weir.orchestration.schedule.due_dates` gives
  (catch-up policy from `settings.catch_up`), after the newest date the trigger has a run for.
  Once checked, a trigger is not looked at again before its next point, so a tick costs little
  whatever the number of triggers;
- `@once`: one run, at `start_time` (or when the trigger was enabled), if it has none yet;
- `@always_on`: a new run whenever none of the trigger's runs is unfinished. Its execution date
  is when the previous run ended (the first: the start time or when it was enabled; always
  after the previous date), so two schedulers deciding at once pick the same date and the
  database keeps one run.

Every run is queued with `enqueue_run`, so a date another scheduler queued already is refused
by the database and simply skipped here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from weir.errors import ConfigError, RunConflictError
from weir.orchestration._queries import always_on_states, latest_execution_dates
from weir.orchestration.queue import enqueue_run
from weir.orchestration.schedule import ALWAYS_ON, ONCE, Cadence, due_dates
from weir.orchestration.triggers import ScheduleType, TriggerRecord
from weir.pipeline.pipeline import Pipeline, load_pipeline
from weir.project.project import PROJECT_METADATA_FILE, Project
from weir.runs.records import PipelineRunRecord
from weir.runs.store import RunStore

__all__ = ["ENV_VARIABLE", "DuePlanner", "PipelineCache", "applies_here", "trigger_floor"]

ENV_VARIABLE = "ENV"
"""Mage's environment variable naming the environment; a trigger's `envs` are matched to it."""

MAX_RUNS_PER_TRIGGER_PER_TICK = 500
"""Catch-up `all` after a long downtime queues this many runs per tick, then the next ones."""


def applies_here(trigger: TriggerRecord) -> bool:
    """True when the trigger has no `envs`, or they include `$ENV` (Mage's rule)."""
    return not trigger.envs or os.environ.get(ENV_VARIABLE, "") in trigger.envs


def trigger_floor(trigger: TriggerRecord) -> datetime:
    """The earliest execution date the trigger may be due for: start time or enabling time."""
    enabled = trigger.last_enabled_at or trigger.created_at
    if trigger.start_time is None:
        return enabled
    return max(trigger.start_time, enabled)


class PipelineCache:
    """Loaded pipelines of a project, reloaded when their metadata.yaml changes.

    Args:
        project: the project.
    """

    def __init__(self, project: Project) -> None:
        self._project = project
        self._loaded: dict[str, tuple[tuple[int, int], Pipeline]] = {}

    def get(self, pipeline_uuid: str) -> Pipeline:
        """The pipeline, loaded again if its metadata.yaml changed.

        Raises:
            ConfigError: it cannot be loaded (the message says why).
        """
        path = self._project.pipeline_dir(pipeline_uuid) / PROJECT_METADATA_FILE
        try:
            status = os.stat(path)
            stamp = (status.st_mtime_ns, status.st_size)
        except OSError:
            stamp = (0, -1)
        cached = self._loaded.get(pipeline_uuid)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        pipeline = load_pipeline(self._project, pipeline_uuid)
        self._loaded[pipeline_uuid] = (stamp, pipeline)
        return pipeline

    def find(self, pipeline_uuid: str) -> Pipeline | None:
        """The pipeline, or None when it cannot be loaded."""
        try:
            return self.get(pipeline_uuid)
        except ConfigError:
            return None


@dataclass
class _Checked:
    version: datetime  # the trigger's updated_at when checked
    next_check: datetime | None  # not due before then; None = never again (@once done)


class DuePlanner:
    """Queues the runs that time triggers are due for (see the module docstring).

    Args:
        store: the run store.
        pipelines: where pipelines are loaded from.
        grace: how late a point may be and still run under catch-up `none`.
    """

    def __init__(self, store: RunStore, pipelines: PipelineCache, *, grace: timedelta) -> None:
        self._store = store
        self._pipelines = pipelines
        self._grace = grace
        self._checked: dict[int, _Checked] = {}

    def plan(self, triggers: Iterable[TriggerRecord], now: datetime) -> list[PipelineRunRecord]:
        """Queue every run due at `now`; returns the runs this call created."""
        time_triggers = [
            t
            for t in triggers
            if t.is_active and t.schedule_type is ScheduleType.TIME and applies_here(t)
        ]
        self._checked = {t.id: self._checked[t.id] for t in time_triggers if t.id in self._checked}
        always_on = [t for t in time_triggers if t.schedule_interval == ALWAYS_ON]
        waiting = [
            t for t in time_triggers if t.schedule_interval != ALWAYS_ON and self._due(t, now)
        ]
        created = self._plan_always_on(always_on, now)
        if waiting:
            latest = latest_execution_dates(self._store.engine, [t.id for t in waiting])
            for trigger in waiting:
                created += self._plan_one(trigger, latest.get(trigger.id), now)
        return created

    def next_due(self) -> datetime | None:
        """The earliest time a checked trigger is due again (None if none is waiting)."""
        times = [c.next_check for c in self._checked.values() if c.next_check is not None]
        return min(times, default=None)

    def _due(self, trigger: TriggerRecord, now: datetime) -> bool:
        checked = self._checked.get(trigger.id)
        if checked is None or checked.version != trigger.updated_at:
            return True
        return checked.next_check is not None and checked.next_check <= now

    def _plan_one(
        self, trigger: TriggerRecord, last: datetime | None, now: datetime
    ) -> list[PipelineRunRecord]:
        floor = trigger_floor(trigger)
        if trigger.schedule_interval == ONCE:
            if last is not None or floor > now:
                self._remember(trigger, None if last is not None else floor)
                return []
            self._remember(trigger, None)
            return self._enqueue(trigger, [floor])
        cadence = Cadence.of(trigger.schedule_interval or "", trigger.timezone)
        assert cadence is not None
        dates = due_dates(
            cadence,
            floor=floor,
            last=last,
            now=now,
            catch_up=trigger.settings.catch_up,
            grace=self._grace,
            limit=MAX_RUNS_PER_TRIGGER_PER_TICK,
        )
        more = len(dates) == MAX_RUNS_PER_TRIGGER_PER_TICK
        self._remember(trigger, now if more else cadence.next_after(max(now, floor - _TICK)))
        return self._enqueue(trigger, dates)

    def _plan_always_on(
        self, triggers: list[TriggerRecord], now: datetime
    ) -> list[PipelineRunRecord]:
        states = always_on_states(self._store.engine, [t.id for t in triggers])
        created: list[PipelineRunRecord] = []
        for trigger in triggers:
            state = states.get(trigger.id)
            if state is not None and state.unfinished:
                continue
            execution_date = trigger_floor(trigger)
            if state is not None:
                # After the last end, and strictly after the last date (a run that ended the
                # instant it was queued must not make the next one collide with it).
                execution_date = max(execution_date, state.last_execution_date + _TICK)
                if state.last_completed_at is not None:
                    execution_date = max(execution_date, state.last_completed_at)
            if execution_date <= now:
                created += self._enqueue(trigger, [execution_date])
        return created

    def _remember(self, trigger: TriggerRecord, next_check: datetime | None) -> None:
        self._checked[trigger.id] = _Checked(trigger.updated_at, next_check)

    def _enqueue(self, trigger: TriggerRecord, dates: list[datetime]) -> list[PipelineRunRecord]:
        created: list[PipelineRunRecord] = []
        for execution_date in dates:
            record = self._enqueue_one(trigger, execution_date)
            if record is not None:
                created.append(record)
        return created

    def _enqueue_one(
        self, trigger: TriggerRecord, execution_date: datetime
    ) -> PipelineRunRecord | None:
        pipeline = self._pipelines.find(trigger.pipeline_uuid)
        if pipeline is not None:
            return enqueue_run(self._store, trigger, execution_date, pipeline=pipeline)
        # A pipeline that no longer loads still gets its run, which its worker fails with the
        # reason: a trigger must not go quiet without a word.
        try:
            return self._store.create_pipeline_run(
                trigger.pipeline_uuid,
                [],
                variables=dict(trigger.variables),
                execution_date=execution_date,
                pipeline_schedule_id=trigger.id,
                queued=True,
            )
        except RunConflictError:
            return None


_TICK = timedelta(microseconds=1)
