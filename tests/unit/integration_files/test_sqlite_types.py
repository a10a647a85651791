"""SQLite's type affinity and the column kinds declared types map to (`sqlite_types`)."""

from __future__ import annotations

import pytest

from weir.integration import ColumnKind
from weir.integration.columns import Column
from weir.integration.sources.sqlite_types import affinity, sqlite_column


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("INTEGER", Column("c", ColumnKind.BIGINT)),
        ("TINYINT", Column("c", ColumnKind.BIGINT)),
        ("NVARCHAR(40)", Column("c", ColumnKind.TEXT)),
        ("CLOB", Column("c", ColumnKind.TEXT)),
        ("", Column("c", ColumnKind.TEXT)),
        ("BLOB", Column("c", ColumnKind.TEXT)),
        ("DOUBLE PRECISION", Column("c", ColumnKind.DOUBLE)),
        ("FLOAT", Column("c", ColumnKind.DOUBLE)),
        ("NUMERIC(10,2)", Column("c", ColumnKind.DECIMAL, precision=10, scale=2)),
        ("decimal(7)", Column("c", ColumnKind.DECIMAL, precision=7, scale=0)),
        ("DECIMAL(50,2)", Column("c", ColumnKind.NUMERIC)),
        ("NUMERIC", Column("c", ColumnKind.NUMERIC)),
        ("BOOLEAN", Column("c", ColumnKind.BOOLEAN)),
        ("DATETIME", Column("c", ColumnKind.TIMESTAMP)),
        ("timestamp", Column("c", ColumnKind.TIMESTAMP)),
        ("DATE", Column("c", ColumnKind.DATE)),
        ("TIME", Column("c", ColumnKind.TIME)),
        ("JSON", Column("c", ColumnKind.JSON)),
        ("MONEY", Column("c", ColumnKind.TEXT)),
        ("POINT", Column("c", ColumnKind.BIGINT)),  # contains INT: SQLite's own rule
    ],
)
def test_type_mapping_follows_sqlite_affinity(declared, expected):
    assert sqlite_column("c", declared) == expected


def test_affinity_rules_in_sqlite_order():
    assert affinity("CHARINT") == "INTEGER"  # rule 1 wins over rule 2
    assert affinity("FLOATING POINT") == "INTEGER"
    assert affinity("STRING") == "NUMERIC"
    assert affinity("BLOB") == "BLOB"
