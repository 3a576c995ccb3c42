"""The application: middlewares (errors, then the key), the routes of `routes.ROUTES`, and the state they read.

Errors are raised, never answered by handlers: `errors.error_middleware` maps them.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from meterlocal.errors import ValidationError
from meterlocal.manager import JobManager
from meterlocal.server.auth import bearer_auth_middleware, check_api_key
from meterlocal.server.errors import MAX_BODY_KEY, error_middleware
from meterlocal.server.openapi import build_openapi
from meterlocal.server.routes import ROUTES
from meterlocal.server.routing import EXECUTE_TIMEOUT_KEY, MANAGER_KEY, OPENAPI_KEY, add_routes

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MANAGER_KEY", "create_app"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted (1 MiB); a larger one is answered 413 before it is parsed."""


def create_app(
    manager: JobManager,
    *,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    execute_timeout: float | None = None,
) -> web.Application:
    """Return an aiohttp application serving Meter's Jobs API over `manager`.

    The caller owns the manager: open it before serving and close it after (`run_server` does both for you).
    With `api_key`, every `/api` route requires `Authorization: Bearer <api_key>`. `execute_timeout` bounds how
    long `POST /api/jobs/execute` waits (default: the manager's `settings.execute_timeout`).
    """
    if api_key is not None:
        check_api_key(api_key)
    if max_body_bytes < 1:
        raise ValidationError(f"max_body_bytes must be positive, not {max_body_bytes}")
    if not manager.settings.block_private_addresses:
        logger.warning("serving with the SSRF guard off: API clients can make this server fetch private addresses")
    middlewares: list[Any] = [error_middleware]
    if api_key is not None:
        middlewares.append(bearer_auth_middleware(api_key))
    app = web.Application(middlewares=middlewares, client_max_size=max_body_bytes)
    app[MANAGER_KEY] = manager
    app[MAX_BODY_KEY] = max_body_bytes
    app[EXECUTE_TIMEOUT_KEY] = execute_timeout
    document = build_openapi(routes=ROUTES, auth=api_key is not None, max_body_bytes=max_body_bytes)
    app[OPENAPI_KEY] = orjson.dumps(document)
    add_routes(app.router, ROUTES)
    return app
