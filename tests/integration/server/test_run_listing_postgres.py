"""The raw-SQL run listing on PostgreSQL: the same checks as on SQLite (`tests/unit/server`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from tests.unit.server.listing import assert_filters_match_boundaries, assert_listing_matches_orm
from weir.runs.database import connect
from weir.server import run_listing

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = connect(postgres_url)
    yield engine
    engine.dispose()


def test_listing_matches_the_orm_reading(engine: Engine) -> None:
    assert_listing_matches_orm(engine)


def test_listing_is_utc_whatever_the_session_time_zone(postgres_url: str) -> None:
    # timestamptz is shown in the session's zone; the listing must convert to UTC itself.
    engine = connect(postgres_url)
    try:
        with engine.begin() as connection:
            database = connection.scalar(text("SELECT current_database()"))
            connection.execute(
                text(f"ALTER DATABASE \"{database}\" SET timezone TO 'Asia/Kolkata'")
            )
        engine.dispose()
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW timezone")) == "Asia/Kolkata"
        assert_listing_matches_orm(engine)
    finally:
        engine.dispose()


def test_filters_boundaries_and_totals(engine: Engine) -> None:
    assert_filters_match_boundaries(engine)


def test_listing_leaves_pooled_connections_transactional(postgres_url: str) -> None:
    # The listing reads in autocommit; the connection must go back to the pool as it came.
    engine = connect(postgres_url, pool_size=1)
    try:
        run_listing.list_runs(engine, run_listing.RunFilter(), limit=5, offset=0)
        with engine.connect() as connection:
            assert connection.get_isolation_level() == "READ COMMITTED"
            assert connection.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
    finally:
        engine.dispose()
