from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from weir.blocks.base import UpstreamInput
from weir.blocks.sql.config import OutputFormat
from weir.blocks.sql.tables import (
    PROVENANCE_KEY,
    SqlTableRef,
    array_from_values,
    first_output,
    output_value,
    sql_table_of,
    to_arrow,
)
from weir.errors import BlockExecutionError


@pytest.mark.parametrize(
    "value",
    [
        pd.DataFrame({"a": [1, 2]}, index=[10, 20]),
        pl.DataFrame({"a": [1, 2]}),
        pl.DataFrame({"a": [1, 2]}).lazy(),
        pa.table({"a": [1, 2]}),
        [{"a": 1}, {"a": 2}],
        {"a": [1, 2]},
        pd.Series([1, 2], name="a"),
    ],
)
def test_to_arrow_accepts_tabular_values_and_drops_the_pandas_index(value: object) -> None:
    table = to_arrow(value, "b", "up")
    assert table.column_names == ["a"]
    assert table.column("a").to_pylist() == [1, 2]


def test_to_arrow_refuses_non_tables_naming_the_upstream() -> None:
    with pytest.raises(BlockExecutionError, match="upstream block 'up' is a int, not a table"):
        to_arrow(42, "b", "up")


def test_first_output_of_a_tuple_is_output_0() -> None:
    upstream = UpstreamInput("up", ("first", "second"), paths=(Path("a.parquet"), Path("b")))
    assert first_output(upstream) == ("first", Path("a.parquet"))


def test_provenance_round_trip_through_pandas_and_arrow() -> None:
    ref = SqlTableRef("up", "postgres://h:1/db", '"public"."etl_up"')
    table = pa.table({"a": [1]})
    frame = output_value(table, OutputFormat.PANDAS, ref)
    arrow = output_value(table, OutputFormat.ARROW, ref)
    assert frame.attrs[PROVENANCE_KEY] == ref.to_json()
    assert sql_table_of(UpstreamInput("up", frame, language="sql")) == ref
    assert sql_table_of(UpstreamInput("up", arrow, language="sql")) == ref
    assert isinstance(output_value(table, OutputFormat.POLARS, ref), pl.DataFrame)


def test_provenance_is_ignored_from_python_blocks_and_other_blocks() -> None:
    ref = SqlTableRef("up", "postgres://h:1/db", '"public"."etl_up"')
    frame = output_value(pa.table({"a": [1]}), OutputFormat.PANDAS, ref)
    assert sql_table_of(UpstreamInput("up", frame, language="python")) is None
    assert sql_table_of(UpstreamInput("other", frame, language="sql")) is None


def test_array_from_values_uses_the_type_then_falls_back() -> None:
    assert array_from_values([1, None], pa.int16()).type == pa.int16()
    assert array_from_values([300], pa.int8()).type == pa.int64()
    assert array_from_values([Decimal("1.50")], None).type == pa.decimal128(3, 2)
    assert array_from_values([{"k": 1}, None], None).to_pylist() == ['{"k": 1}', None]
    mixed = array_from_values([1, "a"], None)
    assert mixed.to_pylist() == ["1", "a"]
