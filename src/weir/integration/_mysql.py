"""What the MySQL/MariaDB connectors share: connecting, types, sorting errors, loading rows.

Every connection gets the same session: time zone UTC (`TIMESTAMP` values are exchanged as
UTC text, `DATETIME` values are taken as UTC), a fixed `sql_mode` (strict, and backslash escapes
on, which pymysql's escaping and Weir's `LOAD DATA` options rely on) and utf8mb4.

`column_from_mysql` maps an `information_schema.COLUMNS` row to a `Column`; the source module
documents the table. MariaDB's `JSON` is `LONGTEXT` with a `json_valid` check, so JSON columns
are found through `information_schema.CHECK_CONSTRAINTS` there (`json_columns`).

`Loader` puts Arrow batches into a table for the destination (`LOAD DATA LOCAL INFILE` from a
CSV file, or multi-row INSERTs) and checks that the server took every value.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pymysql
import pymysql.converters
from pymysql.constants import CR, ER
from pymysql.cursors import Cursor, SSCursor

from weir.integration.columns import Column, ColumnKind
from weir.integration.errors import DestinationError

__all__ = [
    "BINARY_TYPES",
    "SESSION_SQL",
    "SPATIAL_TYPES",
    "TEXT_TYPES",
    "LoadMethod",
    "Loader",
    "MySQLParams",
    "column_from_mysql",
    "connect",
    "is_mariadb",
    "is_transient",
    "json_columns",
    "quote",
    "sendable",
    "sql_rows",
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
_INSERT_STATEMENT_BYTES = 1 << 20
_DEPRECATED = 1287
# NULL unquoted; every string quoted, so the text "NULL" stays text (pyarrow-stubs lack null_string).
_CSV_OPTIONS = pa_csv.WriteOptions(  # type: ignore[call-arg]
    include_header=False, null_string="NULL", batch_size=4096
)
_LOAD_FORMAT = (
    "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
    "ESCAPED BY '' LINES TERMINATED BY '\\n'"
)


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


class LoadMethod(StrEnum):
    """How rows are sent to the server."""

    AUTO = "auto"
    """`LOAD_DATA` when the server's `local_infile` is on, else `INSERT`."""
    LOAD_DATA = "load_data"
    """`LOAD DATA LOCAL INFILE` from a CSV file written by pyarrow."""
    INSERT = "insert"
    """Multi-row `INSERT` statements of about 1 MB."""


class Loader:
    """Sends Arrow batches into a table: `LOAD DATA LOCAL INFILE` or multi-row INSERTs.

    Every load is checked: the server's row count must be the batch's and it must have raised
    no warning (with LOCAL, errors become warnings). A rejected batch raises DestinationError.
    """

    def __init__(self, conn: Any, method: LoadMethod, folder: Path, stream: str) -> None:
        self.conn, self.method, self.stream = conn, method, stream
        self.path = folder / "batch.csv"

    def load(
        self,
        table: str,
        columns: Sequence[Column],
        batch: pa.RecordBatch,
        extras: Mapping[str, str],
    ) -> None:
        """Insert `batch` into `table` (quoted), setting `extras` columns to SQL expressions."""
        arrays = [sendable(array) for array in batch.columns]
        names = [quote(c.name) for c in columns]
        if self.method is LoadMethod.LOAD_DATA:
            loaded = self._load_data(table, names, arrays, extras)
        else:
            loaded = self._insert(table, names, arrays, extras)
        self.check(loaded, batch.num_rows, table)

    def check(self, loaded: int | None, expected: int | None, table: str) -> None:
        """Raise DestinationError if the last statement raised warnings or missed rows.

        Deprecation warnings (1287, e.g. MySQL 8 on `VALUES()` in `ON DUPLICATE KEY UPDATE`)
        are not about the data and pass.
        """
        warnings = [w for w in self.conn.show_warnings() if w[1] != _DEPRECATED]
        if loaded == expected and not warnings:
            return
        said = "; ".join(f"{level} {code}: {text}" for level, code, text in warnings[:5])
        took = "" if expected is None else f"took {loaded} of {expected} rows of a batch; "
        raise DestinationError(
            f"MySQL rejected values written to {table}: {took}{said or 'no reason given'}. "
            "Nothing of the batch was kept; see the MySQL destination's type table for values "
            "MySQL cannot store",
            stream=self.stream,
        )

    def _load_data(
        self, table: str, names: list[str], arrays: list[pa.Array[Any]], extras: Mapping[str, str]
    ) -> int:
        pa_csv.write_csv(
            pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))]),
            str(self.path),
            _CSV_OPTIONS,
        )
        sets = ", ".join(f"{quote(name)} = {expr}" for name, expr in extras.items())
        statement = (
            f"LOAD DATA LOCAL INFILE {self.conn.escape(str(self.path))} INTO TABLE {table} "
            f"{_LOAD_FORMAT} ({', '.join(names)}){f' SET {sets}' if sets else ''}"
        )
        with self.conn.cursor() as cursor:
            return int(cursor.execute(statement))

    def _insert(
        self, table: str, names: list[str], arrays: list[pa.Array[Any]], extras: Mapping[str, str]
    ) -> int:
        head = f"INSERT INTO {table} ({', '.join([*names, *map(quote, extras)])}) VALUES "
        rows = sql_rows(arrays, list(extras.values()))
        loaded = 0
        parts: list[str] = []
        size = 0
        with self.conn.cursor() as cursor:
            for row in rows:
                parts.append(row)
                size += len(row)
                if size >= _INSERT_STATEMENT_BYTES:
                    loaded += int(cursor.execute(head + ", ".join(parts)))
                    parts, size = [], 0
            if parts:
                loaded += int(cursor.execute(head + ", ".join(parts)))
        return loaded


def sql_rows(arrays: Sequence[pa.Array[Any]], extras: Sequence[str]) -> list[str]:
    """Each row as an SQL tuple, `(1, "it's", NULL, <extras>)`, built by Arrow compute.

    Strings and temporal values become double-quoted literals with backslashes and quotes
    doubled: with the session's `sql_mode` (no ANSI_QUOTES, backslash escapes on) nothing can
    end a literal early. Numbers are Arrow's own text (an infinite double becomes `inf`, which
    the server refuses).
    """
    literals: list[Any] = [_sql_literals(array) for array in arrays]
    literals += [pa.scalar(expr) for expr in extras]
    joined = pc.binary_join_element_wise(*literals, ", ")
    return [f"({row})" for row in joined.to_pylist()]


def _sql_literals(array: pa.Array[Any]) -> pa.Array[Any]:
    ready = sendable(array)
    text = ready.cast(pa.string())
    kind = ready.type
    if pa.types.is_string(kind) or pa.types.is_temporal(kind):
        text = pc.replace_substring(text, "\\", "\\\\")
        text = pc.replace_substring(text, '"', '""')
        mark = pa.scalar('"')  # broadcast against the array (pyarrow-stubs only allow one kind)
        text = pc.binary_join_element_wise(mark, text, mark, "")  # type: ignore[call-overload]
    return text.fill_null("NULL")


def sendable(array: pa.Array[Any]) -> pa.Array[Any]:
    """An array as MySQL reads it: booleans as 0/1, timestamps as naive UTC."""
    if pa.types.is_boolean(array.type):
        return array.cast(pa.int8())
    if pa.types.is_timestamp(array.type) and array.type.tz is not None:
        return array.cast(pa.timestamp(array.type.unit))
    return array
