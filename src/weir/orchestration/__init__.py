"""Orchestration: triggers, the run queue, the scheduler, backfills, retention.

```python
from weir.orchestration import Scheduler, TriggerSpec, TriggerStore

with TriggerStore(database_url) as triggers:
    trigger, _ = triggers.create(
        TriggerSpec(name="nightly", pipeline_uuid="etl", schedule_interval="@daily")
    )
Scheduler("path/to/project", database_url).run()  # until stop() or SIGTERM
```

Layering: this package may import `weir.engine`, `weir.runs`, `weir.pipeline` and
`weir.project`; only `weir.server` and `weir.cli` import it. Alerts plug in through
`weir.orchestration.hooks`.
"""

from weir.orchestration.backfill import (
    BackfillRecord,
    cancel_backfill,
    create_backfill,
    get_backfill,
    list_backfills,
)
from weir.orchestration.clock import ManualClock
from weir.orchestration.hooks import EventKind, Hook, RunEvent
from weir.orchestration.pipeline_trigger import trigger_pipeline
from weir.orchestration.queue import RunLimits, claim_next_run, enqueue_run
from weir.orchestration.retention import CleanReport, clean_project, parse_age
from weir.orchestration.schedule import CatchUp
from weir.orchestration.scheduler import Scheduler, TickReport
from weir.orchestration.triggers import (
    ScheduleType,
    TriggerRecord,
    TriggerSettings,
    TriggerSpec,
    TriggerStatus,
    TriggerStore,
)
from weir.orchestration.triggers_yaml import (
    editing_triggers,
    save_triggers_file,
    sync_triggers_from_files,
)

__all__ = [
    "BackfillRecord",
    "CatchUp",
    "CleanReport",
    "EventKind",
    "Hook",
    "ManualClock",
    "RunEvent",
    "RunLimits",
    "ScheduleType",
    "Scheduler",
    "TickReport",
    "TriggerRecord",
    "TriggerSettings",
    "TriggerSpec",
    "TriggerStatus",
    "TriggerStore",
    "cancel_backfill",
    "claim_next_run",
    "clean_project",
    "create_backfill",
    "editing_triggers",
    "enqueue_run",
    "get_backfill",
    "list_backfills",
    "parse_age",
    "save_triggers_file",
    "sync_triggers_from_files",
    "trigger_pipeline",
]
