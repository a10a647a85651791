"""One `SourceFixture` per source connector: it owns a table `items` in a real store.

A fixture creates the table `items(id bigint primary key, updated_at timestamp, name text,
amount decimal(12, 2), flag boolean)` holding given rows, inserts and updates rows, and adds a
nullable text column, each change committed (or the files rewritten) before it returns. It also
says how to build its `Source`, in this process or, through `make_source` and a JSON config, in
the resume test's child process.

Rows are dicts keyed by column name: `id` int, `updated_at` a naive datetime (UTC), `name` str,
`amount` a `Decimal` with two places, `flag` bool, and any added column str; each may be None
but `id`.

| fixture  | store                               | `items` as the store declares it             |
|----------|-------------------------------------|----------------------------------------------|
| postgres | a fresh PostgreSQL database, public | bigint, timestamp, text, numeric(12,2), bool |
| mysql    | a fresh MariaDB database            | bigint, datetime(6), text, decimal(12,2), boolean |
| sqlite   | a file in tmp_path                  | BIGINT, TIMESTAMP, TEXT, NUMERIC(12,2), BOOLEAN |
| duckdb   | a file in tmp_path                  | BIGINT, TIMESTAMP, VARCHAR, DECIMAL(12,2), BOOLEAN |
| csv      | two CSV files, rewritten per change | text: the source infers the types            |
| jsonl    | two JSON lines files, rewritten     | JSON values: the source infers the types     |
| parquet  | two Parquet files, rewritten        | int64, timestamp[us], string, decimal128(12,2), bool |

File fixtures split the rows over two files (a glob), so every sync unifies two files' schemas.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pymysql

from tests.services import MYSQL_HOST, MYSQL_PORT
from weir import integration
from weir.integration import Source

Row = dict[str, Any]

STREAM = "items"
COLUMNS = ("id", "updated_at", "name", "amount", "flag")


def make_source(kind: str, config: dict[str, Any]) -> Source:
    """Build a source from a fixture's `source_kind` and `config()` (also in a child process).

    Only that source's module is imported (`weir.integration` loads connectors on first use).
    """
    if kind == "postgres":
        return integration.PostgresSource(config["conninfo"], schema="public")
    if kind == "mysql":
        return integration.MySQLSource(**config)
    if kind == "sqlite":
        return integration.SQLiteSource(config["path"])
    if kind == "duckdb":
        return integration.DuckDBSource(config["path"])
    if kind == "files":
        return integration.FileSource({STREAM: config["glob"]})
    raise ValueError(f"unknown source kind {kind!r}")


class SourceFixture(ABC):
    """A source connector's store, holding the table `items` (see the module docstring).

    Attributes:
        name: the test id.
        source_kind: the `make_source` kind.
        discovered_keys: the key properties the source discovers for `items`.
        exact_decimals: whether `amount` is discovered as DECIMAL(12, 2); False where the
            format has no decimal type (CSV, JSON lines read it as a double).
    """

    name: ClassVar[str]
    source_kind: ClassVar[str]
    discovered_keys: ClassVar[tuple[str, ...]] = ("id",)
    exact_decimals: ClassVar[bool] = True

    def __init__(self) -> None:
        self.columns: list[str] = list(COLUMNS)

    @abstractmethod
    def create(self, rows: Sequence[Row]) -> None:
        """Create `items` holding `rows`."""

    @abstractmethod
    def insert(self, rows: Sequence[Row]) -> None:
        """Insert rows (with every current column)."""

    @abstractmethod
    def update(self, rows: Sequence[Row]) -> None:
        """Set every column of existing rows, matched on `id`, to the given values."""

    @abstractmethod
    def add_column(self, name: str) -> None:
        """Add a nullable text column, NULL in every existing row."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The JSON-able settings `make_source` builds this fixture's source from."""

    def source(self) -> Source:
        """A new source reading this fixture's store."""
        return make_source(self.source_kind, self.config())


# -- SQL databases ----------------------------------------------------------------------------
class _SqlFixture(SourceFixture):
    """A database fixture: the statements are the same, placeholders and types differ."""

    placeholder: ClassVar[str] = "%s"
    ddl: ClassVar[str]
    text_type: ClassVar[str] = "text"

    @abstractmethod
    def _run(self, statement: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        """Run a statement once, or once per parameter row, and commit."""

    def _value(self, value: Any) -> Any:
        return value

    def create(self, rows: Sequence[Row]) -> None:
        self._run(self.ddl)
        self.insert(rows)

    def insert(self, rows: Sequence[Row]) -> None:
        names = ", ".join(self.columns)
        marks = ", ".join([self.placeholder] * len(self.columns))
        params = [[self._value(r.get(c)) for c in self.columns] for r in rows]
        self._run(f"INSERT INTO items ({names}) VALUES ({marks})", params)

    def update(self, rows: Sequence[Row]) -> None:
        others = [c for c in self.columns if c != "id"]
        sets = ", ".join(f"{c} = {self.placeholder}" for c in others)
        params = [[*(self._value(r.get(c)) for c in others), r["id"]] for r in rows]
        self._run(f"UPDATE items SET {sets} WHERE id = {self.placeholder}", params)

    def add_column(self, name: str) -> None:
        self._run(f"ALTER TABLE items ADD COLUMN {name} {self.text_type}")
        self.columns.append(name)


class PostgresFixture(_SqlFixture):
    name = "postgres"
    source_kind = "postgres"
    ddl = (
        "CREATE TABLE items (id bigint PRIMARY KEY, updated_at timestamp, name text, "
        "amount numeric(12, 2), flag boolean)"
    )

    def __init__(self, database: str) -> None:
        super().__init__()
        self.conninfo = f"postgresql://postgres@127.0.0.1:5432/{database}"

    def _run(self, statement: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        with psycopg.connect(self.conninfo) as conn, conn.cursor() as cursor:
            if rows:
                cursor.executemany(statement, rows)
            else:
                cursor.execute(statement)

    def config(self) -> dict[str, Any]:
        return {"conninfo": self.conninfo}


class MySQLFixture(_SqlFixture):
    name = "mysql"
    source_kind = "mysql"
    ddl = (
        "CREATE TABLE items (id bigint PRIMARY KEY, updated_at datetime(6), name text, "
        "amount decimal(12, 2), flag boolean) CHARACTER SET utf8mb4"
    )

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database

    def _run(self, statement: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        conn = pymysql.connect(
            host=MYSQL_HOST,
            port=MYSQL_PORT,
            user="root",
            password="",
            database=self.database,
            charset="utf8mb4",
            init_command="SET time_zone = '+00:00'",
        )
        try:
            with conn.cursor() as cursor:
                if rows:
                    cursor.executemany(statement, rows)
                else:
                    cursor.execute(statement)
            conn.commit()
        finally:
            conn.close()

    def config(self) -> dict[str, Any]:
        return {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": "root", "database": self.database}


class SQLiteFixture(_SqlFixture):
    name = "sqlite"
    source_kind = "sqlite"
    placeholder = "?"
    ddl = (
        "CREATE TABLE items (id BIGINT PRIMARY KEY, updated_at TIMESTAMP, name TEXT, "
        "amount NUMERIC(12, 2), flag BOOLEAN)"
    )
    text_type = "TEXT"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.path = folder / "source.sqlite"

    def _value(self, value: Any) -> Any:
        # What applications store: ISO text for timestamps, the decimal's text (NUMERIC affinity
        # keeps it as a number), 0/1 for booleans.
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, Decimal):
            return str(value)
        return value

    def _run(self, statement: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            if rows:
                conn.executemany(statement, rows)
            else:
                conn.execute(statement)

    def config(self) -> dict[str, Any]:
        return {"path": str(self.path)}


class DuckDBFixture(_SqlFixture):
    name = "duckdb"
    source_kind = "duckdb"
    placeholder = "?"
    ddl = (
        "CREATE TABLE items (id BIGINT PRIMARY KEY, updated_at TIMESTAMP, name VARCHAR, "
        "amount DECIMAL(12, 2), flag BOOLEAN)"
    )
    text_type = "VARCHAR"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.path = folder / "source.duckdb"

    def insert(self, rows: Sequence[Row]) -> None:
        # Through Arrow: DuckDB's executemany runs one statement per row.
        fresh = arrow_table(rows, self.columns)
        with closing(duckdb.connect(str(self.path))) as conn:
            conn.register("fresh", fresh)
            conn.execute("INSERT INTO items BY NAME SELECT * FROM fresh")

    def _run(self, statement: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        with closing(duckdb.connect(str(self.path))) as conn:
            if rows:
                conn.executemany(statement, [list(r) for r in rows])
            else:
                conn.execute(statement)

    def config(self) -> dict[str, Any]:
        return {"path": str(self.path)}


# -- files --------------------------------------------------------------------------------------
def arrow_table(rows: Sequence[Row], columns: Sequence[str]) -> pa.Table:
    """The rows as an Arrow table typed as the store declares `items` (extra columns text)."""
    types = {
        "id": pa.int64(),
        "updated_at": pa.timestamp("us"),
        "name": pa.string(),
        "amount": pa.decimal128(12, 2),
        "flag": pa.bool_(),
    }
    return pa.table(
        {c: pa.array([r.get(c) for r in rows], types.get(c, pa.string())) for c in columns}
    )


class FileFixture(SourceFixture):
    """`items` as two files of one format, rewritten whole on every change."""

    source_kind = "files"
    discovered_keys = ()
    extension: ClassVar[str]

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder / "items"
        self.folder.mkdir()
        self.rows: dict[int, Row] = {}

    def create(self, rows: Sequence[Row]) -> None:
        self.rows = {}
        self.insert(rows)

    def insert(self, rows: Sequence[Row]) -> None:
        with self._rewriting():
            for row in rows:
                assert row["id"] not in self.rows, f"id {row['id']} exists"
                self.rows[row["id"]] = dict(row)

    def update(self, rows: Sequence[Row]) -> None:
        with self._rewriting():
            for row in rows:
                assert row["id"] in self.rows, f"no row with id {row['id']}"
                self.rows[row["id"]] = dict(row)

    def add_column(self, name: str) -> None:
        with self._rewriting():
            self.columns.append(name)

    def config(self) -> dict[str, Any]:
        return {"glob": str(self.folder / f"*.{self.extension}")}

    @contextmanager
    def _rewriting(self) -> Iterator[None]:
        yield
        rows = list(self.rows.values())
        for part in range(2):
            chunk = [{c: r.get(c) for c in self.columns} for r in rows[part::2]]
            self._write(self.folder / f"part-{part}.{self.extension}", chunk)

    @abstractmethod
    def _write(self, path: Path, rows: Sequence[Row]) -> None:
        """Write the rows to one file (every current column, in `self.columns` order)."""


class CsvFixture(FileFixture):
    name = "csv"
    extension = "csv"
    exact_decimals = False

    def _write(self, path: Path, rows: Sequence[Row]) -> None:
        lines = [",".join(self.columns)]
        lines += [",".join(_csv_field(r[c]) for c in self.columns) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _csv_field(value: Any) -> str:
    """NULL as an unquoted empty field, text always quoted (so '' stays an empty string)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return str(value)


class JsonLinesFixture(FileFixture):
    name = "jsonl"
    extension = "jsonl"
    exact_decimals = False

    def _write(self, path: Path, rows: Sequence[Row]) -> None:
        lines = [json.dumps({c: _json_value(r[c]) for c in self.columns}) for r in rows]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _json_value(value: Any) -> Any:
    """A value as JSON tools write it: timestamps in ISO 8601, decimals as numbers."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class ParquetFixture(FileFixture):
    name = "parquet"
    extension = "parquet"

    def _write(self, path: Path, rows: Sequence[Row]) -> None:
        pq.write_table(arrow_table(rows, self.columns), path)


SERVER_FIXTURES: dict[str, tuple[str, Callable[[str], SourceFixture]]] = {
    PostgresFixture.name: ("postgres_database", PostgresFixture),
    MySQLFixture.name: ("mysql_database", MySQLFixture),
}
"""Fixtures on a server: test id -> (the `tests/services.py` fixture naming a fresh database,
the fixture's class)."""

FIXTURES: dict[str, Callable[[Path], SourceFixture]] = {
    f.name: f for f in (SQLiteFixture, DuckDBFixture, CsvFixture, JsonLinesFixture, ParquetFixture)
}
"""Fixtures in a local folder: test id -> the fixture's class."""

ALL_FIXTURES = [*SERVER_FIXTURES, *FIXTURES]
"""Every fixture's test id, in test order."""
