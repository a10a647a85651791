"""ASGI middleware of the API.

`SingleValuedQuery` answers 422 when a query parameter that takes one value is given several
times (`?limit=5&limit=500`): Starlette would silently keep the last one, so a client's mistake
would go unnoticed. Parameters that take lists are named in `MULTI_VALUED_QUERY`.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["MULTI_VALUED_QUERY", "SingleValuedQuery"]

MULTI_VALUED_QUERY: Final = frozenset({"status"})
"""Query parameters that may repeat (`?status=failed&status=cancelled`)."""


class SingleValuedQuery:
    """Refuse repeated single-valued query parameters with 422 (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the query string of HTTP requests, then pass them on."""
        if scope["type"] == "http" and scope.get("query_string"):
            repeated = _repeated(scope["query_string"].decode("latin-1"))
            if repeated:
                await _refuse(repeated, send)
                return
        await self.app(scope, receive, send)


def _repeated(query: str) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for key, _value in parse_qsl(query, keep_blank_values=True):
        if key in seen and key not in MULTI_VALUED_QUERY and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


async def _refuse(repeated: list[str], send: Send) -> None:
    detail = [
        {"loc": ["query", key], "msg": "given more than once; give it once", "type": "repeated"}
        for key in repeated
    ]
    body = orjson.dumps({"detail": detail})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": body})
