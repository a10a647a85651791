import pyarrow as pa
import pytest

from weir.integration.columns import (
    Column,
    ColumnKind,
    arrow_schema,
    columns_from_json_schema,
    widen,
)
from weir.integration.errors import SchemaChangeError
from weir.integration.schema_change import plan_table_change

K = ColumnKind


def dec(name, precision, scale):
    return Column(name, K.DECIMAL, precision=precision, scale=scale)


@pytest.mark.parametrize(
    "column",
    [Column("c", kind, nullable=n) for kind in K if kind is not K.DECIMAL for n in (True, False)]
    + [dec("c", 12, 2), dec("c", 38, 0), dec("c", 5, 5)],
    ids=str,
)
def test_json_schema_round_trips_every_kind(column):
    assert Column.from_json_schema("c", column.json_schema()) == column


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ({"type": ["null", "integer"]}, Column("c", K.BIGINT)),
        ({"type": "integer", "minimum": 0, "maximum": 255}, Column("c", K.SMALLINT, False)),
        ({"type": ["null", "number"]}, Column("c", K.DOUBLE)),
        ({"type": "number", "multipleOf": 0.001}, Column("c", K.DECIMAL, False, 38, 3)),
        ({"type": "number", "multipleOf": 0.25}, Column("c", K.DOUBLE, False)),
        ({"type": ["integer", "number"]}, Column("c", K.DOUBLE, False)),
        (
            {"type": "number", "multipleOf": 1e-2, "exclusiveMaximum": 1e10},
            Column("c", K.DECIMAL, False, 12, 2),
        ),
        ({"type": ["null", "object"]}, Column("c", K.JSON)),
        ({"type": ["array"]}, Column("c", K.JSON, False)),
        ({}, Column("c", K.JSON)),
        ({"type": ["null", "string", "integer"]}, Column("c", K.TEXT)),
        ({"type": "string", "format": "email"}, Column("c", K.TEXT, False)),
        (
            {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            Column("c", K.TIMESTAMP),
        ),
    ],
)
def test_json_schema_mapping(prop, expected):
    assert Column.from_json_schema("c", prop) == expected


def test_arrow_schema_uses_the_kind_types():
    columns = columns_from_json_schema(
        {
            "properties": {
                "id": {"type": "integer"},
                "amount": Column("amount", K.DECIMAL, precision=12, scale=2).json_schema(),
                "at": {"type": "string", "format": "date-time"},
            }
        },
        ["at", "id", "amount"],
    )
    assert arrow_schema(columns) == pa.schema(
        [("at", pa.timestamp("us", "UTC")), ("id", pa.int64()), ("amount", pa.decimal128(12, 2))]
    )
    with pytest.raises(KeyError, match="nope"):
        columns_from_json_schema({"properties": {}}, ["nope"])


def test_decimal_needs_valid_precision():
    with pytest.raises(ValueError, match="DECIMAL"):
        Column("c", K.DECIMAL, precision=40, scale=2)


@pytest.mark.parametrize(
    ("existing", "incoming", "expected"),
    [
        (Column("c", K.INTEGER), Column("c", K.SMALLINT), Column("c", K.INTEGER)),
        (Column("c", K.INTEGER), Column("c", K.BIGINT), Column("c", K.BIGINT)),
        (dec("c", 10, 2), dec("c", 12, 4), dec("c", 12, 4)),
        (dec("c", 10, 2), dec("c", 9, 1), dec("c", 10, 2)),
        (dec("c", 10, 4), dec("c", 10, 2), dec("c", 12, 4)),
        (Column("c", K.INTEGER), dec("c", 12, 2), dec("c", 12, 2)),
        (dec("c", 38, 2), Column("c", K.BIGINT), dec("c", 38, 2)),
        (dec("c", 38, 20), Column("c", K.BIGINT), Column("c", K.NUMERIC)),
        (Column("c", K.NUMERIC), dec("c", 12, 2), Column("c", K.NUMERIC)),
        (Column("c", K.BIGINT), Column("c", K.DOUBLE), Column("c", K.DOUBLE)),
        (Column("c", K.DOUBLE), Column("c", K.INTEGER), Column("c", K.DOUBLE)),
        (Column("c", K.TEXT), Column("c", K.UUID), Column("c", K.TEXT)),
        (Column("c", K.TEXT), Column("c", K.BIGINT), None),
        (Column("c", K.BIGINT), Column("c", K.TEXT), None),
        (Column("c", K.TIMESTAMP), Column("c", K.DATE), None),
        (dec("c", 12, 2), Column("c", K.DOUBLE), None),
    ],
)
def test_widen(existing, incoming, expected):
    assert widen(existing, incoming) == expected


def test_plan_adds_widens_and_skips_unmapped():
    existing = {"id": Column("id", K.INTEGER), "name": Column("name", K.TEXT)}
    wanted = [
        Column("id", K.BIGINT, False),
        Column("name", K.TEXT),
        Column("ip", K.TEXT),
        Column("age", K.SMALLINT, False),
    ]
    plan = plan_table_change(existing, {"ip"}, wanted, stream="s", table="public.t")
    assert plan.add == (Column("age", K.SMALLINT),)  # added nullable
    assert plan.widen == (Column("id", K.BIGINT),)
    assert not plan.empty


def test_plan_names_every_incompatible_column():
    existing = {"a": Column("a", K.TEXT), "b": Column("b", K.DATE), "c": Column("c", K.INTEGER)}
    wanted = [Column("a", K.BIGINT), Column("b", K.TIMESTAMP), Column("c", K.BIGINT)]
    with pytest.raises(SchemaChangeError) as caught:
        plan_table_change(existing, set(), wanted, stream="users", table="public.users")
    message = str(caught.value)
    assert message.startswith("stream 'users': table public.users")
    assert "'a' TEXT -> BIGINT" in message
    assert "'b' DATE -> TIMESTAMP" in message
    assert "'c'" not in message
    assert not caught.value.retriable
