"""Fast JSON responses for the hot paths, with the same shapes the schemas document.

FastAPI validates and encodes a handler's return value against its response model, which
costs more than the query behind a page of runs. Handlers on hot paths return `json_response`
of plain data (dataclasses, dicts, enums, aware datetimes) instead; the route still declares
its `response_model`, so the OpenAPI schema is the same, and a test checks the bodies against
it.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import orjson
from fastapi import Path, Response
from pydantic import BaseModel

__all__ = ["ERROR_RESPONSES", "ErrorOut", "Id", "json_response"]


class ErrorOut(BaseModel):
    """An error: what went wrong and, where it can, what to do.

    A request that breaks the schema gets FastAPI's list of problems (each with `loc`, `msg`,
    `type`) instead of text.
    """

    detail: str | list[dict[str, Any]]


ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ErrorOut, "description": "The request cannot be carried out."},
    401: {"model": ErrorOut, "description": "No credentials, or unknown, revoked or expired."},
    403: {"model": ErrorOut, "description": "The user's role does not allow this."},
    404: {"model": ErrorOut, "description": "It does not exist."},
    409: {"model": ErrorOut, "description": "It clashes with what exists, or with a status."},
    422: {"model": ErrorOut, "description": "The request or the file it would write is invalid."},
}
"""The error answers every router documents (Weir's errors map to these in `app.py`)."""

Id = Annotated[int, Path(ge=1, le=2**31 - 1, description="an id (a 32-bit database key)")]
"""A path parameter naming a row: ids are PostgreSQL `integer`s, so larger ones cannot exist."""

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def json_response(content: Any, status_code: int = 200) -> Response:
    """Encode `content` with orjson (UTC datetimes end in `Z`, as pydantic writes them)."""
    return Response(
        orjson.dumps(content, option=_OPTIONS),
        status_code=status_code,
        media_type="application/json",
    )
