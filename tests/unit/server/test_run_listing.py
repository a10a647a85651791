"""The raw-SQL run listing on SQLite (`weir.server.queries.list_runs`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from tests.unit.server.conftest import Api
from tests.unit.server.listing import assert_filters_match_boundaries, assert_listing_matches_orm
from weir.runs.database import connect
from weir.server import queries
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
        queries.list_runs(engine, queries.RunFilter(), limit=-1, offset=0)


def test_the_app_keeps_a_connection_per_worker_thread(api: Api) -> None:
    # Fewer pooled connections than threads would open and close one per request.
    pool = api.app.state.weir.runs.engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.size() > WORKER_THREADS
