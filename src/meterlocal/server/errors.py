"""The server's one exception boundary: every error becomes `{"detail": "..."}` with Meter's status codes.

    ValidationError (incl. StrategyError, JobStateError)  400
    ApiError(status, detail)                              its status (401 for auth, 400 for bodies and queries)
    NotFoundError                                         404 "Job not found: ID" / "Strategy not found: ID" / ...
    JobTimeoutError                                       503, the job keeps running; the body carries `job_id`
    UnavailableError                                      503
    GeneratorMissingError                                 501 (a description and no strategy_generator)
    aiohttp's HTTPException (404, 405, 413, ...)          its status, its reason as detail
    anything else                                         500 "Internal server error" (logged with traceback)

Nothing but `detail` (and `job_id` for a timed-out execute) leaves the server: no traceback, no HTML page.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from meterlocal.contract import ErrorOut
from meterlocal.errors import (
    GeneratorMissingError,
    JobTimeoutError,
    NotFoundError,
    UnavailableError,
    ValidationError,
)

__all__ = ["MAX_BODY_KEY", "ApiError", "error_middleware", "error_response"]

logger = logging.getLogger(__name__)

MAX_BODY_KEY: web.AppKey[int] = web.AppKey("max_body_bytes", int)

_REASONS = {
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
}


class ApiError(Exception):
    """An HTTP error the server raises itself (bad JSON, bad query parameter, missing key)."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def error_response(
    status: int, detail: str, *, headers: dict[str, str] | None = None, job_id: str | None = None
) -> web.Response:
    """Meter's error JSON, `ErrorOut`: `{"detail": ...}`, with `job_id` for a job that is still running."""
    body: ErrorOut = {"detail": detail}
    if job_id is not None:
        body["job_id"] = job_id
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def _http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    detail = _REASONS.get(exc.status, exc.reason)
    if exc.status == 404:
        detail = f"Not found: {request.method} {request.path}"
        if request.path.endswith("/") and len(request.path) > 1:
            detail += f" (no trailing slash: {request.path.rstrip('/')})"
    elif exc.status == 405:
        detail = f"Method {request.method} not allowed on {request.path}; allowed: {headers.get('Allow', 'none')}"
    elif exc.status == 413:
        limit = request.app[MAX_BODY_KEY]
        detail = f"Request body too large: the limit is {limit} bytes"
    return error_response(exc.status, detail, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn every exception a handler raises into Meter's `{"detail": ...}` JSON error."""
    try:
        response: web.StreamResponse = await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.detail, headers=exc.headers)
    except ValidationError as exc:
        return error_response(400, str(exc))
    except NotFoundError as exc:
        return error_response(404, str(exc))
    except JobTimeoutError as exc:
        detail = (
            f"Job {exc.job_id} did not finish within {exc.timeout:g} s; it keeps running: "
            f"poll GET /api/jobs/{exc.job_id}"
        )
        return error_response(503, detail, headers={"Retry-After": "5"}, job_id=exc.job_id)
    except UnavailableError as exc:
        return error_response(503, str(exc))
    except GeneratorMissingError as exc:
        return error_response(501, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # no handler redirects; keep aiohttp's own behaviour for anything that is not an error
        return _http_exception(request, exc)
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "Internal server error")
    return response
