"""What the MySQL/MariaDB source and destination share: connecting, types, sorting errors.

Every connection gets the same session: time zone UTC (`TIMESTAMP` values are exchanged as
UTC text, `DATETIME` values are taken as UTC), a fixed `sql_mode` (strict, and backslash escapes
on, which pymysql's escaping and Weir's `LOAD DATA` options rely on) and utf8mb4.

`column_from_mysql` maps an `information_schema.COLUMNS` row to a `Column`; the source module
documents the table. MariaDB's `JSON` is `LONGTEXT` with a `json_valid` check, so JSON columns
are found through `information_schema.CHECK_CONSTRAINTS` there (`json_columns`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pymysql
import pymysql.converters
from pymysql.constants import CR, ER
from pymysql.cursors import Cursor, SSCursor

from weir.integration.columns import Column, ColumnKind

__all__ = [
    "BINARY_TYPES",
    "SESSION_SQL",
    "SPATIAL_TYPES",
    "TEXT_TYPES",
    "MySQLParams",
    "column_from_mysql",
    "connect",
    "is_mariadb",
    "is_transient",
    "json_columns",
    "quote",
]

SESSION_SQL = (
    "SET time_zone = '+00:00', "
    "sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', "
    "net_write_timeout = 3600, net_read_timeout = 3600"
)
"""Run on every new connection. The long network timeouts let a streaming read wait while the
destination writes a batch (the server otherwise drops a client that stops reading for 60 s)."""

_CONNECT_TIMEOUT_SECONDS = 10
# pymysql's encoders without its decoders: every value of a streamed result arrives as bytes
# or text and Arrow parses it, instead of pymysql building a Python object per value.
_RAW_CONVERSIONS = {
    k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)
}

# Errors after which the same statement may well succeed: the connection dropped or could not
# be made, the server is shutting down or full, or it rolled the transaction back.
_TRANSIENT_CODES = frozenset(
    {
        CR.CR_CONN_HOST_ERROR,
        CR.CR_SERVER_GONE_ERROR,
        CR.CR_SERVER_LOST,
        ER.CON_COUNT_ERROR,
        ER.SERVER_SHUTDOWN,
        ER.LOCK_WAIT_TIMEOUT,
        ER.LOCK_DEADLOCK,
        1927,  # MariaDB: connection was killed
        4031,  # MySQL 8: disconnected by the server after being idle
    }
)

_INTEGER_KINDS = {
    # data type -> (kind when signed, kind when unsigned)
    "tinyint": (ColumnKind.SMALLINT, ColumnKind.SMALLINT),
    "smallint": (ColumnKind.SMALLINT, ColumnKind.INTEGER),
    "mediumint": (ColumnKind.INTEGER, ColumnKind.INTEGER),
    "int": (ColumnKind.INTEGER, ColumnKind.BIGINT),
    "integer": (ColumnKind.INTEGER, ColumnKind.BIGINT),
    "bigint": (ColumnKind.BIGINT, ColumnKind.DECIMAL),
}
_SIMPLE_KINDS = {
    "boolean": ColumnKind.BOOLEAN,
    "float": ColumnKind.DOUBLE,
    "double": ColumnKind.DOUBLE,
    "real": ColumnKind.DOUBLE,
    "datetime": ColumnKind.TIMESTAMP,
    "timestamp": ColumnKind.TIMESTAMP,
    "date": ColumnKind.DATE,
    "time": ColumnKind.TIME,
    "json": ColumnKind.JSON,
    "uuid": ColumnKind.UUID,
    "year": ColumnKind.SMALLINT,
}
TEXT_TYPES = frozenset(
    {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
)
"""MySQL data types read as TEXT as they are."""
BINARY_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})
"""MySQL data types read as TEXT in lower-case hex."""
SPATIAL_TYPES = frozenset(
    {
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
        "geomcollection",
    }
)
"""MySQL data types read as TEXT in well-known text (`ST_AsText`)."""
_BIT_WIDTH = re.compile(r"bit\((\d+)\)")


@dataclass(frozen=True, slots=True)
class MySQLParams:
    """Where one MySQL/MariaDB database is.

    Attributes:
        host: server host name or address.
        port: server port.
        user: the user to log in as.
        password: its password (empty for none); never shown.
        database: the database (MySQL's schema).
    """

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str

    def describe(self) -> str:
        """Name the database for messages, without the password: `host:port/database`."""
        return f"{self.host}:{self.port}/{self.database}"


def connect(
    params: MySQLParams,
    *,
    database: bool = True,
    streaming: bool = False,
    local_infile: bool = False,
) -> Any:
    """Open a connection with Weir's session settings (see the module docstring).

    Args:
        params: where to connect.
        database: select `params.database`; False connects without one (to create it).
        streaming: cursors are unbuffered (`SSCursor`) and values are not decoded (bytes or
            text as the server sends them).
        local_infile: allow `LOAD DATA LOCAL INFILE` from this client.

    Returns:
        A `pymysql.connections.Connection` outside autocommit.

    Raises:
        pymysql.MySQLError: the server cannot be reached or refuses the login.
    """
    return pymysql.connect(
        host=params.host,
        port=params.port,
        user=params.user,
        password=params.password,
        database=params.database if database else None,
        charset="utf8mb4",
        autocommit=False,
        local_infile=local_infile,
        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        init_command=SESSION_SQL,
        cursorclass=SSCursor if streaming else Cursor,
        conv=_RAW_CONVERSIONS if streaming else None,
    )


def is_transient(exc: BaseException) -> bool:
    """Whether retrying may help: the connection was lost or the server rolled back."""
    if isinstance(exc, pymysql.err.InterfaceError):
        return True  # the connection is closed
    code = exc.args[0] if isinstance(exc, pymysql.MySQLError) and exc.args else None
    return isinstance(code, int) and code in _TRANSIENT_CODES


def quote(name: str) -> str:
    """Quote an identifier with backticks."""
    return "`" + name.replace("`", "``") + "`"


def column_from_mysql(
    name: str,
    data_type: str,
    column_type: str,
    *,
    precision: int | None,
    scale: int | None,
    nullable: bool = True,
    is_json: bool = False,
) -> Column | None:
    """Map one column of `information_schema.COLUMNS` to a Column (see the source's table).

    Args:
        name: `COLUMN_NAME`.
        data_type: `DATA_TYPE`, e.g. `int`.
        column_type: `COLUMN_TYPE`, e.g. `int(10) unsigned`, `tinyint(1)`, `bit(1)`.
        precision: `NUMERIC_PRECISION` (decimals).
        scale: `NUMERIC_SCALE` (decimals).
        nullable: `IS_NULLABLE = 'YES'`.
        is_json: MariaDB's JSON alias (a `json_valid` check on the column).

    Returns:
        The column, or None for types without a kind of their own (binary, spatial, ...):
        the source reads those as TEXT, the destination leaves them as they are.
    """
    data_type, column_type = data_type.lower(), column_type.lower()
    if is_json:
        data_type = "json"
    if data_type in ("decimal", "numeric"):
        p, s = precision or 10, scale or 0
        if 0 < p <= 38:
            return Column(name, ColumnKind.DECIMAL, nullable, precision=p, scale=s)
        return Column(name, ColumnKind.NUMERIC, nullable)
    kind = _fixed_kind(data_type, column_type)
    if kind is ColumnKind.DECIMAL:  # bigint unsigned, bit(64): 20 digits
        return Column(name, kind, nullable, precision=20, scale=0)
    return None if kind is None else Column(name, kind, nullable)


def _fixed_kind(data_type: str, column_type: str) -> ColumnKind | None:
    """The kind of a type without precision and scale of its own (lower-case names)."""
    unsigned = "unsigned" in column_type
    if data_type == "tinyint" and column_type.startswith("tinyint(1)") and not unsigned:
        return ColumnKind.BOOLEAN
    if data_type in _INTEGER_KINDS:
        return _INTEGER_KINDS[data_type][1 if unsigned else 0]
    if data_type == "bit":
        width = _BIT_WIDTH.match(column_type)
        bits = int(width[1]) if width else 1
        if bits == 1:
            return ColumnKind.BOOLEAN
        return ColumnKind.BIGINT if bits < 64 else ColumnKind.DECIMAL
    if data_type in TEXT_TYPES:
        return ColumnKind.TEXT
    return _SIMPLE_KINDS.get(data_type)


def is_mariadb(conn: Any) -> bool:
    """Whether the server is MariaDB (its version string says so)."""
    return "mariadb" in str(conn.get_server_info()).lower()


def json_columns(conn: Any, database: str, tables: Collection[str] | None) -> set[tuple[str, str]]:
    """(table, column) of MariaDB's JSON columns (LONGTEXT checked by `json_valid`).

    On MySQL, whose JSON is a type of its own (`DATA_TYPE = 'json'`), this is empty.
    """
    if not is_mariadb(conn):
        return set()
    query = (
        "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA = %s AND CHECK_CLAUSE LIKE 'json\\_valid(%%'"
    )
    found: set[tuple[str, str]] = set()
    with conn.cursor(Cursor) as cursor:
        cursor.execute(query, (database,))
        for table, clause in cursor.fetchall():
            if tables is not None and table not in tables:
                continue
            match = re.fullmatch(r"json_valid\(`((?:[^`]|``)+)`\)", str(clause))
            if match:
                found.add((str(table), match[1].replace("``", "`")))
    return found
