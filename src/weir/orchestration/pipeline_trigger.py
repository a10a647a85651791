"""Pipeline-to-pipeline: start another pipeline from a block or callback, and maybe wait.

```python
from mage_ai.settings.repo import get_repo_path
from weir.orchestration import trigger_pipeline

@data_exporter
def start_reports(df, **kwargs):
    run = trigger_pipeline(get_repo_path(), "reports", {"day": kwargs["ds"]}, wait=True)
    assert run.status == "completed", run.error
```

The run is queued (execution date: now) for a scheduler to start, so it needs a scheduler on the
same metadata database (`weir scheduler`, or `weir start`). A block that waits holds one of the
scheduler's worker slots meanwhile: with `workers=1` the child can never start, which is why
`timeout` exists.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from weir.orchestration.queue import enqueue_run
from weir.pipeline.pipeline import load_pipeline
from weir.project.project import Project, load_project
from weir.runs.database import default_database_url
from weir.runs.records import PipelineRunRecord
from weir.runs.store import RunStore

__all__ = ["trigger_pipeline"]


def trigger_pipeline(
    project: Project | str | os.PathLike[str],
    pipeline_uuid: str,
    variables: Mapping[str, Any] | None = None,
    *,
    wait: bool = False,
    poll_seconds: float = 1.0,
    timeout: float | None = None,
    database_url: str | None = None,
) -> PipelineRunRecord:
    """Queue a run of `pipeline_uuid` and return it, or wait for it to end.

    Args:
        project: the project (or its folder) holding the pipeline.
        pipeline_uuid: the pipeline to run.
        variables: the run's variables (over the pipeline's own).
        wait: poll until the run ends and return it ended.
        poll_seconds: seconds between polls while waiting.
        timeout: give up waiting after this many seconds (None: wait for ever).
        database_url: the metadata database; default `WEIR_DATABASE_URL` or the project's.

    Returns:
        The queued run, or with `wait` the run in a terminal status (check its `status`).

    Raises:
        ConfigError, PipelineValidationError: the pipeline cannot be loaded (nothing queued).
        TimeoutError: `wait` and the run had not ended after `timeout` seconds (it goes on).
    """
    loaded = project if isinstance(project, Project) else load_project(os.fspath(project))
    pipeline = load_pipeline(loaded, pipeline_uuid)
    url = database_url or default_database_url(loaded.data_dir)
    with RunStore(url) as runs:
        record = enqueue_run(runs, None, datetime.now(UTC), variables, pipeline=pipeline)
        assert record is not None  # runs without a trigger never collide
        deadline = None if timeout is None else time.monotonic() + timeout
        while wait and not record.is_terminal:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(
                    f"run {record.id} of pipeline '{pipeline_uuid}' is still '{record.status}' "
                    f"after {timeout:g} s; is a scheduler running on this metadata database?"
                )
            time.sleep(poll_seconds)
            record = runs.get_pipeline_run(record.id)
        return record
