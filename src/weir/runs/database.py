"""The metadata database: where it is, how to open it, and bringing its schema to head.

SQLite (a file in the project's data directory) is the default; PostgreSQL is used when the
URL says so. `connect` is on the path of every `weir run`, so it stays cheap when the schema is
current: one `SELECT` on `alembic_version`, compared with `HEAD_REVISION`. Alembic is imported
only when that check fails (see `weir.runs.migrate`).

SQLite notes: WAL journal (readers never block the writer), `busy_timeout` so a second process
waits instead of failing, foreign keys on (for `ON DELETE CASCADE`). Weir emits `BEGIN` itself
instead of leaving it to `sqlite3`, which otherwise runs a `SELECT` outside any transaction;
a connection with the execution option `WRITE_OPTION` begins with `BEGIN IMMEDIATE`, taking the
write lock before it reads, so a read-check-write is atomic across processes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from weir.errors import ConfigError

__all__ = [
    "DATABASE_URL_ENV",
    "HEAD_REVISION",
    "SQLITE_BUSY_TIMEOUT_MS",
    "WRITE_OPTION",
    "connect",
    "create_database_engine",
    "current_revision",
    "default_database_url",
    "ensure_schema",
]

HEAD_REVISION: Final = "0004"
"""The newest migration in `weir/runs/migrations/versions`; a test checks it is Alembic's head."""

DATABASE_URL_ENV: Final = "WEIR_DATABASE_URL"
"""Environment variable that, when set, overrides the default SQLite file."""

SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
"""How long a SQLite connection waits for another process's lock before failing, in ms."""

WRITE_OPTION: Final = "weir_write"
"""Execution option: on SQLite, begin the transaction with `BEGIN IMMEDIATE`."""

_POSTGRES_ALIASES = ("postgres://", "postgresql://")


def default_database_url(data_dir: Path) -> str:
    """The metadata database URL for a project.

    Args:
        data_dir: the project's data directory; created (with parents) if it does not exist.

    Returns:
        `$WEIR_DATABASE_URL` when set and not empty, else `sqlite:///<data_dir>/weir.db` with
        `data_dir` made absolute.
    """
    from_env = os.environ.get(DATABASE_URL_ENV, "").strip()
    if from_env:
        return from_env
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir.resolve() / 'weir.db'}"


def _normalise_url(url: str) -> URL:
    if url.startswith(_POSTGRES_ALIASES):
        # The bare scheme means psycopg2 to SQLAlchemy; Weir ships psycopg 3.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(
            f"metadata database URL {url!r} cannot be parsed ({exc}); check {DATABASE_URL_ENV}"
        ) from exc
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"metadata database URL uses '{parsed.drivername}'; Weir stores runs in SQLite "
            f"or PostgreSQL (postgresql+psycopg://...); check {DATABASE_URL_ENV}"
        )
    return parsed


def _is_sqlite_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from sqlite3 (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # With WAL, NORMAL syncs at checkpoints, not at every commit: a process crash loses
        # nothing, only an OS crash or power cut can lose the last status changes. Run records
        # change several times per block, so a sync per commit would dominate small runs.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_database_engine(url: str, *, pool_size: int | None = None) -> Engine:
    """Create the engine for a metadata database without touching its schema.

    Args:
        url: SQLAlchemy URL. `sqlite:///path`, `sqlite://` (in-memory, one connection shared;
            for tests, not for concurrent use) or `postgresql+psycopg://...`
            (`postgresql://` and `postgres://` are read as psycopg 3).
        pool_size: connections kept open for reuse (SQLAlchemy's default: 5, plus up to 10
            more opened and closed as needed). A process with N threads using the engine at
            once passes N, so no connection is opened per request. Ignored for in-memory
            SQLite.

    Returns:
        An engine configured as the module docstring says. Nothing is connected yet.

    Raises:
        ConfigError: the URL cannot be parsed or names another database.
    """
    parsed = _normalise_url(url)
    pool: dict[str, Any] = {} if pool_size is None else {"pool_size": pool_size}
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, **pool)
    connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    if _is_sqlite_memory(parsed):
        connect_args["check_same_thread"] = False
        engine = create_engine(parsed, connect_args=connect_args, poolclass=StaticPool)
    else:
        engine = create_engine(parsed, connect_args=connect_args, **pool)
    _install_sqlite_hooks(engine)
    return engine


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in `alembic_version`, with one query.

    Args:
        engine: an engine from `create_database_engine`.

    Returns:
        The revision id, or None when the table does not exist or is empty (a new database).
    """
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        # The table is missing: a database Weir has never migrated.
        return None


def ensure_schema(engine: Engine) -> None:
    """Bring the schema to `HEAD_REVISION`, importing Alembic only if it is not there yet.

    Safe to call from several processes at once: the upgrade runs under a database-wide lock
    and re-reads the revision once it holds it.

    Raises:
        WeirError: the database is at a revision this Weir does not know (a newer Weir wrote it).
    """
    if current_revision(engine) == HEAD_REVISION:
        return
    from weir.runs.migrate import upgrade_to_head

    upgrade_to_head(engine)


def connect(url: str, *, pool_size: int | None = None) -> Engine:
    """Open the metadata database at `url` and bring its schema to head.

    Args:
        url: see `create_database_engine`; usually from `default_database_url`.
        pool_size: see `create_database_engine`.

    Returns:
        An engine whose database has the current `pipeline_run` and `block_run` tables.

    Raises:
        ConfigError: the URL is malformed or not SQLite/PostgreSQL.
        WeirError: the schema is newer than this Weir.
        sqlalchemy.exc.OperationalError: the database cannot be reached.
    """
    engine = create_database_engine(url, pool_size=pool_size)
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
