"""Block outputs for the API: what a block run wrote, and a JSON-ready preview of one output.

Reading goes through `weir.data_products` (`DataProductStore.info`, `preview_output`), which
reads only the head of a table file. pandas and pyarrow are imported on the first preview, not
when the server starts.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from weir.data_products.store import OutputInfo
from weir.engine.runner import data_product_store
from weir.errors import NotFoundError
from weir.project.project import Project

__all__ = ["MAX_PREVIEW_ROWS", "json_cell", "list_outputs", "preview"]

MAX_PREVIEW_ROWS = 1000


def list_outputs(project: Project, run_id: int, block_uuid: str) -> tuple[OutputInfo, ...]:
    """The persisted outputs of one block in one run, by index; () when it wrote none.

    Raises:
        DataProductError: an output's meta.json is unreadable (names the file).
    """
    store = data_product_store(project)
    if not store.exists(run_id, block_uuid):
        return ()
    return store.info(run_id, block_uuid)


def _float(value: float) -> object:
    if math.isfinite(value):
        return value
    return None if math.isnan(value) else str(value)


def _scalar(value: object) -> object:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            plain = item()
        except (TypeError, ValueError):
            return str(value)
        return str(value) if plain is value else json_cell(plain)
    return str(value)


_CONVERTERS: tuple[tuple[type | tuple[type, ...], Callable[[Any], object]], ...] = (
    ((bool, int, str, type(None)), lambda value: value),
    (float, _float),
    ((datetime, date, time), lambda value: value.isoformat()),
    (timedelta, lambda value: value.total_seconds()),
    (Decimal, str),
    ((bytes, bytearray, memoryview), lambda value: base64.b64encode(bytes(value)).decode()),
    (Mapping, lambda value: {str(key): json_cell(item) for key, item in value.items()}),
    ((list, tuple, set, frozenset), lambda value: [json_cell(item) for item in value]),
)


def json_cell(value: object) -> object:
    """A preview cell as a JSON value: numbers, text, booleans, null, lists and objects.

    Dates and times become ISO-8601 text, durations seconds, decimals their exact text, bytes
    base64, NaN null and infinities text, numpy scalars their Python value; anything else its
    `str`.
    """
    for kinds, convert in _CONVERTERS:
        if isinstance(value, kinds):
            return convert(value)
    return _scalar(value)


def preview(
    project: Project, run_id: int, block_uuid: str, index: int, rows: int
) -> dict[str, Any]:
    """The first `rows` rows of output `index` of a block run.

    Returns:
        `{"kind", "columns": [{"name", "type"}], "rows": [[cell, ...]], "row_count"}`.

    Raises:
        NotFoundError: the block run has no output `index`.
        DataProductError: the output's file cannot be read (names the file).
    """
    from weir.data_products.preview import preview_output

    infos = {info.index: info for info in list_outputs(project, run_id, block_uuid)}
    if index not in infos:
        raise NotFoundError(
            f"run {run_id}: block '{block_uuid}' has no output {index} "
            f"(outputs: {sorted(infos) or 'none'})"
        )
    shown = preview_output(infos[index], limit_rows=min(rows, MAX_PREVIEW_ROWS))
    return {
        "kind": shown.kind,
        "columns": [{"name": name, "type": kind} for name, kind in shown.columns],
        "rows": [[json_cell(cell) for cell in row] for row in shown.rows],
        "row_count": shown.row_count,
    }
