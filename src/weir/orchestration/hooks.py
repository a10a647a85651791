"""The hook the scheduler calls when a run ends or misses its SLA: where alerts plug in.

The scheduler builds a `RunEvent` and hands it to each hook on a thread of its own (one event
at a time, in order), so a slow webhook never delays a run's start. A hook that raises is
logged and the scheduler goes on.

Alerts (`weir.orchestration.alerts`, built separately) plug in by name, like the engine's
pipeline-type executors: when the module `ALERTS_HOOK` names exists, `default_hooks` loads its
function; until then there are no hooks. The contract for that function:

```python
def handle_run_event(event: RunEvent) -> None:
    # event.kind: "run_ended" (event.run.status is terminal; event.will_retry says whether the
    #             scheduler queued another attempt) or "sla_missed" (the run is not done
    #             `trigger.sla` seconds after its execution date; reported once per run).
    # event.project: read `notification_config` from event.project.settings.
    ...
```
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from weir.orchestration.triggers import TriggerRecord
from weir.project.project import Project
from weir.runs.records import PipelineRunRecord

__all__ = ["ALERTS_HOOK", "EventKind", "Hook", "HookDispatcher", "RunEvent", "default_hooks"]

ALERTS_HOOK: Final = "weir.orchestration.alerts:handle_run_event"
"""`module:function` of the alerts hook, loaded when the module exists."""

_log = logging.getLogger(__name__)


class EventKind(StrEnum):
    """Why a hook is called."""

    RUN_ENDED = "run_ended"
    SLA_MISSED = "sla_missed"


@dataclass(frozen=True, slots=True)
class RunEvent:
    """What a hook is told.

    Attributes:
        kind: run ended, or SLA missed.
        run: the run as stored when the event happened.
        trigger: the run's trigger, or None (manual, backfill or pipeline-to-pipeline run, or a
            trigger deleted since).
        project: the project the scheduler runs.
        at: when the scheduler saw it (UTC, the scheduler's clock).
        will_retry: for `run_ended`, the scheduler queued another attempt of the run.
    """

    kind: EventKind
    run: PipelineRunRecord
    trigger: TriggerRecord | None
    project: Project
    at: datetime
    will_retry: bool = False


Hook = Callable[[RunEvent], None]
"""Called with each event; must not assume it runs on the scheduler's thread."""


def default_hooks(reference: str = ALERTS_HOOK) -> list[Hook]:
    """The hooks the scheduler uses unless told otherwise.

    Args:
        reference: `module:function` to load.

    Returns:
        `[function]` when the module exists, else `[]` (also, with an error logged, when it
        exists but cannot be imported or lacks the function).
    """
    module_name, _, function_name = reference.partition(":")
    try:
        found = importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    if not found:
        return []
    try:
        hook: Hook = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        # A broken alerts module must not stop runs from being scheduled.
        _log.error("alerts hook %s could not be loaded, alerts are off: %s", reference, exc)
        return []
    return [hook]


class HookDispatcher:
    """Calls hooks with events on one background thread, in the order events were submitted.

    Args:
        hooks: the hooks; with none, `submit` does nothing.
    """

    def __init__(self, hooks: Sequence[Hook]) -> None:
        self._hooks = tuple(hooks)
        self._events: queue.Queue[RunEvent | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, event: RunEvent) -> None:
        """Queue `event` for every hook (starts the thread on first use)."""
        if not self._hooks:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="weir-hooks", daemon=True)
            self._thread.start()
        self._events.put(event)

    def flush(self) -> None:
        """Wait until every event submitted so far has been handled."""
        if self._thread is not None:
            self._events.join()

    def close(self) -> None:
        """Handle the events already queued, then stop the thread."""
        if self._thread is not None:
            self._events.put(None)
            self._thread.join()
            self._thread = None

    def _serve(self) -> None:
        while True:
            event = self._events.get()
            try:
                if event is None:
                    return
                for hook in self._hooks:
                    try:
                        hook(event)
                    except Exception:
                        _log.exception(
                            "hook %r failed on %s of run %s", hook, event.kind, event.run.id
                        )
            finally:
                self._events.task_done()
