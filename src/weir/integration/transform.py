"""Python transformer blocks between a source and a destination: one call per batch, vectorised.

Each transformer block of an integration pipeline is a Python block file with an
`@transformer` function, as in Mage. Weir calls it once per batch (never once per record)
with the batch as its first argument and keyword arguments: the run's variables, the usual
block context (`execution_date`, `pipeline_uuid`, `block_uuid`, `configuration`, `logger`,
...), and `stream`, the stream's name. A function without `**kwargs` gets only the keywords it
names. Transformers apply one after another, in the pipeline's order, to every stream; a
transformer that should touch one stream tests `stream`.

The batch's type is chosen by the block's `configuration.batch_format` in the pipeline's
`metadata.yaml`:

| batch_format          | the function receives                                             |
|-----------------------|-------------------------------------------------------------------|
| `pandas` (default)    | `pandas.DataFrame`; integer and boolean columns use pandas'       |
|                       | nullable dtypes (`Int64`, `boolean`) so no value turns into float,|
|                       | decimals `ArrowDtype(decimal128(p, s))` (exact; `* 0.8` works)    |
| `polars`              | `polars.DataFrame` (needs polars: `pip install weir[polars]`)     |
| `pyarrow` (`arrow`)   | `pyarrow.Table`                                                   |

It may return any of the three. The result must have exactly the stream's columns (any order);
each is cast back to the stream's Arrow type, refusing lossy casts, with one rounding: floating
values going into a DECIMAL(p, s) column are rounded to s digits, half away from zero, as
PostgreSQL rounds a value stored into `numeric(p, s)`. It may drop rows, change
values and reorder rows; a batch left empty is skipped. For an INCREMENTAL stream the bookmark
is taken from the last row of the returned batch, so a transformer must not change the
replication key or key properties: Weir fails the stream when the returned batch ends past the
position the source's batch ended at (its rows would be skipped by the next sync). Ending
earlier is safe: those rows are read again next time.

`@test` functions of a transformer are not run per batch. Prints and logs of the function go
to the block run's log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from weir.blocks.base import BlockRequest
from weir.blocks.python_block import (
    block_keywords,
    call_user_function,
    find_block_functions,
    load_block_module,
)
from weir.engine.logs import capture_prints
from weir.errors import BlockError, ConfigError
from weir.integration.base import Source, stream_columns
from weir.integration.columns import arrow_schema
from weir.integration.errors import IntegrationError
from weir.integration.singer import Catalog, CatalogEntry, ReplicationMethod

__all__ = [
    "BATCH_FORMAT_KEY",
    "BatchFormat",
    "BatchTransformer",
    "TransformedSource",
    "TransformerError",
    "TransformerStats",
]

BATCH_FORMAT_KEY = "batch_format"


class BatchFormat(StrEnum):
    """The type a transformer receives each batch as."""

    PANDAS = "pandas"
    POLARS = "polars"
    PYARROW = "pyarrow"

    @classmethod
    def from_configuration(cls, block_uuid: str, configuration: Mapping[str, Any]) -> BatchFormat:
        """Read `batch_format` from a block's configuration (default pandas).

        Raises:
            ConfigError: the value is not one of the formats.
        """
        value = configuration.get(BATCH_FORMAT_KEY) or cls.PANDAS.value
        value = "pyarrow" if value == "arrow" else str(value).lower()
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(
                f"block '{block_uuid}': configuration '{BATCH_FORMAT_KEY}' is {value!r}; use "
                "pandas, polars or pyarrow"
            ) from None


class TransformerError(IntegrationError):
    """A transformer failed on a batch, or returned something that cannot be written.

    The stream fails; other streams of the run still sync. `block_uuid` names the block and
    `__cause__` holds the original error (a `BlockExecutionError` when the user code raised).
    """

    def __init__(self, block_uuid: str, message: str, *, stream: str) -> None:
        super().__init__(f"transformer '{block_uuid}': {message}", stream=stream)
        self.block_uuid = block_uuid


@dataclass(slots=True)
class TransformerStats:
    """What one transformer did over a run.

    Attributes:
        batches: calls made (one per batch).
        rows_in: rows it was given.
        rows_out: rows it returned.
        seconds: time spent in the call and the conversions around it.
    """

    batches: int = 0
    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0

    def to_metrics(self) -> dict[str, Any]:
        """The stats as block run metrics (`rows` is the rows returned)."""
        return {
            "rows": self.rows_out,
            "rows_in": self.rows_in,
            "batches": self.batches,
            "seconds": round(self.seconds, 6),
        }


class BatchTransformer:
    """One transformer block, loaded once and called once per batch.

    Args:
        request: the block's request (file, configuration, variables, logger); its
            `upstream` is ignored.

    Raises:
        BlockLoadError: the file is missing, does not import, or has no `@transformer`.
        ConfigError: `batch_format` is unknown.
    """

    def __init__(self, request: BlockRequest) -> None:
        self.block_uuid = request.block_uuid
        self.batch_format = BatchFormat.from_configuration(
            request.block_uuid, request.configuration
        )
        module = load_block_module(request.block_uuid, request.file_path, request.project_root)
        self._function, _tests = find_block_functions(module, request.block_uuid, request.file_path)
        self._keywords = block_keywords(request)
        self._logger: logging.Logger = request.logger
        self.stats = TransformerStats()

    def apply(self, batch: pa.RecordBatch, stream: str, schema: pa.Schema) -> pa.RecordBatch:
        """Transform one batch.

        Args:
            batch: the rows, with `schema`.
            stream: the stream's name (passed as the `stream` keyword).
            schema: the stream's Arrow schema; the result is cast back to it.

        Returns:
            The transformed rows, with `schema` (possibly empty).

        Raises:
            TransformerError: the function raised, returned an unsupported type, added or
                dropped columns, or returned a value that does not fit its column's type.
        """
        start = time.perf_counter()
        frame = _to_frame(batch, self.batch_format, self.block_uuid, stream)
        keywords = {**self._keywords, "stream": stream}
        try:
            with capture_prints(self._logger):
                value = call_user_function(self._function, self.block_uuid, [frame], keywords)
        except BlockError as exc:
            raise TransformerError(self.block_uuid, str(exc), stream=stream) from exc
        result = _conform(value, schema, self.block_uuid, stream)
        self.stats.batches += 1
        self.stats.rows_in += batch.num_rows
        self.stats.rows_out += result.num_rows
        self.stats.seconds += time.perf_counter() - start
        return result


class TransformedSource(Source):
    """A source whose batches pass through transformers; it also counts the rows it read.

    Args:
        source: the real source.
        transformers: applied in order to every batch.
    """

    def __init__(self, source: Source, transformers: tuple[BatchTransformer, ...] = ()) -> None:
        self.source = source
        self.transformers = transformers
        self.rows_read: dict[str, int] = {}

    def __repr__(self) -> str:
        names = ", ".join(t.block_uuid for t in self.transformers)
        return f"TransformedSource({self.source!r}, transformers=[{names}])"

    def check(self) -> None:
        """Check the real source."""
        self.source.check()

    def discover(self, *, streams: Collection[str] | None = None) -> Catalog:
        """Discover with the real source."""
        return self.source.discover(streams=streams)

    def read(
        self,
        stream: CatalogEntry,
        *,
        bookmark: Mapping[str, Any] | None,
        batch_size_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        """Read from the real source and transform each batch (see the module docstring).

        Raises:
            TransformerError: a transformer failed, or moved an INCREMENTAL stream's position
                forward.
            CatalogError, SourceError: as the real source raises them.
        """
        schema = arrow_schema(stream_columns(stream))
        position = _position_columns(stream)
        self.rows_read.setdefault(stream.stream, 0)
        batches = self.source.read(stream, bookmark=bookmark, batch_size_rows=batch_size_rows)
        for batch in batches:
            self.rows_read[stream.stream] += batch.num_rows
            out = self._transform(batch, stream.stream, schema, position)
            if out is not None:
                yield out

    def _transform(
        self, batch: pa.RecordBatch, stream: str, schema: pa.Schema, position: list[str]
    ) -> pa.RecordBatch | None:
        out = batch
        for transformer in self.transformers:
            out = transformer.apply(out, stream, schema)
            if out.num_rows == 0:
                return None
            if position:
                _check_position(batch, out, position, stream, transformer.block_uuid)
        # The source's state (e.g. a Singer tap's) describes what was read, so it stays.
        return out.replace_schema_metadata(batch.schema.metadata)


def _position_columns(stream: CatalogEntry) -> list[str]:
    """(replication key, key properties): the columns a bookmark is made of, if INCREMENTAL."""
    if stream.effective_replication_method is not ReplicationMethod.INCREMENTAL:
        return []
    key = stream.effective_replication_key
    if key is None:
        return []
    return [key, *(k for k in stream.effective_key_properties if k != key)]


def _check_position(
    before: pa.RecordBatch,
    after: pa.RecordBatch,
    columns: list[str],
    stream: str,
    block_uuid: str,
) -> None:
    source_end = [before.column(c)[-1].as_py() for c in columns]
    result_end = [after.column(c)[-1].as_py() for c in columns]
    if result_end == source_end:
        return
    try:
        behind = result_end < source_end
    except TypeError:  # a NULL key property: cannot order, so cannot prove it is safe
        behind = False
    if not behind:
        raise TransformerError(
            block_uuid,
            f"the batch it returned ends at {dict(zip(columns, result_end, strict=True))}, past "
            f"the source's {dict(zip(columns, source_end, strict=True))}; a transformer must not "
            "change the replication key or key properties of an INCREMENTAL stream (rows would "
            "be skipped by the next sync)",
            stream=stream,
        )


# -- conversions ---------------------------------------------------------------------------------
def _pandas_types(decimals: Sequence[pa.DataType]) -> dict[pa.DataType, Any]:
    import pandas as pd

    return {
        **{t: pd.ArrowDtype(t) for t in decimals},
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }


def _to_frame(batch: pa.RecordBatch, batch_format: BatchFormat, block: str, stream: str) -> Any:
    if batch_format is BatchFormat.PANDAS:
        decimals = [f.type for f in batch.schema if pa.types.is_decimal(f.type)]
        return batch.to_pandas(types_mapper=_pandas_types(decimals).get)
    if batch_format is BatchFormat.POLARS:
        try:
            import polars as pl
        except ImportError as exc:
            raise TransformerError(
                block,
                "batch_format is polars but polars is not installed; pip install weir[polars]",
                stream=stream,
            ) from exc
        return pl.from_arrow(batch)
    return pa.Table.from_batches([batch])


def _to_arrow(value: Any, block: str, stream: str) -> pa.Table:
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    module = type(value).__module__.split(".")[0]
    if module == "pandas" and type(value).__name__ == "DataFrame":
        return pa.Table.from_pandas(value, preserve_index=False)
    if module == "polars" and type(value).__name__ == "DataFrame":
        table: pa.Table = value.to_arrow()
        return table
    raise TransformerError(
        block,
        f"returned {type(value).__name__}; return the batch as a pandas or polars DataFrame or "
        "a pyarrow Table",
        stream=stream,
    )


def _conform(value: Any, schema: pa.Schema, block: str, stream: str) -> pa.RecordBatch:
    """The returned batch with exactly the stream's columns and types, as one RecordBatch."""
    try:
        table = _to_arrow(value, block, stream)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise TransformerError(
            block, f"its result cannot be turned into Arrow: {exc}", stream=stream
        ) from exc
    names = set(table.column_names)
    wanted = set(schema.names)
    if names != wanted:
        extra, missing = sorted(names - wanted), sorted(wanted - names)
        raise TransformerError(
            block,
            f"the batch it returned has extra columns {extra} and lacks columns {missing}; a "
            "transformer keeps the stream's columns (select fields in the catalog to drop some)",
            stream=stream,
        )
    arrays = []
    for field in schema:
        column = table.column(field.name)
        if pa.types.is_decimal(field.type) and pa.types.is_floating(column.type):
            column = pc.round(column, ndigits=field.type.scale, round_mode="half_towards_infinity")
        try:
            arrays.append(column.cast(field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise TransformerError(
                block,
                f"column '{field.name}' holds {column.type} values that do not fit the stream's "
                f"type {field.type}: {exc}",
                stream=stream,
            ) from exc
    conformed = pa.Table.from_arrays(arrays, schema=schema).combine_chunks()
    batches = conformed.to_batches()
    if not batches:
        return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
    return batches[0]
