"""The MySQL type mappings, both ways, and the error classification (no server needed)."""

import pymysql
import pytest

from weir.integration._mysql import column_from_mysql, is_transient, quote
from weir.integration.columns import Column, ColumnKind
from weir.integration.destinations.mysql import sql_type

K = ColumnKind


def mapped(data_type, column_type=None, precision=None, scale=None, is_json=False):
    return column_from_mysql(
        "c",
        data_type,
        column_type or data_type,
        precision=precision,
        scale=scale,
        is_json=is_json,
    )


@pytest.mark.parametrize(
    ("data_type", "column_type", "kind"),
    [
        ("tinyint", "tinyint(1)", K.BOOLEAN),
        ("tinyint", "tinyint(1) unsigned", K.SMALLINT),
        ("tinyint", "tinyint(4)", K.SMALLINT),
        ("tinyint", "tinyint(3) unsigned", K.SMALLINT),
        ("smallint", "smallint(6)", K.SMALLINT),
        ("smallint", "smallint(5) unsigned", K.INTEGER),
        ("mediumint", "mediumint(8) unsigned", K.INTEGER),
        ("int", "int(11)", K.INTEGER),
        ("INT", "INT(10) UNSIGNED", K.BIGINT),
        ("bigint", "bigint(20)", K.BIGINT),
        ("year", "year(4)", K.SMALLINT),
        ("bit", "bit(1)", K.BOOLEAN),
        ("bit", "bit(63)", K.BIGINT),
        ("float", "float", K.DOUBLE),
        ("double", "double", K.DOUBLE),
        ("varchar", "varchar(8)", K.TEXT),
        ("longtext", "longtext", K.TEXT),
        ("enum", "enum('a','b')", K.TEXT),
        ("set", "set('a','b')", K.TEXT),
        ("datetime", "datetime(6)", K.TIMESTAMP),
        ("timestamp", "timestamp", K.TIMESTAMP),
        ("date", "date", K.DATE),
        ("time", "time(3)", K.TIME),
        ("json", "json", K.JSON),
        ("uuid", "uuid", K.UUID),
    ],
)
def test_simple_types(data_type, column_type, kind):
    assert mapped(data_type, column_type) == Column("c", kind)


def test_exact_numbers_keep_their_digits():
    assert mapped("decimal", "decimal(12,2)", 12, 2) == Column("c", K.DECIMAL, True, 12, 2)
    assert mapped("decimal", "decimal(38,0)", 38, 0) == Column("c", K.DECIMAL, True, 38, 0)
    assert mapped("decimal", "decimal(65,30)", 65, 30) == Column("c", K.NUMERIC)
    unsigned = Column("c", K.DECIMAL, True, 20, 0)  # 2^64 - 1 has 20 digits
    assert mapped("bigint", "bigint(20) unsigned") == unsigned
    assert mapped("bit", "bit(64)") == unsigned


def test_mariadb_json_and_unknown_types():
    assert mapped("longtext", is_json=True) == Column("c", K.JSON)
    for other in ("varbinary", "blob", "point", "geometry", "inet6"):
        assert mapped(other) is None


def test_nullability_is_kept():
    column = column_from_mysql("c", "int", "int(11)", precision=10, scale=0, nullable=False)
    assert column == Column("c", K.INTEGER, nullable=False)


@pytest.mark.parametrize(
    ("column", "key", "expected"),
    [
        (Column("c", K.SMALLINT), False, "SMALLINT"),
        (Column("c", K.INTEGER), False, "INT"),
        (Column("c", K.BIGINT), False, "BIGINT"),
        (Column("c", K.DECIMAL, precision=12, scale=2), False, "DECIMAL(12,2)"),
        (Column("c", K.DECIMAL, precision=38, scale=35), False, "LONGTEXT"),
        (Column("c", K.NUMERIC), False, "LONGTEXT"),
        (Column("c", K.NUMERIC), True, "VARCHAR(255)"),
        (Column("c", K.DOUBLE), False, "DOUBLE"),
        (Column("c", K.BOOLEAN), False, "BOOLEAN"),
        (Column("c", K.TEXT), False, "LONGTEXT"),
        (Column("c", K.TEXT), True, "VARCHAR(255)"),
        (Column("c", K.TIMESTAMP), False, "DATETIME(6)"),
        (Column("c", K.DATE), False, "DATE"),
        (Column("c", K.TIME), False, "TIME(6)"),
        (Column("c", K.UUID), True, "CHAR(36)"),
        (Column("c", K.JSON), False, "JSON"),
    ],
)
def test_destination_types(column, key, expected):
    assert sql_type(column, key=key) == expected


@pytest.mark.parametrize(
    "kind", [k for k in K if k not in (K.DECIMAL, K.NUMERIC, K.UUID, K.BOOLEAN)]
)
def test_created_types_read_back_as_the_same_kind(kind):
    """What the destination creates, the type mapping reads as the kind it was made for, so
    the next sync finds nothing to change (BOOLEAN is tinyint(1); UUID reads as CHAR)."""
    created = sql_type(Column("c", kind)).lower()
    data_type = created.split("(")[0]
    assert mapped(data_type, created) == Column("c", kind)


def test_quote_doubles_backticks():
    assert quote("a`b") == "`a``b`"


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"), True),
        (pymysql.err.OperationalError(2003, "Can't connect"), True),
        (pymysql.err.OperationalError(1213, "Deadlock found"), True),
        (pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"), True),
        (pymysql.err.InterfaceError(0, ""), True),
        (pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax"), False),
        (pymysql.err.IntegrityError(1062, "Duplicate entry"), False),
        (pymysql.err.OperationalError(1045, "Access denied"), False),
        (ValueError("not a database error"), False),
    ],
)
def test_transient_errors(error, transient):
    assert is_transient(error) is transient
