"""The MySQL destination's statements, CSV and load checks, without a server (fakes stand in)."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pymysql
import pytest

from weir.integration import _mysql
from weir.integration.base import TableSpec, WriteDisposition
from weir.integration.columns import Column, ColumnKind
from weir.integration.destinations import mysql as destination
from weir.integration.errors import DestinationError
from weir.integration.schema_change import TableChange

K = ColumnKind
COLUMNS = (Column("id", K.BIGINT), Column("name", K.TEXT), Column("v", K.INTEGER))


def spec(disposition, keys=("id",)):
    return TableSpec("s", "t", COLUMNS, keys, disposition, "sid")


def test_csv_for_load_data():
    """NULL is the bare word, every string is quoted (so "NULL" and "" stay text), booleans
    are 0/1 and timestamps naive UTC, as `LOAD DATA ... ESCAPED BY ''` reads them."""
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(["NULL", "", None, 'a "b",\nc']),
            pa.array([True, False, None, True]),
            pa.array(
                [datetime(2024, 3, 1, 12, 0, 0, 5, tzinfo=UTC), None, None, None],
                pa.timestamp("us", tz="UTC"),
            ),
            pa.array([Decimal("1.50"), None, None, Decimal("-2.00")], pa.decimal128(5, 2)),
        ],
        names=["s", "b", "t", "d"],
    )
    arrays = [_mysql.sendable(a) for a in batch.columns]
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(
        pa.Table.from_arrays(arrays, names=batch.schema.names), sink, _mysql._CSV_OPTIONS
    )
    assert sink.getvalue().to_pybytes().decode() == (
        '"NULL",1,2024-03-01 12:00:00.000005,1.50\n'
        '"",0,NULL,NULL\n'
        "NULL,NULL,NULL,NULL\n"
        '"a ""b"",\nc",1,NULL,-2.00\n'
    )


def test_upsert_statement_updates_every_other_column_last_row_winning():
    statement = destination._merge_statement("`t`", "`b`", spec(WriteDisposition.MERGE_UPDATE))
    assert statement == (
        "INSERT INTO `t` (`id`, `name`, `v`, `_weir_synced_at`) SELECT `id`, `name`, `v`, "
        "UTC_TIMESTAMP(6) FROM `b` ORDER BY `_weir_ord` ASC ON DUPLICATE KEY UPDATE "
        "`name` = VALUES(`name`), `v` = VALUES(`v`), "
        "`_weir_synced_at` = VALUES(`_weir_synced_at`)"
    )


def test_ignore_statement_keeps_existing_rows_and_the_batch_last_row():
    statement = destination._merge_statement("`t`", "`b`", spec(WriteDisposition.MERGE_IGNORE))
    assert statement.endswith(
        "ORDER BY `_weir_ord` DESC ON DUPLICATE KEY UPDATE `t`.`id` = `t`.`id`"
    )
    assert "IGNORE" not in statement  # INSERT IGNORE would also hide bad values


def test_side_tables_fit_mysql_names_and_differ_per_table():
    long = "x" * 64
    stage = destination._side_table(long, "stage")
    assert len(stage) == 64
    assert stage.startswith("_weir_stage_")
    assert destination._side_table(long[:-1] + "y", "stage") != stage
    assert destination._side_table("t", "old") != destination._side_table("t", "stage")


def test_alter_clauses_add_widen_and_make_text_keys_indexable():
    change = TableChange(
        add=(Column("new", K.TEXT),), widen=(Column("v", K.BIGINT), Column("w", K.BIGINT))
    )
    types = {"v": ("int", False), "w": ("int", True), "code": ("longtext", True)}
    assert destination._alter_clauses(change, types, ("code",)) == [
        "ADD COLUMN `new` LONGTEXT",
        "MODIFY COLUMN `v` BIGINT NOT NULL",
        "MODIFY COLUMN `w` BIGINT",
        "MODIFY COLUMN `code` VARCHAR(255)",
    ]


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, statement, args=None):
        self.conn.statements.append(statement)
        if self.conn.affected:
            return self.conn.affected.pop(0)
        return statement.count("), (") + 1  # rows of a multi-row INSERT

    def fetchone(self):
        return self.conn.row


class FakeConnection:
    def __init__(self, warnings=(), affected=(), row=None):
        self.statements = []
        self.warnings = list(warnings)
        self.affected = list(affected)
        self.row = row

    def cursor(self, *args):
        return FakeCursor(self)

    def escape(self, value):
        return pymysql.converters.escape_item(value, "utf8mb4")

    def show_warnings(self):
        return tuple(self.warnings)


def rows_batch(count):
    return pa.RecordBatch.from_arrays(
        [
            pa.array(range(count), pa.int64()),
            pa.array(["it's"] * count),
            pa.array([None] * count, pa.int32()),
        ],
        names=["id", "name", "v"],
    )


def test_insert_fallback_sends_escaped_multi_row_statements(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(_mysql, "_INSERT_STATEMENT_BYTES", 100)
    conn = FakeConnection()
    loader = _mysql.Loader(conn, _mysql.LoadMethod.INSERT, tmp_path, "s")
    loader.load("`t`", COLUMNS, rows_batch(10), {"_weir_synced_at": "UTC_TIMESTAMP(6)"})
    # About 37 bytes a row: a statement is flushed once it passes 100 bytes.
    assert [s.count("), (") + 1 for s in conn.statements] == [3, 3, 3, 1]
    assert conn.statements[0].startswith(
        "INSERT INTO `t` (`id`, `name`, `v`, `_weir_synced_at`) VALUES "
        '(0, "it\'s", NULL, UTC_TIMESTAMP(6)), (1, '
    )


def test_insert_literals_cannot_end_early():
    """Quotes and backslashes are doubled inside double-quoted literals; temporal values are
    quoted text; NULL is the keyword; booleans are 0/1."""
    arrays = [
        pa.array(['a"b', "c\\", "it's", None]),
        pa.array([True, None, False, True]),
        pa.array(
            [datetime(2024, 3, 1, 12, tzinfo=UTC), None, None, None], pa.timestamp("us", "UTC")
        ),
        pa.array([Decimal("1.50"), None, None, None], pa.decimal128(5, 2)),
    ]
    assert _mysql.sql_rows(arrays, ["NOW()"]) == [
        '("a""b", 1, "2024-03-01 12:00:00.000000", 1.50, NOW())',
        '("c\\\\", NULL, NULL, NULL, NOW())',
        '("it\'s", 0, NULL, NULL, NOW())',
        "(NULL, 1, NULL, NULL, NOW())",
    ]


def test_load_data_statement_and_file(tmp_path: Path):
    conn = FakeConnection(affected=[3])
    loader = _mysql.Loader(conn, _mysql.LoadMethod.LOAD_DATA, tmp_path, "s")
    loader.load("`t`", COLUMNS, rows_batch(3), {"_weir_table_version": "7"})
    [statement] = conn.statements
    assert statement.startswith(f"LOAD DATA LOCAL INFILE '{tmp_path}/batch.csv' INTO TABLE `t` ")
    assert statement.endswith("(`id`, `name`, `v`) SET `_weir_table_version` = 7")
    assert "ESCAPED BY ''" in statement
    assert (
        tmp_path / "batch.csv"
    ).read_text() == '0,"it\'s",NULL\n1,"it\'s",NULL\n2,"it\'s",NULL\n'


@pytest.mark.parametrize(
    ("warnings", "affected"),
    [
        ([("Warning", 1265, "Data truncated for column 'name' at row 2")], 3),
        ([("Note", 1265, "Data truncated for column 'v' at row 1")], 3),
        ([("Warning", 1062, "Duplicate entry '1' for key 'PRIMARY'")], 2),
        ([], 2),
    ],
)
def test_a_load_with_warnings_or_missing_rows_is_rejected(tmp_path: Path, warnings, affected):
    conn = FakeConnection(warnings=warnings, affected=[affected])
    loader = _mysql.Loader(conn, _mysql.LoadMethod.LOAD_DATA, tmp_path, "s")
    with pytest.raises(DestinationError, match="stream 's': MySQL rejected values") as caught:
        loader.load("`t`", COLUMNS, rows_batch(3), {})
    if warnings:
        assert warnings[0][2] in str(caught.value)
    assert not caught.value.retriable


def test_deprecation_warnings_pass(tmp_path: Path):
    conn = FakeConnection(warnings=[("Warning", 1287, "'VALUES function' is deprecated")])
    loader = _mysql.Loader(conn, _mysql.LoadMethod.LOAD_DATA, tmp_path, "s")
    loader.check(None, None, "`t`")


@pytest.mark.parametrize(
    ("setting", "server", "expected"),
    [
        ("auto", 1, _mysql.LoadMethod.LOAD_DATA),
        ("auto", 0, _mysql.LoadMethod.INSERT),
        ("insert", 1, _mysql.LoadMethod.INSERT),
        ("load_data", 0, _mysql.LoadMethod.LOAD_DATA),
    ],
)
def test_load_method_follows_the_server_local_infile_when_auto(setting, server, expected):
    sink = destination.MySQLDestination(host="h", user="u", database="d", load_method=setting)
    assert sink._method(FakeConnection(row=(server,))) is expected


def test_repr_hides_the_password():
    sink = destination.MySQLDestination(host="h", user="u", password="secret", database="d")
    assert "secret" not in repr(sink)
    assert repr(sink) == "MySQLDestination('h:3306/d')"
