from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from weir.compat.mage.io._frames import ReadOptions, clean_column_name, export_table


def test_clean_column_name_follows_mage() -> None:
    assert clean_column_name("Order ID") == "order_id"
    assert clean_column_name("price-€") == "price__"
    assert clean_column_name("default") == "_default"
    assert clean_column_name("Default", allow_reserved_words=True) == "default"
    assert clean_column_name(3) == "3"


def test_export_table_cleans_names_and_decodes_categoricals() -> None:
    frame = pd.DataFrame({"Tier Name": pd.Categorical(["a", "b"]), "N": [1, 2]})
    table = export_table(frame, index=False, clean_names=True, allow_reserved_words=False)
    assert table.column_names == ["tier_name", "n"]
    assert pa.types.is_large_string(table.schema.field("tier_name").type)
    kept = export_table(frame, index=False, clean_names=False, allow_reserved_words=False)
    assert kept.column_names == ["Tier Name", "N"]


def test_names_that_clean_to_one_are_refused() -> None:
    frame = pd.DataFrame({"a b": [1], "A_B": [2]})
    with pytest.raises(ValueError, match=r"'a b' and 'A_B' would both be written as 'a_b'"):
        export_table(frame, index=False, clean_names=True, allow_reserved_words=False)


def test_dicts_lists_index_and_mixed_columns() -> None:
    one = export_table({"x": 1}, index=False, clean_names=True, allow_reserved_words=False)
    assert one.to_pylist() == [{"x": 1}]
    rows = export_table(
        [{"x": 1}, {"x": 2}], index=False, clean_names=True, allow_reserved_words=False
    )
    assert rows.num_rows == 2
    frame = pd.DataFrame({"v": [1.5, None]}, index=pd.Index([10, 20], name="Key"))
    indexed = export_table(frame, index=True, clean_names=True, allow_reserved_words=False)
    assert indexed.column_names == ["key", "v"]
    assert indexed.column("v").to_pylist() == [1.5, None]
    mixed = pd.DataFrame({"m": [{"k": 1}, [1, 2], "x", None], "d": [Decimal("1.5")] * 4})
    table = export_table(mixed, index=False, clean_names=True, allow_reserved_words=False)
    assert table.column("m").to_pylist() == ['{"k": 1}', "[1, 2]", "x", None]
    assert pa.types.is_decimal(table.schema.field("d").type)


def test_export_table_refuses_non_tables() -> None:
    with pytest.raises(TypeError, match="not int"):
        export_table(3, index=False, clean_names=True, allow_reserved_words=False)


def test_read_options_build_frames_like_read_sql() -> None:
    options = ReadOptions.from_kwargs({"index_col": "id", "parse_dates": "day"})
    frame = options.frame_from_rows(
        ["id", "day", "amount"], [(1, "2024-01-02", Decimal("1.5")), (2, None, None)]
    )
    assert frame.index.tolist() == [1, 2]
    assert frame["day"].iloc[0] == pd.Timestamp("2024-01-02")
    assert frame["amount"].dtype == "float64"  # coerce_float, as read_sql
    exact = ReadOptions.from_kwargs({"coerce_float": False}).frame_from_rows(
        ["amount"], [(Decimal("1.5"),)]
    )
    assert exact["amount"].iloc[0] == Decimal("1.5")
    empty = ReadOptions().frame_from_rows(["a", "b"], [])
    assert empty.columns.tolist() == ["a", "b"]
    with pytest.raises(TypeError, match="chunksize"):
        ReadOptions.from_kwargs({"chunksize": 10})
