"""What the PostgreSQL source and destination share: connecting, and sorting errors."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

__all__ = ["connect", "describe", "is_transient", "normalise_conninfo"]

# SQLSTATE classes after which the same statement may well succeed: connection exceptions (08),
# transaction rollbacks such as deadlocks and serialization failures (40), insufficient
# resources (53) and operator intervention such as a server shutdown (57).
_TRANSIENT_CLASSES = ("08", "40", "53", "57")


def normalise_conninfo(url: str) -> str:
    """Accept a libpq URL/conninfo or a SQLAlchemy `postgresql+psycopg://` URL."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres+psycopg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def describe(conninfo: str) -> str:
    """Name a database for messages, without its password: `host:port/dbname`."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<unparsable PostgreSQL connection string>"
    host = params.get("host", "localhost")
    return f"{host}:{params.get('port', 5432)}/{params.get('dbname', '')}"


def connect(conninfo: str) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection with the session settings Weir's text formats rely on.

    The session time zone is UTC (timestamps are exchanged as UTC text) and DateStyle is ISO.

    Raises:
        psycopg.Error: the server cannot be reached or refuses the login.
    """
    conn = psycopg.connect(conninfo, autocommit=False)
    try:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET DateStyle TO 'ISO, YMD'")
        conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


def is_transient(exc: BaseException) -> bool:
    """Whether retrying may help: the connection was lost or the server rolled back."""
    if isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) is None:
        return True
    sqlstate = getattr(exc, "sqlstate", None) or ""
    return sqlstate[:2] in _TRANSIENT_CLASSES
