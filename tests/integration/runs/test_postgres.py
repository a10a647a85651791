"""The RunStore contract and the migrations on a real PostgreSQL database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.unit.runs.contract import T0, RunStoreContract
from tests.unit.runs.migration_race import race_to_migrate
from weir.runs import RunStore
from weir.runs.database import HEAD_REVISION, connect, current_revision
from weir.runs.models import Base
from weir.server import models as server_models  # noqa: F401  (registers the users' tables)

pytestmark = pytest.mark.postgres


class TestPostgresRunStore(RunStoreContract):
    @pytest.fixture
    def database_url(self, postgres_url: str) -> str:
        return postgres_url


def test_connect_migrates_empty_database_to_head(postgres_url: str) -> None:
    engine = connect(postgres_url)
    try:
        assert current_revision(engine) == HEAD_REVISION
        assert {"alembic_version", "pipeline_run", "block_run"} <= set(
            inspect(engine).get_table_names()
        )
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            kinds: dict[str, str] = dict(
                connection.execute(
                    text(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_name = 'pipeline_run'"
                    )
                ).all()
            )
        assert kinds["execution_date"] == "timestamp with time zone"
        assert kinds["variables"] == "jsonb"
    finally:
        engine.dispose()


def test_two_processes_migrate_one_fresh_database(postgres_url: str, tmp_path: Path) -> None:
    results = race_to_migrate(postgres_url, tmp_path / "go", processes=2)
    for returncode, out, err in results:
        assert returncode == 0, err
        assert out == HEAD_REVISION


def test_datetimes_are_utc_whatever_the_session_time_zone(postgres_url: str) -> None:
    tokyo_session = postgres_url + "?options=-c%20timezone%3DAsia/Tokyo"
    with RunStore(tokyo_session) as store:
        with store.engine.connect() as connection:
            assert connection.execute(text("SHOW timezone")).scalar() == "Asia/Tokyo"
        local = datetime(2024, 1, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
        run = store.create_pipeline_run("etl", ["a"], variables={}, execution_date=local)
        stored = store.get_pipeline_run(run.id)
        assert stored.execution_date == datetime(2024, 1, 2, 4, 30, tzinfo=UTC)
        assert stored.execution_date.tzinfo is UTC
        assert stored.created_at.tzinfo is UTC
        assert stored.execution_date != T0
