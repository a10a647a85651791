"""The behaviour every RunStore backend must show; subclassed once per database.

A subclass provides the `database_url` fixture (a fresh, empty database per test).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from tests.unit.runs.scheduling_contract import SchedulingContract
from weir.errors import RunNotFoundError, RunStateError
from weir.runs import PipelineRunRecord, RunStatus, RunStore

S = RunStatus
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class RunStoreContract(SchedulingContract):
    @pytest.fixture
    def database_url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, database_url: str, clock: FakeClock) -> Iterator[RunStore]:
        with RunStore(database_url, clock=clock) as store:
            yield store

    def make_run(
        self, store: RunStore, pipeline_uuid: str = "etl", blocks: tuple[str, ...] = ("a", "b")
    ) -> PipelineRunRecord:
        return store.create_pipeline_run(
            pipeline_uuid, blocks, variables={"env": "test"}, execution_date=T0
        )

    def start(self, store: RunStore, run: PipelineRunRecord) -> None:
        store.transition_pipeline_run(run.id, S.RUNNING)

    # -- create / get ---------------------------------------------------------------------

    def test_create_records_run_and_block_runs_initial(
        self, store: RunStore, clock: FakeClock
    ) -> None:
        run = store.create_pipeline_run(
            "etl",
            ["load", "clean", "export"],
            variables={"n": 3, "tags": ("x", "y")},
            execution_date=T0,
            pipeline_schedule_id=9,
        )
        assert run.status is S.INITIAL
        assert (run.pipeline_uuid, run.pipeline_schedule_id) == ("etl", 9)
        assert run.variables == {"n": 3, "tags": ["x", "y"]}
        assert run.created_at == clock.now
        assert (run.started_at, run.completed_at, run.heartbeat_at, run.error) == (None,) * 4
        assert run.metrics == {}
        assert [b.block_uuid for b in run.block_runs] == ["load", "clean", "export"]
        assert [b.id for b in run.block_runs] == sorted(b.id for b in run.block_runs)
        for block_run in run.block_runs:
            assert block_run.status is S.INITIAL
            assert block_run.pipeline_run_id == run.id
            assert (block_run.attempts, block_run.metrics, block_run.log_path) == (0, {}, None)
        assert store.get_pipeline_run(run.id) == run

    def test_create_with_no_blocks(self, store: RunStore) -> None:
        run = self.make_run(store, blocks=())
        assert store.get_pipeline_run(run.id).block_runs == ()

    def test_create_rejects_duplicate_blocks_and_stores_nothing(self, store: RunStore) -> None:
        with pytest.raises(ValueError, match=r"listed twice: \['a'\]"):
            self.make_run(store, blocks=("a", "b", "a"))
        assert store.list_pipeline_runs() == []

    def test_create_rejects_naive_execution_date(self, store: RunStore) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            store.create_pipeline_run(
                "etl", ["a"], variables={}, execution_date=datetime(2024, 1, 1)
            )
        assert store.list_pipeline_runs() == []

    def test_create_rejects_variables_that_are_not_json(self, store: RunStore) -> None:
        with pytest.raises(TypeError, match="pipeline 'etl': variables must be JSON"):
            store.create_pipeline_run("etl", ["a"], variables={"bad": object()}, execution_date=T0)
        assert store.list_pipeline_runs() == []

    def test_create_is_atomic(self, store: RunStore) -> None:
        # The block run insert fails (NOT NULL) after the pipeline run row was written.
        with pytest.raises(IntegrityError):
            store.create_pipeline_run("etl", ["a", None], variables={}, execution_date=T0)  # type: ignore[list-item]
        assert store.list_pipeline_runs() == []

    def test_datetimes_round_trip_tz_aware_utc(self, store: RunStore) -> None:
        india = timezone(timedelta(hours=5, minutes=30))
        local = datetime(2024, 3, 10, 1, 30, 15, 123456, tzinfo=india)
        run = store.create_pipeline_run("etl", ["a"], variables={}, execution_date=local)
        for record in (run, store.get_pipeline_run(run.id), store.list_pipeline_runs()[0]):
            assert record.execution_date == local
            assert record.execution_date.tzinfo is UTC
            assert record.execution_date == datetime(2024, 3, 9, 20, 0, 15, 123456, tzinfo=UTC)
            assert record.created_at.tzinfo is UTC

    def test_unknown_ids_raise_not_found(self, store: RunStore) -> None:
        with pytest.raises(RunNotFoundError, match="no pipeline run with id 999"):
            store.get_pipeline_run(999)
        with pytest.raises(RunNotFoundError, match="no pipeline run with id 999"):
            store.transition_pipeline_run(999, S.RUNNING)
        with pytest.raises(RunNotFoundError, match="no block run with id 999"):
            store.transition_block_run(999, S.RUNNING)
        with pytest.raises(RunNotFoundError, match="no block run with id 999"):
            store.retry_block_run(999)
        with pytest.raises(RunNotFoundError, match="no pipeline run with id 999"):
            store.fail_unfinished(999, "gone")
        with pytest.raises(RunNotFoundError, match="no pipeline run with id 999"):
            store.heartbeat(999)

    # -- transitions and time rules -------------------------------------------------------

    def test_pipeline_run_time_rules(self, store: RunStore, clock: FakeClock) -> None:
        run = self.make_run(store)
        queued = store.transition_pipeline_run(run.id, S.QUEUED)
        assert (queued.status, queued.started_at, queued.completed_at) == (S.QUEUED, None, None)
        started = clock.advance(5)
        running = store.transition_pipeline_run(run.id, S.RUNNING)
        assert (running.started_at, running.completed_at) == (started, None)
        ended = clock.advance(12.25)
        done = store.transition_pipeline_run(run.id, S.COMPLETED)
        assert (done.status, done.started_at, done.completed_at) == (S.COMPLETED, started, ended)
        assert done.duration_seconds == 12.25
        assert store.get_pipeline_run(run.id) == done

    def test_block_run_time_rules(self, store: RunStore, clock: FakeClock) -> None:
        run = self.make_run(store)
        a, b = run.block_runs
        started = clock.advance(1)
        running = store.transition_block_run(a.id, S.RUNNING)
        assert (running.started_at, running.completed_at) == (started, None)
        ended = clock.advance(2)
        done = store.transition_block_run(a.id, S.COMPLETED)
        assert (done.started_at, done.completed_at, done.duration_seconds) == (started, ended, 2.0)
        skipped = store.transition_block_run(b.id, S.UPSTREAM_FAILED)
        assert (skipped.started_at, skipped.completed_at) == (None, ended)
        assert skipped.duration_seconds is None

    def test_pipeline_run_may_fail_before_running(self, store: RunStore, clock: FakeClock) -> None:
        run = self.make_run(store)
        failed = store.transition_pipeline_run(run.id, S.FAILED, error="pipeline invalid")
        assert (failed.status, failed.error) == (S.FAILED, "pipeline invalid")
        assert (failed.started_at, failed.completed_at) == (None, clock.now)

    def test_illegal_transition_raises_and_changes_nothing(self, store: RunStore) -> None:
        run = self.make_run(store)
        a = run.block_runs[0]
        with pytest.raises(RunStateError, match=r"block run .* from 'initial' to 'completed'"):
            store.transition_block_run(a.id, S.COMPLETED, metrics={"rows": 1}, attempts=3)
        with pytest.raises(RunStateError, match=r"pipeline run .*'etl'.* 'initial' to 'completed'"):
            store.transition_pipeline_run(run.id, S.COMPLETED)
        assert store.get_pipeline_run(run.id) == run

    def test_terminal_records_stay_terminal(self, store: RunStore) -> None:
        run = self.make_run(store)
        self.start(store, run)
        store.transition_pipeline_run(run.id, S.CANCELLED)
        for to in (S.RUNNING, S.COMPLETED, S.FAILED, S.INITIAL):
            with pytest.raises(RunStateError, match="'cancelled' is terminal"):
                store.transition_pipeline_run(run.id, to)

    def test_block_run_fields_and_metrics_merge(self, store: RunStore) -> None:
        block_id = self.make_run(store).block_runs[0].id
        running = store.transition_block_run(
            block_id, S.RUNNING, attempts=1, log_path="logs/a.log", metrics={"rows": 1, "b": 2}
        )
        assert (running.attempts, running.log_path) == (1, "logs/a.log")
        failed = store.transition_block_run(
            block_id,
            S.FAILED,
            error="ZeroDivisionError: division by zero",
            traceback="Traceback (most recent call last): ...",
            metrics={"rows": 10, "nested": {"k": [1, 2]}},
        )
        assert failed.metrics == {"rows": 10, "b": 2, "nested": {"k": [1, 2]}}
        assert failed.error == "ZeroDivisionError: division by zero"
        assert failed.traceback == "Traceback (most recent call last): ..."
        assert (failed.attempts, failed.log_path) == (1, "logs/a.log")

    def test_pipeline_run_metrics_merge_and_error(self, store: RunStore) -> None:
        run = self.make_run(store)
        store.transition_pipeline_run(run.id, S.RUNNING, metrics={"blocks": 2, "rows": 5})
        done = store.transition_pipeline_run(
            run.id, S.FAILED, error="b failed", metrics={"rows": 7}
        )
        assert done.metrics == {"blocks": 2, "rows": 7}
        assert done.error == "b failed"
        assert store.get_pipeline_run(run.id).metrics == {"blocks": 2, "rows": 7}

    def test_heartbeat(self, store: RunStore, clock: FakeClock) -> None:
        run = self.make_run(store)
        beat = clock.advance(30)
        store.heartbeat(run.id)
        record = store.get_pipeline_run(run.id)
        assert record.heartbeat_at == beat
        assert record.status is S.INITIAL

    def test_racing_writers_only_one_wins(self, store: RunStore) -> None:
        run = self.make_run(store)
        block_id = run.block_runs[0].id
        store.transition_block_run(block_id, S.RUNNING)
        workers = 6
        barrier = threading.Barrier(workers)
        outcomes: list[str] = []

        def finish(to: RunStatus) -> None:
            barrier.wait()
            try:
                store.transition_block_run(block_id, to, error=str(to))
                outcomes.append(f"won:{to}")
            except RunStateError:
                outcomes.append("refused")

        targets = [S.COMPLETED, S.FAILED, S.CANCELLED] * 2
        threads = [threading.Thread(target=finish, args=(to,)) for to in targets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(outcomes) == workers
        assert outcomes.count("refused") == workers - 1, outcomes
        winner = next(o for o in outcomes if o.startswith("won:")).removeprefix("won:")
        stored = store.get_pipeline_run(run.id).block_runs[0]
        assert (stored.status, stored.error) == (winner, winner)

    # -- retry ----------------------------------------------------------------------------

    def test_retry_block_run_resets_attempt_fields(self, store: RunStore) -> None:
        run = self.make_run(store)
        self.start(store, run)
        block_id = run.block_runs[0].id
        store.transition_block_run(block_id, S.RUNNING, attempts=1, log_path="a.log")
        store.transition_block_run(
            block_id, S.FAILED, error="boom", traceback="tb", metrics={"rows": 3}
        )
        retried = store.retry_block_run(block_id)
        assert retried.status is S.INITIAL
        assert (retried.started_at, retried.completed_at) == (None, None)
        assert (retried.error, retried.traceback) == (None, None)
        assert (retried.attempts, retried.log_path, retried.metrics) == (1, "a.log", {"rows": 3})
        assert store.transition_block_run(block_id, S.RUNNING, attempts=2).attempts == 2
        assert store.get_pipeline_run(run.id).status is S.RUNNING

    @pytest.mark.parametrize("status", [S.FAILED, S.CANCELLED, S.UPSTREAM_FAILED])
    def test_retry_reopens_failed_pipeline_run(self, store: RunStore, status: RunStatus) -> None:
        run = self.make_run(store)
        self.start(store, run)
        block_id = run.block_runs[1].id
        if status is S.UPSTREAM_FAILED:
            store.transition_block_run(block_id, status)
        else:
            store.transition_block_run(block_id, S.RUNNING)
            store.transition_block_run(block_id, status)
        store.transition_pipeline_run(run.id, S.FAILED, error="b failed")
        store.retry_block_run(block_id)
        reopened = store.get_pipeline_run(run.id)
        assert (reopened.status, reopened.completed_at, reopened.error) == (S.INITIAL, None, None)
        assert reopened.started_at is not None
        assert reopened.block_runs[1].status is S.INITIAL

    @pytest.mark.parametrize("status", [S.INITIAL, S.RUNNING, S.COMPLETED, S.CONDITION_FAILED])
    def test_retry_refused_from_other_statuses(self, store: RunStore, status: RunStatus) -> None:
        run = self.make_run(store)
        block_id = run.block_runs[0].id
        path = {
            S.INITIAL: [],
            S.RUNNING: [S.RUNNING],
            S.COMPLETED: [S.RUNNING, S.COMPLETED],
            S.CONDITION_FAILED: [S.CONDITION_FAILED],
        }[status]
        for to in path:
            store.transition_block_run(block_id, to)
        with pytest.raises(RunStateError, match=f"cannot retry from status '{status}'"):
            store.retry_block_run(block_id)
        assert store.get_pipeline_run(run.id).block_runs[0].status is status

    def test_retry_refused_when_pipeline_run_completed(self, store: RunStore) -> None:
        run = self.make_run(store)
        self.start(store, run)
        block_id = run.block_runs[0].id
        store.transition_block_run(block_id, S.UPSTREAM_FAILED)
        store.transition_pipeline_run(run.id, S.COMPLETED)
        with pytest.raises(RunStateError, match=r"pipeline run .* from status 'completed'"):
            store.retry_block_run(block_id)
        assert store.get_pipeline_run(run.id).block_runs[0].status is S.UPSTREAM_FAILED

    # -- fail_unfinished ------------------------------------------------------------------

    def test_fail_unfinished_sweeps_run(self, store: RunStore, clock: FakeClock) -> None:
        run = self.make_run(store, blocks=("done", "running", "queued", "initial", "skipped"))
        self.start(store, run)
        ids = {b.block_uuid: b.id for b in run.block_runs}
        store.transition_block_run(ids["done"], S.RUNNING)
        store.transition_block_run(ids["done"], S.COMPLETED)
        store.transition_block_run(ids["running"], S.RUNNING)
        store.transition_block_run(ids["queued"], S.QUEUED)
        store.transition_block_run(ids["skipped"], S.CONDITION_FAILED)
        crash = clock.advance(60)
        swept = store.fail_unfinished(run.id, "worker 4242 died (SIGKILL)")
        assert (swept.status, swept.error, swept.completed_at) == (
            S.FAILED,
            "worker 4242 died (SIGKILL)",
            crash,
        )
        by_uuid = {b.block_uuid: b for b in swept.block_runs}
        expected = {
            "done": (S.COMPLETED, None),
            "running": (S.FAILED, "worker 4242 died (SIGKILL)"),
            "queued": (S.CANCELLED, "worker 4242 died (SIGKILL)"),
            "initial": (S.CANCELLED, "worker 4242 died (SIGKILL)"),
            "skipped": (S.CONDITION_FAILED, None),
        }
        assert {k: (v.status, v.error) for k, v in by_uuid.items()} == expected
        assert by_uuid["running"].completed_at == crash
        assert by_uuid["done"].completed_at != crash
        assert store.get_pipeline_run(run.id) == swept

    def test_fail_unfinished_is_idempotent(self, store: RunStore, clock: FakeClock) -> None:
        run = self.make_run(store)
        self.start(store, run)
        store.transition_block_run(run.block_runs[0].id, S.RUNNING)
        first = store.fail_unfinished(run.id, "first")
        clock.advance(10)
        second = store.fail_unfinished(run.id, "second")
        assert second == first

    def test_fail_unfinished_keeps_terminal_run_status(self, store: RunStore) -> None:
        run = self.make_run(store)
        self.start(store, run)
        store.transition_block_run(run.block_runs[0].id, S.RUNNING)
        store.transition_pipeline_run(run.id, S.CANCELLED, error="user cancelled")
        swept = store.fail_unfinished(run.id, "supervisor sweep")
        assert (swept.status, swept.error) == (S.CANCELLED, "user cancelled")
        assert [(b.status, b.error) for b in swept.block_runs] == [
            (S.FAILED, "supervisor sweep"),
            (S.CANCELLED, "supervisor sweep"),
        ]

    def test_fail_unfinished_of_initial_run(self, store: RunStore) -> None:
        run = self.make_run(store)
        swept = store.fail_unfinished(run.id, "never started")
        assert swept.status is S.FAILED
        assert {b.status for b in swept.block_runs} == {S.CANCELLED}

    # -- listing --------------------------------------------------------------------------

    def test_list_newest_first_with_paging(self, store: RunStore) -> None:
        ids = [self.make_run(store).id for _ in range(7)]
        newest_first = list(reversed(ids))
        assert [r.id for r in store.list_pipeline_runs()] == newest_first
        assert [r.id for r in store.list_pipeline_runs(limit=3)] == newest_first[:3]
        assert [r.id for r in store.list_pipeline_runs(limit=3, offset=3)] == newest_first[3:6]
        assert [r.id for r in store.list_pipeline_runs(limit=3, offset=6)] == newest_first[6:]
        assert store.list_pipeline_runs(limit=0) == []
        with pytest.raises(ValueError, match="limit and offset"):
            store.list_pipeline_runs(offset=-1)

    def test_list_filters(self, store: RunStore) -> None:
        etl_1 = self.make_run(store, "etl")
        other = self.make_run(store, "other")
        etl_2 = self.make_run(store, "etl")
        self.start(store, etl_2)
        store.transition_pipeline_run(other.id, S.CANCELLED)
        assert [r.id for r in store.list_pipeline_runs(pipeline_uuid="etl")] == [etl_2.id, etl_1.id]
        assert [r.id for r in store.list_pipeline_runs(status=S.INITIAL)] == [etl_1.id]
        both = store.list_pipeline_runs(status=[S.RUNNING, S.CANCELLED])
        assert [r.id for r in both] == [etl_2.id, other.id]
        filtered = store.list_pipeline_runs(pipeline_uuid="etl", status={S.CANCELLED})
        assert filtered == []
        assert store.list_pipeline_runs(pipeline_uuid="nope") == []
        assert [r.id for r in store.list_pipeline_runs(status="initial")] == [etl_1.id]  # type: ignore[arg-type]

    def test_plain_string_statuses_are_read_as_run_status(self, store: RunStore) -> None:
        run = self.make_run(store)
        moved = store.transition_pipeline_run(run.id, "running")  # type: ignore[arg-type]
        assert moved.status is S.RUNNING
        block = store.transition_block_run(run.block_runs[0].id, "running")  # type: ignore[arg-type]
        assert block.status is S.RUNNING
        with pytest.raises(ValueError, match="'finished' is not a valid RunStatus"):
            store.transition_block_run(run.block_runs[0].id, "finished")  # type: ignore[arg-type]

    def test_list_includes_block_runs_in_two_queries(self, store: RunStore) -> None:
        for _ in range(5):
            self.make_run(store, blocks=("a", "b", "c"))
        selects: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                selects.append(statement)

        event.listen(store.engine, "before_cursor_execute", count)
        try:
            runs = store.list_pipeline_runs()
        finally:
            event.remove(store.engine, "before_cursor_execute", count)
        assert len(runs) == 5
        assert all([b.block_uuid for b in r.block_runs] == ["a", "b", "c"] for r in runs)
        assert len(selects) == 2, selects

    # -- latest_block_run -----------------------------------------------------------------

    def complete(self, store: RunStore, block_id: int) -> None:
        store.transition_block_run(block_id, S.RUNNING)
        store.transition_block_run(block_id, S.COMPLETED)

    def test_latest_block_run(self, store: RunStore, clock: FakeClock) -> None:
        first = self.make_run(store)
        second = self.make_run(store)
        other_pipeline = self.make_run(store, "other")
        assert store.latest_block_run("etl", "a") is None
        clock.advance(1)
        self.complete(store, second.block_runs[0].id)
        clock.advance(1)
        self.complete(store, first.block_runs[0].id)  # completed later, though created earlier
        clock.advance(1)
        self.complete(store, other_pipeline.block_runs[0].id)
        latest = store.latest_block_run("etl", "a")
        assert latest is not None
        assert (latest.id, latest.pipeline_run_id) == (first.block_runs[0].id, first.id)
        assert store.latest_block_run("etl", "b") is None
        initial = store.latest_block_run("etl", "b", status=S.INITIAL)
        assert initial is not None
        assert initial.id == second.block_runs[1].id
        assert store.latest_block_run("etl", "zzz") is None

    # -- schema ---------------------------------------------------------------------------

    def test_deleting_a_run_cascades_to_block_runs(self, store: RunStore) -> None:
        run = self.make_run(store)
        with store.engine.begin() as connection:
            connection.execute(text("DELETE FROM pipeline_run WHERE id = :id"), {"id": run.id})
            left = connection.execute(text("SELECT count(*) FROM block_run")).scalar()
        assert left == 0
