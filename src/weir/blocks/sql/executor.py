"""Run one SQL block: read and render the file, run it on its provider, shape the output.

This is the error boundary of SQL blocks: errors Weir raises on purpose pass through, anything
else a driver or library raises is wrapped in `BlockExecutionError` naming the block, the
provider and the database, with the original as `__cause__`.
"""

from __future__ import annotations

import time

import pyarrow as pa

from weir.blocks.base import BlockRequest, BlockResult
from weir.blocks.sql.config import SqlBlockConfig
from weir.blocks.sql.providers import PROVIDERS, BlockContext, SqlProvider
from weir.blocks.sql.tables import SqlTableRef, output_value
from weir.blocks.sql.template import render_block_sql
from weir.errors import BlockExecutionError, BlockLoadError, WeirError

__all__ = ["execute_sql_block"]


def execute_sql_block(request: BlockRequest) -> BlockResult:
    """Run a SQL block once and return its output.

    Steps: parse `request.configuration` (see `weir.blocks.sql.config`), render the file's Jinja
    (see `weir.blocks.sql.template`) with `{{ df_n }}` naming what the provider can read, make the
    upstreams the SQL reads available (register in DuckDB, upload to PostgreSQL/MySQL), run the
    SQL, and read the result.

    Args:
        request: the block run; `request.language` is `sql`, `request.file_path` its `.sql` file.

    Returns:
        One output, the result rows as a pandas DataFrame (or Arrow table / polars DataFrame per
        `output_format`); no output when `use_raw_sql` is set and the last statement returns no
        rows. When the rows were written to a table, the output carries a reference to it so a
        downstream SQL block on the same database reads the table instead of re-uploading.

    Raises:
        BlockLoadError: the block file is missing or unreadable.
        BlockExecutionError: bad configuration or io_config profile, a render error, a
            connection or upload failure, or SQL the database rejected; the message names the
            provider, the database and shows the first lines of the rendered SQL with the error
            position when the driver gives one.
    """
    started = time.perf_counter()
    config = SqlBlockConfig.from_configuration(request.configuration, request.block_uuid)
    template = _read_template(request)
    provider = PROVIDERS[config.provider](BlockContext(request, config))
    references = {item.block_uuid: provider.reference(item) for item in request.upstream}
    rendered = render_block_sql(template, request, references)
    used = [item for item in request.upstream if item.block_uuid in rendered.used_upstreams]
    request.logger.info(
        "sql block %s on %s (%s)", request.block_uuid, provider.name, provider.database
    )
    request.logger.debug("rendered SQL:\n%s", rendered.text)
    try:
        with provider:
            provider.stage(used)
            table, ref = _run(provider, rendered.text, config)
    except WeirError:
        raise
    except Exception as error:
        raise BlockExecutionError(
            request.block_uuid,
            f"{provider.name} ({provider.database}): {type(error).__name__}: {error}",
        ) from error
    seconds = time.perf_counter() - started
    if table is None:
        request.logger.info("sql block %s: no rows returned (%.3f s)", request.block_uuid, seconds)
        return BlockResult(outputs=())
    request.logger.info(
        "sql block %s: %d rows (%.3f s)", request.block_uuid, table.num_rows, seconds
    )
    return BlockResult(outputs=(output_value(table, config.output_format, ref),))


def _run(
    provider: SqlProvider, sql: str, config: SqlBlockConfig
) -> tuple[pa.Table | None, SqlTableRef | None]:
    if config.use_raw_sql:
        return provider.run_raw(sql), None
    target = provider.target
    if target is None:
        return provider.query(sql), None
    provider.materialize(sql, target, config.write_policy)
    return provider.read_table(target), provider.table_ref(target)


def _read_template(request: BlockRequest) -> str:
    try:
        return request.file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BlockLoadError(
            request.block_uuid, f"SQL file {request.file_path} does not exist"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise BlockLoadError(
            request.block_uuid, f"cannot read SQL file {request.file_path}: {error}"
        ) from error
