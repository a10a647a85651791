"""Previews of outputs in memory and on disk, reading only the head, and their rendering."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from weir.data_products import (
    DataProductStore,
    OutputInfo,
    Preview,
    preview_output,
    preview_value,
    render_preview,
)
from weir.errors import DataProductError


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"

    __str__ = __repr__


def big_table(rows: int) -> pa.Table:
    return pa.table({"n": pa.array(range(rows), pa.int64()), "s": [f"r{i}" for i in range(rows)]})


def forbid_whole_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every way of reading a whole Parquet or Arrow IPC file fail the test."""

    def whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("the preview read the whole file")

    monkeypatch.setattr(pq, "read_table", whole)
    monkeypatch.setattr(pq.ParquetFile, "read", whole)
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", whole)
    monkeypatch.setattr(pa.ipc.RecordBatchFileReader, "read_all", whole)
    monkeypatch.setattr(pa.ipc.RecordBatchFileReader, "read_pandas", whole)


def test_parquet_preview_reads_the_head_and_counts_from_the_footer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(big_table(200_000), path, row_group_size=5_000)
    assert pq.ParquetFile(path).metadata.num_row_groups == 40
    info = OutputInfo(0, "arrow", "parquet", path, None, 2, path.stat().st_size, None)
    forbid_whole_reads(monkeypatch)
    preview = preview_output(info, limit_rows=7)
    assert preview.row_count == 200_000
    assert preview.rows == tuple((i, f"r{i}") for i in range(7))
    assert preview.columns == (("n", "int64"), ("s", "string"))
    assert preview.kind == "arrow"


def test_arrow_ipc_preview_spans_batches_without_reading_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.arrow"
    table = big_table(50_000)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=4)
    info = OutputInfo(0, "arrow", "arrow", path, None, 2, path.stat().st_size, None)
    forbid_whole_reads(monkeypatch)
    preview = preview_output(info, limit_rows=10)
    assert preview.row_count == 50_000
    assert [row[0] for row in preview.rows] == list(range(10))


def test_store_outputs_preview_the_same_from_disk_as_in_memory(
    store: DataProductStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pl = pytest.importorskip("polars")
    frame = pd.DataFrame(
        {
            "id": range(25),
            "price": [1.5, None] * 12 + [2.0],
            "when": pd.date_range("2024-01-01", periods=25, freq="h", tz="UTC"),
            "tag": pd.Categorical(["a", "b", None, "a", "b"] * 5),
        },
        index=pd.Index([f"k{i}" for i in range(25)], name="key"),
    )
    values = [
        frame,
        frame["price"],
        pl.from_pandas(frame.reset_index()),
        pa.Table.from_pandas(frame),
        {"a": 1, "b": [1, 2]},
        list(range(30)),
        "hello",
        Opaque(),
        pd.DataFrame({"mixed": [1, "a"] * 20}),
    ]
    infos = store.write(1, "b", values)
    forbid_whole_reads(monkeypatch)
    for value, info in zip(values, infos, strict=True):
        from_disk = preview_output(info, limit_rows=4)
        in_memory = preview_value(value, limit_rows=4)
        assert from_disk.kind == info.kind
        assert from_disk.columns == in_memory.columns, info.kind
        assert repr(from_disk.rows) == repr(in_memory.rows), info.kind
        assert from_disk.row_count == in_memory.row_count, info.kind


def test_pandas_preview_shows_index_types_and_nulls() -> None:
    frame = pd.DataFrame(
        {"price": [1.5, np.nan, 3.0], "name": ["a", None, "c"], "ts": [pd.NaT] * 3},
        index=pd.Index([10, 20, 30], name="id"),
    )
    preview = preview_value(frame, limit_rows=2)
    assert preview == Preview(
        columns=(("id", "int64"), ("price", "float64"), ("name", "str"), ("ts", "datetime64[s]")),
        rows=((10, 1.5, "a", None), (20, None, None, None)),
        row_count=3,
        kind="pandas",
    )


def test_default_index_is_not_shown_and_series_without_name_is_value() -> None:
    assert preview_value(pd.DataFrame({"a": [1]})).columns == (("a", "int64"),)
    series = preview_value(pd.Series([True, False]), limit_rows=1)
    assert series == Preview((("value", "bool"),), ((True,),), 2, "series")


def test_polars_and_arrow_previews() -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"x": [1, None, 3], "t": [dt.date(2024, 1, 1)] * 3})
    assert preview_value(frame, limit_rows=2) == Preview(
        (("x", "Int64"), ("t", "Date")),
        ((1, dt.date(2024, 1, 1)), (None, dt.date(2024, 1, 1))),
        3,
        "polars",
    )
    batch = pa.record_batch({"x": [1, 2, 3]})
    assert preview_value(batch, limit_rows=1) == Preview((("x", "int64"),), ((1,),), 3, "arrow")


def test_plain_values_become_one_table() -> None:
    assert preview_value({"a": 1, "b": 2, "c": 3}, limit_rows=2) == Preview(
        (("key", "str"), ("value", "int")), (("a", 1), ("b", 2)), 3, "json"
    )
    assert preview_value([1, "x", None], limit_rows=5) == Preview(
        (("value", "object"),), ((1,), ("x",), (None,)), 3, "json"
    )
    assert preview_value(2.5) == Preview((("value", "float"),), ((2.5,),), 1, "json")
    opaque = Opaque()
    assert preview_value(opaque) == Preview((("value", "Opaque"),), ((opaque,),), 1, "pickle")
    assert preview_value({1, 2}).kind == "pickle"


def test_limit_zero_keeps_columns_and_count(parquet_store: DataProductStore) -> None:
    (info,) = parquet_store.write(1, "b", [pd.DataFrame({"a": [1, 2]})])
    preview = preview_output(info, limit_rows=0)
    assert (preview.columns, preview.rows, preview.row_count) == ((("a", "int64"),), (), 2)


def test_empty_table_preview(store: DataProductStore) -> None:
    (info,) = store.write(1, "b", [pd.DataFrame({"a": pd.Series([], dtype="int64")})])
    assert preview_output(info) == Preview((("a", "int64"),), (), 0, "pandas")


def test_unreadable_output_names_the_file(store: DataProductStore) -> None:
    (info,) = store.write(1, "b", [pd.DataFrame({"a": [1]})])
    info.path.write_bytes(b"garbage")
    with pytest.raises(DataProductError) as caught:
        preview_output(info)
    assert f"output 0 at {info.path} cannot be previewed" in str(caught.value)
    assert "Re-run its block" in str(caught.value)


def rendered(preview: Preview, title: str = "load_data · output_0") -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(render_preview(preview, title))
    return console.export_text()


def test_render_shows_types_under_names_and_the_count_in_the_caption() -> None:
    preview = Preview(
        columns=(("id", "int64"), ("name", "str")),
        rows=((1, "ann"), (2, None)),
        row_count=1_000_000,
        kind="pandas",
    )
    lines = rendered(preview).splitlines()
    assert "load_data · output_0" in lines[0]
    header = next(i for i, line in enumerate(lines) if "id" in line and "name" in line)
    assert "int64" in lines[header + 1]
    assert "str" in lines[header + 1]
    assert any("ann" in line for line in lines)
    assert any("null" in line for line in lines)
    assert "first 2 of 1,000,000 rows · pandas" in lines[-1]


def test_render_caption_for_complete_and_unknown_counts() -> None:
    one = Preview((("v", "int"),), ((1,),), 1, "json")
    assert "1 row · json" in rendered(one)
    unknown = Preview((("v", "int"),), ((1,),), None, "pickle")
    assert "1 rows shown, total unknown · pickle" in rendered(unknown)


def test_render_is_literal_and_cuts_long_cells() -> None:
    preview = Preview((("[bold]x[/bold]", "str"),), (("[red]y[/red]",), ("z" * 200,)), 2, "json")
    text = rendered(preview)
    assert "[bold]x[/bold]" in text
    assert "[red]y[/red]" in text
    assert "z" * 59 + "…" in text
    assert "z" * 60 not in text
