"""Render a SQL block's Jinja template, as Mage does, and record which upstreams it reads.

Names a block's SQL can use:

| syntax | value |
|---|---|
| `{{ df_1 }}`, `{{ df_2 }}`, ... | the n-th upstream block (1-based, `upstream_blocks` order), as |
| | a table name the provider can read |
| `{{ block_output('uuid') }}` | the same, by the upstream's uuid |
| `{{ variables('name') }}`, `{{ variables('name', fallback) }}` | a pipeline/trigger/run variable |
| `{{ name }}` | the same variable, by name (Mage renders with `**global_vars`) |
| `{{ env_var('NAME') }}`, `{{ env_var('NAME', fallback) }}` | an environment variable |
| `{{ execution_date }}` | the run's logical date (timezone-aware `datetime`) |
| `{{ ds }}` | `execution_date` as `YYYY-MM-DD` (Mage) |

Differences from Mage, on purpose: an undefined name, a missing variable and a missing environment
variable are errors naming the variable and the block (Mage renders an empty string or `None` into
the SQL, which then runs with a wrong filter or fails far from the cause).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from weir.blocks.base import BlockRequest
from weir.errors import BlockExecutionError

__all__ = ["RenderedSql", "UpstreamName", "render_block_sql"]

_NOT_GIVEN: Any = object()


class _TemplateLookupError(Exception):
    """A template function was asked for something that does not exist."""


class UpstreamName:
    """What `{{ df_n }}` and `block_output(..)` render to; remembers that it was rendered.

    Jinja turns it into text with `str()`, at which point the upstream counts as used, so a
    provider loads only the upstream tables the SQL reads.
    """

    def __init__(self, block_uuid: str, sql_name: str, used: dict[str, None]) -> None:
        self._block_uuid = block_uuid
        self._sql_name = sql_name
        self._used = used

    def __str__(self) -> str:
        self._used.setdefault(self._block_uuid, None)
        return self._sql_name

    def __repr__(self) -> str:
        return f"UpstreamName({self._block_uuid!r}, {self._sql_name!r})"


@dataclass(frozen=True, slots=True)
class RenderedSql:
    """A rendered block template.

    Attributes:
        text: the SQL, ready for the database.
        used_upstreams: uuids of the upstream blocks the text reads, in the order first rendered.
    """

    text: str
    used_upstreams: tuple[str, ...]


def render_block_sql(
    template: str, request: BlockRequest, references: Mapping[str, str]
) -> RenderedSql:
    """Render a SQL block's template.

    Args:
        template: the block file's text.
        request: the block run (uuid, upstream order, variables, execution date, file path).
        references: upstream uuid -> SQL text `{{ df_n }}` renders to (a quoted table name,
            `read_parquet('...')`, ...), as the provider names it.

    Returns:
        The SQL and the upstream blocks it reads.

    Raises:
        BlockExecutionError: bad Jinja syntax, an undefined name, a missing variable or environment
            variable, or an unknown `block_output` uuid; names the block, the file and the line.
    """
    used: dict[str, None] = {}
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    context = _context(request, references, used)
    try:
        compiled = environment.from_string(template)
        text = compiled.render(context)
    except jinja2.TemplateSyntaxError as error:
        raise _render_error(request, f"bad Jinja syntax: {error.message}", error.lineno) from error
    except jinja2.UndefinedError as error:
        name = _undefined_name(error)
        known = ", ".join(sorted(request.variables)) or "none"
        message = f"'{name}' is not defined (variables of this run: {known})"
        raise _render_error(request, message, _template_line(error)) from error
    except _TemplateLookupError as error:
        raise _render_error(request, str(error), _template_line(error)) from error
    return RenderedSql(text=text, used_upstreams=tuple(used))


def _context(
    request: BlockRequest, references: Mapping[str, str], used: dict[str, None]
) -> dict[str, Any]:
    names = {
        upstream.block_uuid: UpstreamName(
            upstream.block_uuid, references[upstream.block_uuid], used
        )
        for upstream in request.upstream
    }
    context: dict[str, Any] = dict(request.variables)
    context.update(
        {f"df_{index}": names[u.block_uuid] for index, u in enumerate(request.upstream, 1)}
    )
    context.update(
        block_output=_block_output(names),
        variables=_variables(request.variables),
        env_var=_env_var,
        execution_date=request.execution_date,
        ds=_ds(request.execution_date),
    )
    return context


def _block_output(names: Mapping[str, UpstreamName]) -> Callable[..., UpstreamName]:
    def block_output(block_uuid: str | None = None, **_: Any) -> UpstreamName:
        if block_uuid is not None and block_uuid in names:
            return names[block_uuid]
        known = ", ".join(names) or "none"
        raise _TemplateLookupError(
            f"block_output({block_uuid!r}): not an upstream block of this block "
            f"(upstream blocks: {known})"
        )

    return block_output


def _variables(values: Mapping[str, Any]) -> Callable[..., Any]:
    def variables(name: str, default: Any = _NOT_GIVEN) -> Any:
        if name in values:
            return values[name]
        if default is not _NOT_GIVEN:
            return default
        known = ", ".join(sorted(values)) or "none"
        raise _TemplateLookupError(
            f"variables({name!r}): no variable '{name}' in this run (variables: {known}); "
            "set it on the pipeline, trigger or run, or give a fallback: "
            f"variables({name!r}, 'value')"
        )

    return variables


def _env_var(name: str, default: Any = _NOT_GIVEN) -> Any:
    if name in os.environ:
        return os.environ[name]
    if default is not _NOT_GIVEN:
        return default
    raise _TemplateLookupError(
        f"env_var({name!r}): environment variable '{name}' is not set; set it or give a "
        f"fallback: env_var({name!r}, 'value')"
    )


def _ds(execution_date: datetime | None) -> str | None:
    return execution_date.strftime("%Y-%m-%d") if execution_date is not None else None


def _undefined_name(error: jinja2.UndefinedError) -> str:
    match = re.search(r"'([^']+)' is undefined", str(error))
    return match.group(1) if match else str(error)


def _template_line(error: BaseException) -> int | None:
    """The template line Jinja was rendering when `error` was raised, from its traceback."""
    line = None
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _render_error(request: BlockRequest, message: str, line: int | None) -> BlockExecutionError:
    where = Path(request.file_path).name + (f", line {line}" if line else "")
    return BlockExecutionError(request.block_uuid, f"cannot render SQL ({where}): {message}")
