"""Fast JSON responses for the hot paths, with the same shapes the schemas document.

FastAPI validates and encodes a handler's return value against its response model, which
costs more than the query behind a page of runs. Handlers on hot paths return `json_response`
of plain data (dataclasses, dicts, enums, aware datetimes) instead; the route still declares
its `response_model`, so the OpenAPI schema is the same, and a test checks the bodies against
it.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

__all__ = ["json_response"]

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def json_response(content: Any, status_code: int = 200) -> Response:
    """Encode `content` with orjson (UTC datetimes end in `Z`, as pydantic writes them)."""
    return Response(
        orjson.dumps(content, option=_OPTIONS),
        status_code=status_code,
        media_type="application/json",
    )
