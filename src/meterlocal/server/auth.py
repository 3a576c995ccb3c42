"""Bearer-key authentication for every `/api` route, compared in constant time and never logged."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from meterlocal.errors import ValidationError
from meterlocal.server.errors import ApiError

__all__ = ["INVALID_KEY", "bearer_auth_middleware", "check_api_key", "needs_key"]

INVALID_KEY = "Invalid or missing API key"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="meterlocal"'}


def needs_key(path: str) -> bool:
    """Whether a request to `path` needs the key when the server has one: everything under /api, and Meter's
    /discover routes (which it serves without the /api prefix)."""
    return any(path == root or path.startswith(root + "/") for root in ("/api", "/discover"))


def check_api_key(api_key: str) -> None:
    """Refuse keys HTTP clients cannot send: empty, or not printable ASCII (httpx, and so meter-sdk, sends
    only ASCII header values)."""
    if not api_key or not all("!" <= ch <= "~" for ch in api_key):
        raise ValidationError(
            "the API key must be non-empty printable ASCII without spaces (HTTP clients send nothing else)"
        )


def bearer_auth_middleware(api_key: str) -> Any:
    """Return a middleware that answers 401 to any `/api` request without `Authorization: Bearer <api_key>`."""
    check_api_key(api_key)
    expected = api_key.encode("ascii")

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if needs_key(request.path):
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            # compare_digest on bytes: constant time for any key, and no TypeError on non-ASCII input.
            ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected)
            if not ok:
                raise ApiError(401, INVALID_KEY, headers=_CHALLENGE)
        response: web.StreamResponse = await handler(request)
        return response

    return bearer_auth
