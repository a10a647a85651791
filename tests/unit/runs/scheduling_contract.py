"""The scheduling half of the RunStore contract (revision 0002), mixed into `RunStoreContract`.

Uses the fixtures of `RunStoreContract` (`store`, `clock`, `database_url`).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from weir.errors import RunConflictError, RunStateError
from weir.runs import RunStatus, RunStore
from weir.runs.records import (
    ActiveRuns,
    ClaimAction,
    ClaimCandidate,
    ClaimDecision,
    PipelineRunRecord,
)

if TYPE_CHECKING:
    from tests.unit.runs.contract import FakeClock

S = RunStatus
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def claim_all(candidate: ClaimCandidate, active: ActiveRuns) -> ClaimDecision:
    return ClaimDecision(ClaimAction.CLAIM)


def queue(
    store: RunStore,
    day: int,
    *,
    schedule: int | None = 1,
    pipeline: str = "etl",
    backfill: int | None = None,
) -> PipelineRunRecord:
    return store.create_pipeline_run(
        pipeline,
        ["a", "b"],
        variables={},
        execution_date=START + timedelta(days=day),
        pipeline_schedule_id=schedule,
        backfill_id=backfill,
        queued=True,
    )


class SchedulingContract:
    # -- one run per trigger and execution date -------------------------------------------

    def test_database_refuses_a_second_run_for_one_execution_date(self, store: RunStore) -> None:
        first = queue(store, 0)
        assert (first.status, first.attempt, first.claimed_by) == (S.QUEUED, 1, None)
        with pytest.raises(RunConflictError, match="trigger 1 for execution date 2024-05-01"):
            queue(store, 0)
        queue(store, 0, schedule=2)  # another trigger
        queue(store, 0, pipeline="other")
        queue(store, 0, schedule=None)  # manual runs have no trigger: NULLs never collide
        queue(store, 0, schedule=None)
        assert len(store.list_pipeline_runs()) == 5

    def test_create_queued_for_a_backfill_after_a_time(
        self, store: RunStore, clock: FakeClock
    ) -> None:
        later = clock.now + timedelta(minutes=5)
        run = store.create_pipeline_run(
            "etl", ["a"], variables={}, execution_date=clock.now, backfill_id=7, start_after=later
        )
        assert (run.status, run.backfill_id, run.start_after, run.passed_sla) == (
            S.INITIAL,
            7,
            later,
            False,
        )

    # -- claiming -------------------------------------------------------------------------

    def test_claim_takes_the_oldest_queued_run_once(
        self, store: RunStore, clock: FakeClock
    ) -> None:
        first, second = queue(store, 0), queue(store, 1)
        store.create_pipeline_run("etl", ["a"], variables={}, execution_date=clock.now)  # initial
        claimed = store.claim_pipeline_run("s1", claim_all).claimed
        assert claimed is not None
        assert (claimed.id, claimed.status, claimed.claimed_by) == (first.id, S.QUEUED, "s1")
        assert claimed.claimed_at == claimed.heartbeat_at == clock.now
        again = store.claim_pipeline_run("s2", claim_all).claimed
        assert again is not None
        assert again.id == second.id
        assert store.claim_pipeline_run("s3", claim_all).claimed is None

    def test_claim_waits_for_start_after(self, store: RunStore, clock: FakeClock) -> None:
        run = store.create_pipeline_run(
            "etl",
            ["a"],
            variables={},
            execution_date=clock.now,
            queued=True,
            start_after=clock.now + timedelta(seconds=30),
        )
        assert store.claim_pipeline_run("s", claim_all).claimed is None
        clock.advance(30)
        claimed = store.claim_pipeline_run("s", claim_all).claimed
        assert claimed is not None
        assert claimed.id == run.id

    def test_claim_counts_active_runs_per_pipeline_and_group(self, store: RunStore) -> None:
        seen: list[tuple[int, ActiveRuns]] = []

        def record(candidate: ClaimCandidate, active: ActiveRuns) -> ClaimDecision:
            seen.append((candidate.run_id, active))
            return ClaimDecision(ClaimAction.CLAIM)

        a1, a2 = queue(store, 0), queue(store, 1)
        b1 = queue(store, 0, schedule=2)
        manual = queue(store, 2, schedule=None)
        for _ in range(4):
            store.claim_pipeline_run("s", record)
        assert seen == [
            (a1.id, ActiveRuns(pipeline=0, group=0)),
            (a2.id, ActiveRuns(pipeline=1, group=1)),
            (b1.id, ActiveRuns(pipeline=2, group=0)),
            (manual.id, ActiveRuns(pipeline=3, group=0)),
        ]

    def test_claim_wait_leaves_the_group_queued_and_goes_on(self, store: RunStore) -> None:
        asked: list[int] = []

        def wait_for_trigger_1(candidate: ClaimCandidate, active: ActiveRuns) -> ClaimDecision:
            asked.append(candidate.run_id)
            if candidate.pipeline_schedule_id == 1:
                return ClaimDecision(ClaimAction.WAIT)
            return ClaimDecision(ClaimAction.CLAIM)

        first, _second = queue(store, 0), queue(store, 1)
        other = queue(store, 0, schedule=2)
        result = store.claim_pipeline_run("s", wait_for_trigger_1, batch_size=1)
        assert result.claimed is not None
        assert result.claimed.id == other.id
        assert asked == [first.id, other.id]  # asked once for trigger 1's group
        assert store.get_pipeline_run(first.id).status is S.QUEUED

    def test_claim_skip_cancels_with_the_reason(self, store: RunStore) -> None:
        def skip(candidate: ClaimCandidate, active: ActiveRuns) -> ClaimDecision:
            return ClaimDecision(ClaimAction.SKIP, "limit of 1 reached")

        first, second = queue(store, 0), queue(store, 1)
        result = store.claim_pipeline_run("s", skip)
        assert result.claimed is None
        assert [r.id for r in result.skipped] == [first.id, second.id]
        for run_id in (first.id, second.id):
            stored = store.get_pipeline_run(run_id)
            assert (stored.status, stored.error) == (S.CANCELLED, "limit of 1 reached")
            assert {b.status for b in stored.block_runs} == {S.CANCELLED}

    def test_racing_claimers_never_share_a_run(self, database_url: str) -> None:
        with RunStore(database_url) as setup:
            runs = {queue(setup, day).id for day in range(24)}
        claimers = 4
        barrier = threading.Barrier(claimers)
        claimed: list[tuple[str, int]] = []
        errors: list[BaseException] = []

        def claim(name: str) -> None:
            try:
                with RunStore(database_url) as own:
                    barrier.wait()
                    while (record := own.claim_pipeline_run(name, claim_all).claimed) is not None:
                        claimed.append((name, record.id))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=claim, args=(f"s{i}",)) for i in range(claimers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        assert errors == []
        ids = [run_id for _, run_id in claimed]
        assert sorted(ids) == sorted(runs)  # every run claimed, none twice
        with RunStore(database_url) as check:
            owners = {r.id: r.claimed_by for r in check.list_pipeline_runs(limit=100)}
        assert all(owners[run_id] == name for name, run_id in claimed)

    # -- run-level retry ------------------------------------------------------------------

    def test_retry_pipeline_run_queues_the_next_attempt(
        self, store: RunStore, clock: FakeClock
    ) -> None:
        run = queue(store, 0)
        store.claim_pipeline_run("s", claim_all)
        store.transition_pipeline_run(run.id, S.RUNNING)
        store.transition_block_run(run.block_runs[0].id, S.RUNNING)
        store.fail_unfinished(run.id, "worker died")
        retry_at = clock.now + timedelta(seconds=5)
        retried = store.retry_pipeline_run(run.id, start_after=retry_at)
        assert (retried.id, retried.status, retried.attempt) == (run.id, S.QUEUED, 2)
        assert (retried.start_after, retried.claimed_by, retried.error) == (retry_at, None, None)
        assert (retried.started_at, retried.completed_at, retried.heartbeat_at) == (None,) * 3
        assert retried.execution_date == run.execution_date
        assert [b.block_uuid for b in retried.block_runs] == ["a", "b"]
        assert {b.status for b in retried.block_runs} == {S.INITIAL}
        (summary,) = retried.metrics["previous_attempts"]
        assert summary["attempt"] == 1
        assert summary["status"] == "failed"
        assert summary["error"] == "worker died"
        assert summary["failed_blocks"] == {"a": "worker died"}

    def test_retry_pipeline_run_refused_unless_failed_or_cancelled(self, store: RunStore) -> None:
        run = queue(store, 0)
        with pytest.raises(RunStateError, match="cannot retry from status 'queued'"):
            store.retry_pipeline_run(run.id)

    # -- stale runs, cancel, SLA, deletion ------------------------------------------------

    def test_recover_stale_run_fails_it_once(self, store: RunStore, clock: FakeClock) -> None:
        run = queue(store, 0)
        store.claim_pipeline_run("s", claim_all)
        store.transition_pipeline_run(run.id, S.RUNNING)
        store.transition_block_run(run.block_runs[0].id, S.RUNNING)
        clock.advance(60)
        store.heartbeat(run.id)
        assert store.recover_stale_run(run.id, stale_before=clock.now, reason="dead") is None
        recovered = store.recover_stale_run(
            run.id, stale_before=clock.now + timedelta(seconds=1), reason="dead"
        )
        assert recovered is not None
        assert (recovered.status, recovered.error) == (S.FAILED, "dead")
        assert [b.status for b in recovered.block_runs] == [S.FAILED, S.CANCELLED]
        later = clock.now + timedelta(hours=1)
        assert store.recover_stale_run(run.id, stale_before=later, reason="again") is None

    def test_unclaimed_queued_runs_are_never_stale(self, store: RunStore, clock: FakeClock) -> None:
        run = queue(store, 0)
        later = clock.now + timedelta(days=1)
        assert store.recover_stale_run(run.id, stale_before=later, reason="x") is None

    def test_cancel_pipeline_run(self, store: RunStore) -> None:
        run = queue(store, 0)
        cancelled = store.cancel_pipeline_run(run.id, "cancelled by alice")
        assert (cancelled.status, cancelled.error) == (S.CANCELLED, "cancelled by alice")
        assert {b.status for b in cancelled.block_runs} == {S.CANCELLED}
        with pytest.raises(RunStateError, match="has ended"):
            store.cancel_pipeline_run(run.id, "again")

    def test_mark_passed_sla_once(self, store: RunStore) -> None:
        run = queue(store, 0)
        assert store.mark_passed_sla(run.id) is True
        assert store.mark_passed_sla(run.id) is False
        assert store.get_pipeline_run(run.id).passed_sla is True

    def test_delete_pipeline_runs_only_ended_ones(self, store: RunStore) -> None:
        ended, waiting = queue(store, 0), queue(store, 1)
        store.cancel_pipeline_run(ended.id, "x")
        assert store.delete_pipeline_runs([ended.id, waiting.id, 999]) == [ended.id]
        assert [r.id for r in store.list_pipeline_runs()] == [waiting.id]
