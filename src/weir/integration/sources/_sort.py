"""Sorting rows that arrive in no useful order (files, Singer taps) with DuckDB, in bounded memory.

Sources without an index of their own hand INCREMENTAL rows on in (replication key, key
properties) order by streaming them through an in-memory DuckDB: it sorts within its memory
limit and spills to a folder past it, so memory stays bounded whatever the stream's size. Its
threads each hold their own sort buffers; memory, not speed, is what a sync must bound, so
callers pass few.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from weir.integration.sources._common import quote_identifier

__all__ = ["sorted_batches"]


def sorted_batches(
    batches: Iterator[pa.RecordBatch],
    schema: pa.Schema,
    order: Sequence[str],
    batch_size_rows: int,
    *,
    memory_limit: str,
    spill_dir: Path,
    threads: int = 1,
) -> Iterator[pa.RecordBatch]:
    """Yield the rows of `batches` sorted by the columns `order`, ascending (NULLs last).

    Nothing is yielded before every batch has been pulled. An exception raised while DuckDB
    pulls `batches` (a file that cannot be read) reaches DuckDB as text; it is re-raised here
    as itself.

    Args:
        batches: the rows, with `schema`.
        schema: their schema, and the schema of the yielded batches.
        order: the sort columns, most significant first.
        batch_size_rows: the most rows a yielded batch holds.
        memory_limit: DuckDB's memory limit (DuckDB's size syntax, e.g. `32MB`).
        spill_dir: where DuckDB spills past the limit (an existing folder the caller removes).
        threads: DuckDB's threads.

    Raises:
        duckdb.Error: sorting failed (e.g. the spill folder is full).
    """
    failures: list[BaseException] = []

    def pulled() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except BaseException as exc:
            failures.append(exc)
            raise

    config: dict[str, str | int] = {
        "memory_limit": memory_limit,
        "temp_directory": str(spill_dir),
        "threads": threads,
    }
    conn = duckdb.connect(config=dict(config))
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET enable_progress_bar = false")  # it would print to the terminal
        unsorted = conn.from_arrow(pa.RecordBatchReader.from_batches(schema, pulled()))
        ordered = unsorted.order(", ".join(quote_identifier(n) for n in order))
        for batch in ordered.to_arrow_reader(batch_size_rows):
            if batch.num_rows:
                yield batch if batch.schema == schema else batch.cast(schema)
    except duckdb.Error:
        if failures:
            raise failures[0] from None
        raise
    finally:
        conn.close()
