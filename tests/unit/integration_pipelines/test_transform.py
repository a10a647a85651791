"""Transformer blocks between source and destination: once per batch, typed, guarded."""

from __future__ import annotations

import logging
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.unit.integration_pipelines.memory import MemorySource
from weir.blocks.base import BlockRequest
from weir.errors import BlockExecutionError, ConfigError
from weir.integration import ReplicationMethod
from weir.integration.base import SINGER_STATE_METADATA_KEY
from weir.integration.transform import BatchTransformer, TransformedSource, TransformerError

ROWS = pa.table(
    {
        "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "amount": pa.array([10, None, 30, 40, 50], pa.int64()),
        "name": ["a", "b", None, "d", "e"],
    }
)


def _transformer(tmp_path: Path, code: str, **configuration: Any) -> BatchTransformer:
    path = tmp_path / "transformers" / "t.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    request = BlockRequest(
        project_root=tmp_path,
        pipeline_uuid="p",
        block_uuid="t",
        block_type="transformer",
        language="python",
        file_path=path,
        upstream=(),
        variables={"factor": 3},
        configuration=configuration,
        pipeline_run_id=1,
        execution_date=datetime(2024, 1, 1, tzinfo=UTC),
        logger=logging.getLogger("test"),
    )
    return BatchTransformer(request)


def _read(
    transformers: tuple[BatchTransformer, ...], incremental: bool = False, batch: int = 2
) -> list[dict[str, Any]]:
    source = MemorySource({"orders": ROWS}, {"orders": ["id"]})
    entry = source.discover().get("orders").with_selected(True)
    if incremental:
        from dataclasses import replace

        entry = replace(
            entry, replication_method=ReplicationMethod.INCREMENTAL, replication_key="id"
        )
    wrapped = TransformedSource(source, transformers)
    batches = list(wrapped.read(entry, bookmark=None, batch_size_rows=batch))
    assert all(b.schema.field("amount").type == pa.int64() for b in batches)
    assert all(b.num_rows > 0 for b in batches)
    assert wrapped.rows_read == {"orders": 5}
    return pa.Table.from_batches(batches).to_pylist() if batches else []


PANDAS = """
calls = []

@transformer
def scale(df, *args, factor, stream, **kwargs):
    calls.append((len(df), stream, str(df["amount"].dtype)))
    df["amount"] = df["amount"] * factor
    return df
"""


def test_pandas_once_per_batch_with_exact_nullable_integers(tmp_path: Path) -> None:
    transformer = _transformer(tmp_path, PANDAS)
    rows = _read((transformer,))
    assert [r["amount"] for r in rows] == [30, None, 90, 120, 150]
    assert transformer.stats.batches == 3
    assert (transformer.stats.rows_in, transformer.stats.rows_out) == (5, 5)
    calls = transformer._function.__globals__["calls"]
    assert calls == [(2, "orders", "Int64"), (2, "orders", "Int64"), (1, "orders", "Int64")]


class _StatefulSource(MemorySource):
    """Puts a source state (as the Singer tap source does) on each batch it reads."""

    def read(self, stream, *, bookmark, batch_size_rows):  # type: ignore[no-untyped-def]
        batches = super().read(stream, bookmark=bookmark, batch_size_rows=batch_size_rows)
        for n, batch in enumerate(batches):
            yield batch.replace_schema_metadata({SINGER_STATE_METADATA_KEY: b'{"n": %d}' % n})


def test_the_sources_state_on_a_batch_survives_the_transformers(tmp_path: Path) -> None:
    source = _StatefulSource({"orders": ROWS}, {"orders": ["id"]})
    entry = source.discover().get("orders").with_selected(True)
    wrapped = TransformedSource(source, (_transformer(tmp_path, PANDAS),))
    batches = list(wrapped.read(entry, bookmark=None, batch_size_rows=2))
    states = [b.schema.metadata[SINGER_STATE_METADATA_KEY] for b in batches]
    assert states == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']


def test_polars_batches(tmp_path: Path) -> None:
    code = """
    import polars as pl

    @transformer
    def upper(df, *args, **kwargs):
        assert isinstance(df, pl.DataFrame)
        return df.with_columns(pl.col("name").str.to_uppercase())
    """
    rows = _read((_transformer(tmp_path, code, batch_format="polars"),))
    assert [r["name"] for r in rows] == ["A", "B", None, "D", "E"]


def test_pyarrow_batches_and_filtering(tmp_path: Path) -> None:
    code = """
    import pyarrow as pa
    import pyarrow.compute as pc

    @transformer
    def keep_even(table, *args, **kwargs):
        assert isinstance(table, pa.Table)
        return table.filter(pc.equal(pc.bit_wise_and(table["id"], 1), 0))
    """
    transformer = _transformer(tmp_path, code, batch_format="arrow")
    assert [r["id"] for r in _read((transformer,))] == [2, 4]
    assert transformer.stats.rows_out == 2


def test_transformers_chain_in_order(tmp_path: Path) -> None:
    first = _transformer(tmp_path / "a", PANDAS)
    code = """
    @transformer
    def plus_one(df, *args, **kwargs):
        df["amount"] = df["amount"] + 1
        return df
    """
    second = _transformer(tmp_path / "b", code)
    assert [r["amount"] for r in _read((first, second))][:1] == [31]


def test_a_batch_emptied_by_a_transformer_is_skipped(tmp_path: Path) -> None:
    code = """
    @transformer
    def drop_all(df, *args, **kwargs):
        return df.iloc[0:0]
    """
    assert _read((_transformer(tmp_path, code),)) == []


def test_extra_or_missing_columns_fail_the_stream(tmp_path: Path) -> None:
    code = """
    @transformer
    def add(df, *args, **kwargs):
        df["extra"] = 1
        return df.drop(columns=["name"])
    """
    with pytest.raises(
        TransformerError, match=r"extra columns \['extra'\].*lacks columns \['name'\]"
    ):
        _read((_transformer(tmp_path, code),))


def test_a_value_that_does_not_fit_the_column_fails(tmp_path: Path) -> None:
    code = """
    @transformer
    def halve(df, *args, **kwargs):
        df["amount"] = df["amount"] / 4
        return df
    """
    with pytest.raises(TransformerError, match="column 'amount' holds double values"):
        _read((_transformer(tmp_path, code),))


def test_returning_something_else_fails(tmp_path: Path) -> None:
    code = """
    @transformer
    def nothing(df, *args, **kwargs):
        return None
    """
    with pytest.raises(TransformerError, match="returned NoneType"):
        _read((_transformer(tmp_path, code),))


def test_user_errors_keep_the_block_and_the_original(tmp_path: Path) -> None:
    code = """
    @transformer
    def boom(df, *args, **kwargs):
        raise KeyError("no such column")
    """
    with pytest.raises(TransformerError, match=r"transformer 't'.*KeyError") as caught:
        _read((_transformer(tmp_path, code),))
    assert caught.value.block_uuid == "t"
    assert caught.value.stream == "orders"
    assert isinstance(caught.value.__cause__, BlockExecutionError)


def test_moving_an_incremental_position_forward_is_refused(tmp_path: Path) -> None:
    code = """
    @transformer
    def shift(df, *args, **kwargs):
        df["id"] = df["id"] + 100
        return df
    """
    with pytest.raises(TransformerError, match="must not change the replication key"):
        _read((_transformer(tmp_path, code),), incremental=True)


def test_dropping_rows_at_the_end_of_an_incremental_batch_is_allowed(tmp_path: Path) -> None:
    code = """
    @transformer
    def drop_last(df, *args, **kwargs):
        return df.iloc[:-1]
    """
    rows = _read((_transformer(tmp_path, code),), incremental=True)
    assert [r["id"] for r in rows] == [1, 3]


def test_an_unknown_batch_format_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="batch_format' is 'spark'"):
        _transformer(tmp_path, PANDAS, batch_format="spark")


def test_decimals_stay_exact_and_floats_round_into_them(tmp_path: Path) -> None:
    prices = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "price": pa.array([Decimal("10.10"), Decimal("7.77")], pa.decimal128(12, 2)),
        }
    )
    code = """
    import pandas as pd

    @transformer
    def discount(df, *args, **kwargs):
        assert isinstance(df["price"].dtype, pd.ArrowDtype)
        df["price"] = df["price"] * 0.3
        return df
    """
    source = MemorySource({"p": prices}, {"p": ["id"]})
    entry = source.discover().get("p").with_selected(True)
    wrapped = TransformedSource(source, (_transformer(tmp_path, code),))
    (batch,) = wrapped.read(entry, bookmark=None, batch_size_rows=10)
    assert batch.schema.field("price").type == pa.decimal128(12, 2)
    assert batch.column("price").to_pylist() == [Decimal("3.03"), Decimal("2.33")]
