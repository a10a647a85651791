"""Retry from a block on a PostgreSQL metadata database (the store locks rows there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.server.retrying import calls, execute, make_retry_project, run_once, statuses
from weir.runs.status import RunStatus
from weir.runs.store import RunStore

pytestmark = pytest.mark.postgres


def test_retry_from_a_block_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    root = make_retry_project(tmp_path / "project")
    failed = run_once(root, postgres_url, base=1, fail=("double",))
    assert failed.status is RunStatus.FAILED
    with RunStore(postgres_url) as store:
        queued = store.retry_block_runs(failed.id, ["double", "export"])
    assert (queued.id, queued.status) == (failed.id, RunStatus.QUEUED)
    before = calls(root)
    done = execute(root, postgres_url, failed.id)
    assert done.status is RunStatus.COMPLETED
    assert set(statuses(done).values()) == {"completed"}
    assert calls(root)[len(before) :] == ["double", "export"]
