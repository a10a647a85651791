"""Run records, the run state machine and the metadata database that stores them.

```python
from weir.runs import RunStatus, RunStore, default_database_url

store = RunStore(default_database_url(project_root / ".weir"))
run = store.create_pipeline_run("etl", ["load", "clean"], variables={}, execution_date=now)
store.transition_pipeline_run(run.id, RunStatus.RUNNING)
```

Every status change goes through `RunStore`, which checks it against the transition table in
`weir.runs.status` inside the transaction that read the current status.
"""

from weir.runs.database import HEAD_REVISION, connect, default_database_url
from weir.runs.records import BlockRunRecord, PipelineRunRecord
from weir.runs.status import TERMINAL_STATUSES, RecordKind, RunStatus, check_transition
from weir.runs.store import RunStore

__all__ = [
    "HEAD_REVISION",
    "TERMINAL_STATUSES",
    "BlockRunRecord",
    "PipelineRunRecord",
    "RecordKind",
    "RunStatus",
    "RunStore",
    "check_transition",
    "connect",
    "default_database_url",
]
