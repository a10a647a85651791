"""Singer RECORD values to Arrow (`weir.integration.sources.singer_records`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from datetime import time as time_of_day
from decimal import Decimal

import pytest

from weir.integration import Column, ColumnKind, SourceError
from weir.integration.sources.singer_records import records_to_batch

# -- values ------------------------------------------------------------------------------------
COLUMNS = (
    Column("small", ColumnKind.SMALLINT),
    Column("big", ColumnKind.BIGINT),
    Column("dec", ColumnKind.DECIMAL, precision=12, scale=2),
    Column("num", ColumnKind.NUMERIC),
    Column("dbl", ColumnKind.DOUBLE),
    Column("flag", ColumnKind.BOOLEAN),
    Column("txt", ColumnKind.TEXT),
    Column("at", ColumnKind.TIMESTAMP),
    Column("day", ColumnKind.DATE),
    Column("clock", ColumnKind.TIME),
    Column("uid", ColumnKind.UUID),
    Column("doc", ColumnKind.JSON),
)


def test_usual_values_convert_to_the_column_types():
    record_ = {
        "small": 7, "big": 2**62, "dec": 10.05, "num": "123456789012345678901234567890.5",
        "dbl": 0.125, "flag": True, "txt": "héllo", "at": "2024-02-29T23:01:00.123456+02:00",
        "day": "2024-01-02", "clock": "12:34:56.5", "uid": "0000-1", "doc": {"a": [1, None]},
    }  # fmt: skip
    batch = records_to_batch([record_, {}], COLUMNS, stream="s")
    first, empty = batch.to_pylist()
    assert first == {
        "small": 7, "big": 2**62, "dec": Decimal("10.05"),
        "num": "123456789012345678901234567890.5", "dbl": 0.125, "flag": True, "txt": "héllo",
        "at": datetime(2024, 2, 29, 21, 1, 0, 123456, tzinfo=UTC), "day": date(2024, 1, 2),
        "clock": time_of_day(12, 34, 56, 500000), "uid": "0000-1", "doc": '{"a":[1,null]}',
    }  # fmt: skip
    assert set(empty.values()) == {None}


def test_unusual_values_are_converted_one_by_one():
    record_ = {
        "small": 7.0, "big": "12", "dec": 0.1 + 0.2, "num": 12.5, "dbl": "1e3", "flag": "f",
        "txt": 5, "at": "2024-02-29 23:01:00", "day": "2024-01-02T00:00:00+00:00",
        "clock": "12:34:56+02:00", "uid": 1, "doc": "plain",
    }  # fmt: skip
    [got] = records_to_batch([record_], COLUMNS, stream="s").to_pylist()
    assert got == {
        "small": 7, "big": 12, "dec": Decimal("0.30"), "num": "12.5", "dbl": 1000.0,
        "flag": False, "txt": "5", "at": datetime(2024, 2, 29, 23, 1, tzinfo=UTC),
        "day": date(2024, 1, 2), "clock": time_of_day(12, 34, 56), "uid": "1", "doc": '"plain"',
    }  # fmt: skip


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (Column("n", ColumnKind.INTEGER), 1.5),
        (Column("n", ColumnKind.SMALLINT), 70000),
        (Column("n", ColumnKind.BIGINT), True),
        (Column("n", ColumnKind.DECIMAL, precision=4, scale=2), 123.4),
        (Column("n", ColumnKind.TIMESTAMP), "yesterday"),
        (Column("n", ColumnKind.BOOLEAN), "maybe"),
    ],
)
def test_a_value_that_does_not_fit_names_the_stream_and_column(column, value):
    with pytest.raises(SourceError, match=r"stream 'users': column 'n' is \w+ but the tap sent"):
        records_to_batch([{"n": value}], (column,), stream="users")
