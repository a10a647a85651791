"""The metadata database on SQLite: URL, engine settings, migrations, the head constant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.unit.runs.migration_race import race_to_migrate
from weir.errors import ConfigError, WeirError
from weir.runs.database import (
    DATABASE_URL_ENV,
    HEAD_REVISION,
    connect,
    create_database_engine,
    current_revision,
    default_database_url,
)
from weir.runs.migrate import head_revision
from weir.runs.models import Base
from weir.server import models as server_models


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_head_constant_is_alembics_head() -> None:
    assert head_revision() == HEAD_REVISION


def test_default_url_is_sqlite_in_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    data_dir = tmp_path / "project" / ".weir"
    url = default_database_url(data_dir)
    assert url == f"sqlite:///{data_dir.resolve() / 'weir.db'}"
    assert data_dir.is_dir()


def test_env_url_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql+psycopg://u@db/weir")
    assert default_database_url(tmp_path / "data") == "postgresql+psycopg://u@db/weir"
    assert not (tmp_path / "data").exists()
    monkeypatch.setenv(DATABASE_URL_ENV, "  ")
    assert default_database_url(tmp_path / "data").startswith("sqlite:///")


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_bare_postgres_urls_use_psycopg3(url: str) -> None:
    engine = create_database_engine(url)
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql+pymysql://root@127.0.0.1/x", "uses 'mysql\\+pymysql'.*WEIR_DATABASE_URL"),
        ("not a url", "cannot be parsed.*WEIR_DATABASE_URL"),
    ],
)
def test_unsupported_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        connect(url)


def test_connect_migrates_empty_file_to_head(tmp_path: Path) -> None:
    path = tmp_path / "weir.db"
    engine = connect(sqlite_url(path))
    try:
        assert path.exists()
        assert current_revision(engine) == HEAD_REVISION
        tables = set(inspect(engine).get_table_names())
        assert {"alembic_version", "pipeline_run", "block_run"} <= tables
    finally:
        engine.dispose()


def test_migrated_schema_matches_models(tmp_path: Path) -> None:
    # The server's tables (users, API keys, sessions) share Base's metadata and migrations.
    assert server_models.User.__table__.metadata is Base.metadata
    engine = connect(sqlite_url(tmp_path / "weir.db"))
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = connect(sqlite_url(tmp_path / "weir.db"))
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
        assert pragma == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1}
    finally:
        engine.dispose()


def test_in_memory_database_works(tmp_path: Path) -> None:
    engine = connect("sqlite://")
    try:
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()


def test_connect_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "weir.db")
    connect(url).dispose()
    probe = (
        "import sys; from weir.runs.database import connect; "
        f"connect({url!r}).dispose(); print('alembic' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_unknown_newer_revision_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "weir.db")
    engine = connect(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(
        WeirError, match=rf"revision '9999'.*newest is '{HEAD_REVISION}'.*upgrade Weir"
    ):
        connect(url)


def test_two_processes_migrate_one_fresh_file(tmp_path: Path) -> None:
    for attempt in range(3):
        path = tmp_path / f"race{attempt}.db"
        results = race_to_migrate(sqlite_url(path), tmp_path / f"go{attempt}", processes=2)
        for returncode, out, err in results:
            assert returncode == 0, err
            assert out == HEAD_REVISION
        engine = connect(sqlite_url(path))
        try:
            with engine.connect() as connection:
                versions = connection.execute(text("SELECT version_num FROM alembic_version"))
                assert versions.scalars().all() == [HEAD_REVISION]
        finally:
            engine.dispose()
