"""The raw-SQL run listing on SQLite (`weir.server.run_listing.list_runs`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio import to_thread
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from tests.unit.server.conftest import Api
from tests.unit.server.listing import assert_filters_match_boundaries, assert_listing_matches_orm
from weir.runs.database import connect
from weir.server import Role, run_listing
from weir.server.app import WORKER_THREADS


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(f"sqlite:///{tmp_path / 'weir.db'}")
    yield engine
    engine.dispose()


def test_listing_matches_the_orm_reading(engine: Engine) -> None:
    assert_listing_matches_orm(engine)


def test_filters_boundaries_and_totals(engine: Engine) -> None:
    assert_filters_match_boundaries(engine)


def test_negative_paging_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="limit and offset must be >= 0"):
        run_listing.list_runs(engine, run_listing.RunFilter(), limit=-1, offset=0)


def test_the_app_keeps_a_connection_per_worker_thread(api: Api) -> None:
    # Fewer pooled connections than threads would open and close one per request.
    pool = api.app.state.weir.runs.engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.size() > WORKER_THREADS


def test_listing_answers_while_every_shared_thread_is_busy(api: Api) -> None:
    # The listing has a lane of its own: slow handlers holding all the shared worker threads
    # (previews, log searches) do not delay it.
    headers = api.as_(Role.VIEWER)
    assert api.client.get("/api/pipeline_runs", headers=headers).status_code == 200  # token cached
    portal = api.client.portal
    assert portal is not None
    limiter = portal.call(to_thread.current_default_thread_limiter)
    holders = [object() for _ in range(int(limiter.total_tokens))]
    for holder in holders:
        portal.call(limiter.acquire_on_behalf_of, holder)
    try:
        answers: list[int] = []
        caller = threading.Thread(
            target=lambda: answers.append(
                api.client.get("/api/pipeline_runs", headers=headers).status_code
            )
        )
        caller.start()
        caller.join(timeout=10)
        assert answers == [200]
    finally:
        for holder in holders:
            portal.call(limiter.release_on_behalf_of, holder)
        caller.join(timeout=10)
