"""Retry from a block: `POST /api/pipeline_runs/{id}/retry?block_uuid=X` re-runs X and its
downstream blocks in the same run; the engine runs only the block runs that were reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.server.conftest import Api, TestClient
from tests.unit.server.retrying import (
    calls,
    execute,
    make_retry_project,
    output,
    run_once,
    statuses,
)
from weir.errors import RunNotFoundError, RunStateError
from weir.runs.records import ActiveRuns, ClaimAction, ClaimCandidate, ClaimDecision
from weir.runs.status import RunStatus
from weir.runs.store import RunStore
from weir.server import Role, create_app, operations


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    root = make_retry_project(tmp_path / "project")
    url = f"sqlite:///{tmp_path / 'weir.db'}"
    app = create_app(root, database_url=url)
    auth = app.state.weir.auth
    headers = {}
    for role in Role:
        user = auth.create_user(f"{role.value}-user", f"{role.value}-password", role)
        key, _record = auth.create_api_key(user.id, "tests")
        headers[role] = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        yield Api(client, app, root, url, headers)


def claim_all(candidate: ClaimCandidate, active: ActiveRuns) -> ClaimDecision:
    return ClaimDecision(ClaimAction.CLAIM)


def test_retry_from_a_block_reruns_it_and_its_downstream_in_the_same_run(api: Api) -> None:
    failed = run_once(api.root, api.database_url, base=1, fail=("double",))
    assert failed.status is RunStatus.FAILED
    assert statuses(failed) == {
        "load": "completed",
        "double": "failed",
        "side": "completed",
        "export": "upstream_failed",
    }
    # A later run of the pipeline completes from other inputs: the retry must not read them.
    later = run_once(api.root, api.database_url, base=100)
    assert later.status is RunStatus.COMPLETED
    before = calls(api.root)

    response = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry",
        params={"block_uuid": "double"},
        headers=api.as_(Role.EDITOR),
    )
    assert response.status_code == 201, response.text
    queued = response.json()
    assert (queued["id"], queued["status"], queued["attempt"]) == (failed.id, "queued", 1)
    assert (queued["claimed_by"], queued["error"], queued["started_at"]) == (None, None, None)
    assert {b["block_uuid"]: b["status"] for b in queued["block_runs"]} == {
        "load": "completed",
        "double": "initial",
        "side": "completed",
        "export": "initial",
    }
    # A scheduler can claim it.
    store: RunStore = api.app.state.weir.runs
    claimed = store.claim_pipeline_run("test-scheduler", claim_all)
    assert [run.id for run in claimed.runs] == [failed.id]

    done = execute(api.root, api.database_url, failed.id)
    assert done.status is RunStatus.COMPLETED
    assert set(statuses(done).values()) == {"completed"}
    assert calls(api.root)[len(before) :] == ["double", "export"]  # load and side were kept
    assert output(api.root, failed.id, "double") == [
        {"n": 1, "twice": 2},
        {"n": 2, "twice": 4},
        {"n": 3, "twice": 6},
    ]
    assert output(api.root, failed.id, "export") == [{"total": 12, "label": "side"}]
    by_block = {b.block_uuid: b for b in done.block_runs}
    assert by_block["double"].attempts == 1
    assert by_block["double"].error is None


def test_a_kept_failure_upstream_skips_the_blocks_behind_it(api: Api) -> None:
    failed = run_once(api.root, api.database_url, base=1, fail=("double", "side"))
    assert statuses(failed)["side"] == "failed"
    response = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry?block_uuid=double", headers=api.as_(Role.EDITOR)
    )
    assert response.status_code == 201, response.text
    before = calls(api.root)
    done = execute(api.root, api.database_url, failed.id, fail=())
    assert done.status is RunStatus.FAILED
    assert statuses(done) == {
        "load": "completed",
        "double": "completed",
        "side": "failed",
        "export": "upstream_failed",
    }
    export = next(b for b in done.block_runs if b.block_uuid == "export")
    assert export.error == "upstream block 'side' did not complete"
    assert calls(api.root)[len(before) :] == ["double"]
    assert done.error == "blocks not completed: side, export"


@pytest.mark.parametrize(
    ("block", "status", "detail"),
    [
        ("load", 409, "block 'load' of pipeline run 1 completed"),
        ("export", 409, "its upstream block 'double' did not complete in this run"),
        ("ghost", 404, "has no block run of block 'ghost'"),
    ],
)
def test_retries_that_cannot_work_are_refused(
    api: Api, block: str, status: int, detail: str
) -> None:
    failed = run_once(api.root, api.database_url, base=1, fail=("double",))
    assert failed.id == 1
    response = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry",
        params={"block_uuid": block},
        headers=api.as_(Role.EDITOR),
    )
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    store: RunStore = api.app.state.weir.runs
    assert store.get_pipeline_run(failed.id).status is RunStatus.FAILED  # nothing changed


def test_retry_needs_a_failed_or_cancelled_run_and_one_block_name(api: Api) -> None:
    editor = api.as_(Role.EDITOR)
    completed = run_once(api.root, api.database_url, base=1)
    refused = api.client.post(
        f"/api/pipeline_runs/{completed.id}/retry?block_uuid=double", headers=editor
    )
    assert refused.status_code == 409
    failed = run_once(api.root, api.database_url, base=2, fail=("double",))
    clash = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry?block_uuid=double",
        json={"block_uuid": "export"},
        headers=editor,
    )
    assert clash.status_code == 409
    assert "give it once" in clash.json()["detail"]
    viewer = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry?block_uuid=double", headers=api.as_(Role.VIEWER)
    )
    assert viewer.status_code == 403
    body_form = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry", json={"block_uuid": "double"}, headers=editor
    )
    assert body_form.status_code == 201, body_form.text
    assert body_form.json()["id"] == failed.id
    again = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry?block_uuid=double", headers=editor
    )
    assert again.status_code == 409  # queued now: not failed or cancelled


def test_store_resets_all_or_nothing(api: Api) -> None:
    failed = run_once(api.root, api.database_url, base=1, fail=("double",))
    store: RunStore = api.app.state.weir.runs
    with pytest.raises(RunStateError, match="cannot retry from status 'completed'"):
        store.retry_block_runs(failed.id, ["double", "export", "load"])
    with pytest.raises(RunNotFoundError, match="no block run of 'ghost'"):
        store.retry_block_runs(failed.id, ["double", "ghost"])
    with pytest.raises(ValueError, match="at least one block"):
        store.retry_block_runs(failed.id, [])
    unchanged = store.get_pipeline_run(failed.id)
    assert unchanged.status is RunStatus.FAILED
    assert statuses(unchanged) == statuses(failed)
    queued = store.retry_block_runs(failed.id, ["double", "export"])
    assert queued.status is RunStatus.QUEUED
    assert statuses(queued)["double"] == "initial"


def test_pipeline_types_with_their_own_executor_are_retried_whole(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Integration pipelines run their block runs their own way (not PipelineRunExecutor).
    failed = run_once(api.root, api.database_url, base=1, fail=("double",))
    monkeypatch.setattr(operations, "PIPELINE_TYPE_EXECUTORS", {"python": "some.module:run"})
    response = api.client.post(
        f"/api/pipeline_runs/{failed.id}/retry?block_uuid=double", headers=api.as_(Role.EDITOR)
    )
    assert response.status_code == 409
    assert "retried whole" in response.json()["detail"]
