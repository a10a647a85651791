"""The MySQL source's SQL and parsing pieces, without a server (a fake cursor stands in)."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pyarrow as pa
import pytest

from weir.integration.columns import Column, ColumnKind
from weir.integration.errors import SourceError
from weir.integration.sources import mysql as source

K = ColumnKind


def live(name, data_type):
    return source._LiveColumn(name, data_type, data_type, True, None, None, False)


def test_keyset_condition_is_written_out_for_the_range_optimiser():
    assert source._after(["rk", "id"], ["5", "4"], inclusive=False) == (
        "((`rk` > 5) OR (`rk` = 5 AND `id` > 4))"
    )
    assert source._after(["rk", "a", "b"], ["1", "2", "3"], inclusive=False) == (
        "((`rk` > 1) OR (`rk` = 1 AND `a` > 2) OR (`rk` = 1 AND `a` = 2 AND `b` > 3))"
    )
    assert source._after(["rk"], ["'x'"], inclusive=True) == "`rk` >= 'x'"


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("2024-03-01T14:00:00.5+02:00", K.TIMESTAMP, datetime(2024, 3, 1, 12, 0, 0, 500000)),
        ("2024-03-01T12:00:00Z", K.TIMESTAMP, datetime(2024, 3, 1, 12)),
        ("2024-03-01 12:00:00", K.TIMESTAMP, datetime(2024, 3, 1, 12)),
        ("2024-03-01", K.DATE, date(2024, 3, 1)),
        ("23:59:59.5", K.TIME, time(23, 59, 59, 500000)),
        ("12.50", K.DECIMAL, Decimal("12.50")),
        ("1e400", K.NUMERIC, Decimal("1e400")),
        (True, K.BOOLEAN, 1),
        (7, K.BIGINT, 7),
        ("text", K.TEXT, "text"),
        ("not a date", K.TIMESTAMP, "not a date"),
    ],
)
def test_bookmark_values_become_sql_values(value, kind, expected):
    assert source._sql_value(value, kind) == expected


def test_csv_fields_quote_strings_and_convert_special_types():
    assert live("n", "int").csv_field(K.INTEGER) == "IFNULL(`n`, '')"
    text = live("s", "varchar").csv_field(K.TEXT)
    assert text == (
        """IFNULL(CONCAT('"', REPLACE(CONVERT(`s` USING utf8mb4), '"', '""'), '"'), '')"""
    )
    assert "LOWER(HEX(`b`))" in live("b", "blob").csv_field(K.TEXT)
    assert "ST_AsText(`p`)" in live("p", "point").csv_field(K.TEXT)
    assert live("f", "bit").csv_field(K.BOOLEAN) == "IFNULL(`f` + 0, '')"
    assert "MONTH(`d`) = 0" in live("d", "date").csv_field(K.DATE)


COLUMNS = [
    Column("id", K.BIGINT),
    Column("name", K.TEXT),
    Column("at", K.TIMESTAMP),
    Column("amount", K.DECIMAL, precision=12, scale=2),
]


def test_parser_reads_server_lines_into_typed_columns():
    parse = source._Parser(COLUMNS, "s")
    lines = [
        b'1,"a ""q"", b\nc",2024-03-01 12:00:00.123456,1.50',
        b'2,"",,',
        b"3,,2024-03-01 00:00:00,",
    ]
    batch = parse(lines)
    assert batch.schema == pa.schema([(c.name, c.arrow_type) for c in COLUMNS])
    assert batch.to_pylist() == [
        {
            "id": 1,
            "name": 'a "q", b\nc',
            "at": datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
            "amount": Decimal("1.50"),
        },
        {"id": 2, "name": "", "at": None, "amount": None},
        {"id": 3, "name": None, "at": datetime(2024, 3, 1, tzinfo=UTC), "amount": None},
    ]


def test_parser_keeps_empty_lines_of_a_single_null_column():
    parse = source._Parser([Column("v", K.INTEGER)], "s")
    assert parse([b"", b"1", b""]).column("v").to_pylist() == [None, 1, None]


def test_parser_names_the_column_of_a_bad_value():
    parse = source._Parser([Column("id", K.BIGINT), Column("flag", K.BOOLEAN)], "s")
    with pytest.raises(SourceError, match="stream 's': column 'flag'"):
        parse([b"1,5"])


class FakeCursor:
    def __init__(self, lines):
        self.rows = [(line,) for line in lines]
        self.asked = []

    def fetchmany(self, size):
        self.asked.append(size)
        taken, self.rows = self.rows[:size], self.rows[size:]
        return taken


def test_batches_hold_at_most_the_asked_rows():
    cursor = FakeCursor([str(i).encode() for i in range(11)])
    batches = list(source._batches(cursor, [Column("v", K.INTEGER)], 4, "s"))
    assert [b.num_rows for b in batches] == [4, 4, 3]
    assert max(cursor.asked) <= 4


def test_batches_are_cut_by_size(monkeypatch):
    monkeypatch.setattr(source, "MAX_BATCH_BYTES", 10)
    monkeypatch.setattr(source, "_FETCH_ROWS", 2)
    cursor = FakeCursor([b"1234"] * 7)
    batches = list(source._batches(cursor, [Column("v", K.INTEGER)], 100, "s"))
    assert [b.num_rows for b in batches] == [4, 3]


def test_a_row_over_the_packet_limit_fails():
    cursor = FakeCursor([b"1", None])
    with pytest.raises(SourceError, match="max_allowed_packet"):
        list(source._batches(cursor, [Column("v", K.INTEGER)], 100, "s"))
