"""The suite's shared parts: catalogs, the DuckDB warehouse, row comparison, test data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from weir.integration import (
    Catalog,
    DuckDBDestination,
    ReplicationMethod,
    Source,
    UniqueConflictMethod,
)

from .fixtures import STREAM, Row

WAREHOUSE_SCHEMA = "raw"


# -- catalogs and the destination ---------------------------------------------------------------
def full_table_catalog(source: Source) -> Catalog:
    """`items` selected, FULL_TABLE, keyed on id."""
    catalog = source.discover(streams=[STREAM]).with_selected([STREAM])
    entry = replace(
        catalog.get(STREAM),
        replication_method=ReplicationMethod.FULL_TABLE,
        key_properties=("id",),
    )
    return catalog.replace_entry(entry)


def incremental_catalog(source: Source) -> Catalog:
    """`items` selected, INCREMENTAL on updated_at, upserted on id (Mage's UPDATE).

    The key is set explicitly: files have no primary key to discover.
    """
    catalog = source.discover(streams=[STREAM]).with_selected([STREAM])
    entry = replace(
        catalog.get(STREAM),
        replication_method=ReplicationMethod.INCREMENTAL,
        replication_key="updated_at",
        key_properties=("id",),
        unique_conflict_method=UniqueConflictMethod.UPDATE,
    )
    return catalog.replace_entry(entry)


def warehouse(path: Path) -> DuckDBDestination:
    """The destination every sync of the suite writes to."""
    return DuckDBDestination(path, schema=WAREHOUSE_SCHEMA)


def warehouse_rows(path: Path) -> list[Row]:
    """Every row of the warehouse's `items`, every column (through Arrow)."""
    with closing(duckdb.connect(str(path), read_only=True)) as conn:
        table = conn.sql(f"SELECT * FROM {WAREHOUSE_SCHEMA}.{STREAM}").to_arrow_table()
    rows: list[Row] = table.to_pylist()
    return rows


def warehouse_columns(path: Path) -> dict[str, str]:
    """Column name -> DuckDB type of the warehouse's `items`."""
    with closing(duckdb.connect(str(path), read_only=True)) as conn:
        found = conn.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = ? AND table_name = ?",
            [WAREHOUSE_SCHEMA, STREAM],
        ).fetchall()
    return {str(name): str(kind) for name, kind in found}


# -- comparing rows -----------------------------------------------------------------------------
def _typed(value: Any) -> tuple[str, Any]:
    """A value with its type, so True never equals 1, nor Decimal 2 the int 2.

    Timestamps compare as UTC instants (naive ones are UTC); doubles as the decimal of their
    shortest repr (a CSV's 12.5 equals the model's Decimal('12.50'), 12.499999 does not).
    """
    if isinstance(value, datetime):
        instant = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return "datetime", instant
    if isinstance(value, float):
        return "Decimal", Decimal(repr(value))
    return type(value).__name__, value


def normalised(rows: Iterable[Row], columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows' `columns` as typed values, in id order."""
    out = [{c: _typed(r.get(c)) for c in columns} for r in rows]
    return sorted(out, key=lambda r: r["id"][1])


def assert_same_rows(found: Iterable[Row], expected: Iterable[Row], columns: Sequence[str]) -> None:
    """Assert two row sets are equal, naming the first differing ids and no duplicate ids."""
    got, want = normalised(found, columns), normalised(expected, columns)
    ids = [r["id"][1] for r in got]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"ids written more than once: {duplicates}"
    by_id = {r["id"][1]: r for r in got}
    wrong = [(r["id"][1], by_id.get(r["id"][1]), r) for r in want if by_id.get(r["id"][1]) != r]
    assert not wrong, f"{len(wrong)} rows differ or are missing (id, found, expected): {wrong[:3]}"
    extra = sorted(set(by_id) - {r["id"][1] for r in want})
    assert not extra, f"ids the source does not have: {extra}"


# -- test data ----------------------------------------------------------------------------------
_NAMES = [
    "plain",
    "",
    None,
    'it\'s "quoted", with a comma',
    "ünïcødé ✓ 日本語 🚀",
    "two\nlines\r\nand a CR",
    "  padded  ",
    "back\\slash",
    "NULL",
    "\\N",
    "tab\there;semi",
    "x" * 300,
]
_STAMPS = [
    datetime(2024, 2, 29, 23, 59, 59, 999999),
    datetime(1970, 1, 1),
    datetime(2038, 1, 19, 3, 14, 8),
    datetime(1969, 7, 20, 20, 17, 40, 500000),
    None,
    datetime(1999, 12, 31, 23, 59, 59, 1),
]
_AMOUNTS = [
    Decimal("0.00"),
    Decimal("-1234.56"),
    Decimal("9999999999.99"),
    Decimal("0.01"),
    None,
    Decimal("-0.10"),
    Decimal("-9999999999.99"),
]
_IDS = [-7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2**53 + 1]


def edge_rows() -> list[Row]:
    """12 rows of awkward values: NULLs, empty and quoted text, extreme decimals and dates.

    The id 2**53 + 1 catches a key passed through a double; ids are stored out of order.
    """
    rows = [
        {
            "id": id_,
            "updated_at": _STAMPS[i % len(_STAMPS)],
            "name": _NAMES[i],
            "amount": _AMOUNTS[i % len(_AMOUNTS)],
            "flag": (True, False, None)[i % 3],
        }
        for i, id_ in enumerate(_IDS)
    ]
    return rows[::-1]


TIE = datetime(2024, 5, 1, 12, 0, 0, 123456)
"""The updated_at value 30 rows share in the incremental test."""


def tied_rows(count: int = 30) -> list[Row]:
    """`count` rows sharing `TIE`, ids 1..count stored in descending order."""
    return [
        {
            "id": i,
            "updated_at": TIE,
            "name": f"item {i}",
            "amount": Decimal(i * 101) / 100,
            "flag": i % 2 == 0,
        }
        for i in range(count, 0, -1)
    ]


def later(row: Row, hours: int, **changes: Any) -> Row:
    """The row moved `hours` after `TIE`, with other columns changed."""
    return {**row, "updated_at": TIE + timedelta(hours=hours), **changes}


def many_rows(count: int, per_value: int) -> list[Row]:
    """`count` rows, `per_value` of them sharing each updated_at value, ids stored descending."""
    return [
        {
            "id": i,
            "updated_at": TIE + timedelta(seconds=i // per_value),
            "name": f"row {i}",
            "amount": Decimal(i) / 4,
            "flag": i % 3 == 0,
        }
        for i in range(count, 0, -1)
    ]
