"""Binary COPY encoding: every supported kind and edge value survives a round trip."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pyarrow as pa
import pytest
from psycopg import sql

from weir.integration.columns import Column, ColumnKind, arrow_schema
from weir.integration.destinations._pg_binary import (
    HEADER,
    TRAILER,
    binary_supported,
    encode_batch,
)
from weir.integration.destinations.postgres import sql_type

K = ColumnKind
COLUMNS = (
    Column("i2", K.SMALLINT),
    Column("i4", K.INTEGER),
    Column("i8", K.BIGINT),
    Column("d12_2", K.DECIMAL, precision=12, scale=2),
    Column("d18_0", K.DECIMAL, precision=18, scale=0),
    Column("d9_5", K.DECIMAL, precision=9, scale=5),
    Column("d4_4", K.DECIMAL, precision=4, scale=4),
    Column("f8", K.DOUBLE),
    Column("b", K.BOOLEAN),
    Column("t", K.TEXT),
    Column("ts", K.TIMESTAMP),
    Column("day", K.DATE),
    Column("clock", K.TIME),
    Column("doc", K.JSON),
)
ROWS = [
    {
        "i2": -32768, "i4": 2147483647, "i8": -9223372036854775808,
        "d12_2": Decimal("-9999999999.99"), "d18_0": Decimal("999999999999999999"),
        "d9_5": Decimal("1234.56789"), "d4_4": Decimal("0.0001"), "f8": -1.5e-300, "b": True,
        "t": "ünïcode ✓, \"quotes\"\nnewline\ttab \\ backslash",
        "ts": datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "day": date(1970, 1, 1), "clock": time(0, 0), "doc": '{"a": [1, {"b": null}]}',
    },
    {
        "i2": 0, "i4": 0, "i8": 0, "d12_2": Decimal("0.00"), "d18_0": Decimal("0"),
        "d9_5": Decimal("-0.00001"), "d4_4": Decimal("-0.9999"), "f8": float("inf"), "b": False,
        "t": "", "ts": datetime(2000, 1, 1, tzinfo=UTC), "day": date(2000, 1, 1),
        "clock": time(23, 59, 59, 999999), "doc": "[]",
    },
    dict.fromkeys(c.name for c in COLUMNS),
    {
        "i2": 7, "i4": -7, "i8": 10**15, "d12_2": Decimal("10000.01"),
        "d18_0": Decimal("-123456789012345678"), "d9_5": Decimal("9999.99999"),
        "d4_4": Decimal("0.5000"), "f8": 0.1, "b": None, "t": "x" * 5000,
        "ts": datetime(2262, 4, 11, 23, 47, 16, tzinfo=UTC), "day": date(1, 1, 1),
        "clock": None, "doc": '"just a string"',
    },
]  # fmt: skip


@pytest.mark.parametrize("slice_from", [0, 1], ids=["whole", "sliced"])
def test_binary_copy_round_trips_every_supported_kind(pg, slice_from):
    assert binary_supported(COLUMNS)
    batch = pa.RecordBatch.from_pylist(ROWS, schema=arrow_schema(COLUMNS)).slice(slice_from)
    defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(sql_type(c))) for c in COLUMNS
    )
    pg.execute(sql.SQL("CREATE TABLE app.binary_copy (n serial, {})").format(defs))
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in COLUMNS)
    with (
        pg.cursor() as cur,
        cur.copy(
            sql.SQL("COPY app.binary_copy ({}) FROM STDIN (FORMAT binary)").format(names)
        ) as copy,
    ):
        copy.write(HEADER)
        copy.write(encode_batch(batch, COLUMNS))
        copy.write(TRAILER)
    cur = pg.execute(sql.SQL("SELECT {} FROM app.binary_copy ORDER BY n").format(names))
    stored = [dict(zip([c.name for c in COLUMNS], row, strict=True)) for row in cur.fetchall()]
    for row in stored:
        row["doc"] = None if row["doc"] is None else json.dumps(row["doc"])
    expected = [
        {**row, "doc": None if row["doc"] is None else json.dumps(json.loads(row["doc"]))}
        for row in ROWS[slice_from:]
    ]
    assert stored == expected


@pytest.mark.parametrize(
    "column",
    [
        Column("n", K.NUMERIC),
        Column("u", K.UUID),
        Column("d", K.DECIMAL, precision=19, scale=2),
        Column("d", K.DECIMAL, precision=18, scale=17),
    ],
    ids=str,
)
def test_kinds_without_an_encoder_fall_back(column):
    assert not binary_supported((Column("id", K.BIGINT), column))
