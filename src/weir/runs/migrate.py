"""Running the packaged Alembic migrations from code (no `alembic.ini` needed).

Imported lazily by `weir.runs.database.ensure_schema`, only when the schema is not at head,
because importing Alembic costs startup time that a routine `weir run` should not pay.

Two processes may find a new database at the same moment. The upgrade therefore runs in one
transaction that first takes a database-wide lock and then re-reads the revision:
`pg_advisory_xact_lock` on PostgreSQL (released at commit), `BEGIN IMMEDIATE` on SQLite (the
write lock; the other process waits `busy_timeout`). Both dialects run DDL transactionally here,
so a failed migration leaves nothing half-done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from weir.errors import WeirError
from weir.runs.database import WRITE_OPTION

__all__ = ["MIGRATIONS_DIR", "alembic_config", "head_revision", "upgrade_to_head"]

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
"""The Alembic script directory shipped inside the package."""

MIGRATION_LOCK_KEY: Final = 0x5745_4952_0001
"""Key of the PostgreSQL advisory lock held while migrating ("WEIR" + 1)."""


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic `Config` for Weir's migrations, built in code.

    Args:
        connection: run the migrations on this connection, inside its open transaction.
        url: otherwise connect to this URL (developer use, e.g. `alembic revision`).

    Returns:
        A config whose `script_location` is `MIGRATIONS_DIR`.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolation: a literal % must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The head revision id of the packaged migrations, as Alembic computes it."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _locked_revision(connection: Connection) -> str | None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _check_known(config: Config, revision: str | None, connection: Connection) -> None:
    if revision is None:
        return
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    if revision in known:
        return
    where = connection.engine.url.render_as_string(hide_password=True)
    raise WeirError(
        f"metadata database {where} is at schema revision '{revision}', which this version of "
        f"Weir does not know (its newest is '{head_revision()}'). A newer Weir wrote it: "
        "upgrade Weir, or point WEIR_DATABASE_URL at another database."
    )


def upgrade_to_head(engine: Engine) -> None:
    """Migrate the database behind `engine` to the head revision, once, under a lock.

    Args:
        engine: an engine from `weir.runs.database.create_database_engine`.

    Raises:
        WeirError: the database is at a revision these migrations do not contain.
        sqlalchemy.exc.OperationalError: the database is unreachable, or on SQLite another
            process held the write lock longer than `busy_timeout`.
    """
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
        current = _locked_revision(connection)
        config = alembic_config(connection=connection)
        _check_known(config, current, connection)
        if current == head_revision():
            return
        command.upgrade(config, "head")
