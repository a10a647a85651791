"""Alembic environment of Weir's metadata database.

Weir runs migrations in code (`weir.runs.migrate.upgrade_to_head`): it opens the transaction,
takes the lock and passes the connection in `config.attributes["connection"]`, so this script
runs inside that transaction. Without a connection (a developer running `alembic` with
`-x url=...` or `sqlalchemy.url` set in a config) it connects by itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from weir.runs.models import Base

TARGET_METADATA = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=TARGET_METADATA,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    return url or context.config.get_main_option("sqlalchemy.url") or ""


def run_offline() -> None:
    """Write the SQL of the migrations instead of running them (`alembic upgrade --sql`)."""
    context.configure(url=_url(), target_metadata=TARGET_METADATA, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the given connection, or on one made from the configured URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    try:
        with engine.connect() as own_connection:
            _configure(own_connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
