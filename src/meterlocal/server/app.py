"""Routes and handlers: Meter's Jobs API over one `JobManager`. Each handler parses, calls the manager, shapes JSON.

Errors are raised, never answered here: `errors.error_middleware` maps them. Routes are registered exactly, with
no trailing-slash variants and no redirects (meter-sdk does not follow redirects).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from meterlocal.arguments import MAX_LIST_LIMIT
from meterlocal.errors import ValidationError
from meterlocal.manager import JobManager
from meterlocal.models import JobStatus
from meterlocal.server.auth import bearer_auth_middleware, check_api_key
from meterlocal.server.errors import MAX_BODY_KEY, ApiError, error_middleware, error_response, json_response
from meterlocal.server.openapi import build_openapi
from meterlocal.server.schemas import (
    CompareJobsBody,
    CreateJobBody,
    CreateStrategyBody,
    ExecuteJobBody,
    UpdateStrategyBody,
    batch_json,
    comparison_json,
    describe_validation_error,
    history_json,
    job_json,
    progress_json,
    strategy_json,
)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MANAGER_KEY", "MAX_OFFSET", "create_app"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted (1 MiB); a larger one is answered 413 before it is parsed."""

MANAGER_KEY: web.AppKey[JobManager] = web.AppKey("manager", JobManager)
_EXECUTE_TIMEOUT_KEY: web.AppKey[float | None] = web.AppKey("execute_timeout")
_OPENAPI_KEY: web.AppKey[bytes] = web.AppKey("openapi", bytes)

_INT = re.compile(r"[-+]?[0-9]{1,40}")
MAX_OFFSET = 2**63 - 1  # SQLite's OFFSET is a signed 64-bit integer
_STATUSES = frozenset(s.value for s in JobStatus)
_Body = TypeVar("_Body", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    app[_EXECUTE_TIMEOUT_KEY] = execute_timeout
    app[_OPENAPI_KEY] = orjson.dumps(build_openapi(auth=api_key is not None, max_body_bytes=max_body_bytes))
    _add_routes(app.router)
    return app


def _add_routes(router: web.UrlDispatcher) -> None:
    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/api/jobs", create_job),
        ("GET", "/api/jobs", list_jobs),
        ("POST", "/api/jobs/execute", execute_job),
        ("POST", "/api/jobs/compare", compare_jobs_body),
        ("GET", "/api/jobs/batch/{batch_id}", get_batch_progress),
        ("GET", "/api/jobs/strategies/{strategy_id}/history", get_strategy_history),
        ("GET", "/api/jobs/{job_id}/compare/{other_job_id}", compare_jobs_path),
        ("GET", "/api/jobs/{job_id}", get_job),
        ("GET", "/api/strategies", list_strategies),
        ("POST", "/api/strategies", create_strategy),
        ("POST", "/api/strategies/generate", generate_strategy),
        ("GET", "/api/strategies/{strategy_id}/history", get_strategy_history),
        ("GET", "/api/strategies/{strategy_id}", get_strategy),
        ("PATCH", "/api/strategies/{strategy_id}", update_strategy),
        ("DELETE", "/api/strategies/{strategy_id}", delete_strategy),
        ("GET", "/openapi.json", openapi),
    ]
    by_path: dict[str, list[tuple[str, Handler]]] = {}
    for method, path, handler in routes:
        by_path.setdefault(path, []).append((method, handler))
    for path, handlers in by_path.items():
        resource = router.add_resource(path)
        for method, handler in handlers:
            resource.add_route(method, handler)
        # Any other method is a 405 naming exactly this path's methods. Without it, GET /api/jobs/execute
        # would fall through to /api/jobs/{job_id} and the Allow header would mix in that route's methods.
        resource.add_route("*", _method_not_allowed(sorted(method for method, _ in handlers)))


def _method_not_allowed(allowed: list[str]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMethodNotAllowed(request.method, allowed)

    return handler


# Parsing ----------------------------------------------------------------------------------------------------
async def _body(request: web.Request, model: type[_Body]) -> _Body:
    """Read and validate a JSON object body (aiohttp raises 413 past `client_max_size` while reading)."""
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, f"Request body is required: a JSON object with {_field_list(model)}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"Request body must be a JSON object, not {_json_type(data)}")
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ApiError(400, describe_validation_error(exc)) from None


def _field_list(model: type[BaseModel]) -> str:
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    return ", ".join(required) if required else "the fields to change"


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string"}.get(type(value), "a number")


def _int_query(request: web.Request, name: str, default: int | None, *, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    bounds = f"from {low} to {high}"
    if not _INT.fullmatch(raw) or not low <= int(raw) <= high:
        raise ApiError(400, f"Query parameter {name} must be an integer {bounds}, not {raw!r}")
    return int(raw)


def _page(request: web.Request) -> tuple[int, int]:
    limit = _int_query(request, "limit", 20, low=1, high=MAX_LIST_LIMIT)
    offset = _int_query(request, "offset", 0, low=0, high=MAX_OFFSET)
    assert limit is not None
    assert offset is not None
    return limit, offset


def _str_query(request: web.Request, name: str) -> str | None:
    """The parameter as given; an empty value is a value (`?status=` is refused, `?strategy_id=` matches none)."""
    return request.query.get(name)


def _manager(request: web.Request) -> JobManager:
    return request.app[MANAGER_KEY]


# Jobs -------------------------------------------------------------------------------------------------------
async def create_job(request: web.Request) -> web.Response:
    body = await _body(request, CreateJobBody)
    manager = _manager(request)
    if body.urls is None:
        if body.url is None:
            raise ValidationError("url is required (or urls, a list, for a batch)")
        job = await manager.create_job(body.strategy_id, body.url, parameters=body.parameters)
        return json_response(job_json(job), status=201)
    if body.url is not None:
        raise ValidationError("give url (one page) or urls (a batch), not both")
    batch = await manager.create_job(body.strategy_id, urls=body.urls, parameters=body.parameters)
    return json_response(batch_json(batch), status=201)


async def execute_job(request: web.Request) -> web.Response:
    body = await _body(request, ExecuteJobBody)
    job = await _manager(request).execute_job(
        body.strategy_id, body.url, body.parameters, timeout=request.app[_EXECUTE_TIMEOUT_KEY]
    )
    return json_response(job_json(job))


async def get_job(request: web.Request) -> web.Response:
    job = await _manager(request).get_job(request.match_info["job_id"])
    return json_response(job_json(job))


async def list_jobs(request: web.Request) -> web.Response:
    limit, offset = _page(request)
    status = _str_query(request, "status")
    if status is not None and status not in _STATUSES:
        raise ApiError(400, f"Query parameter status must be one of {', '.join(sorted(_STATUSES))}, not {status!r}")
    strategy_id = _str_query(request, "strategy_id")
    since = _str_query(request, "since")
    batch_id = _str_query(request, "batch_id")
    jobs = await _manager(request).list_jobs(
        strategy_id=strategy_id, status=status, since=since, limit=limit, offset=offset, batch_id=batch_id
    )
    if _str_query(request, "schedule_id") is not None:
        jobs = []  # meterlocal has no schedules: no job belongs to one (the other filters were still checked)
    return json_response([job_json(job) for job in jobs])


async def get_batch_progress(request: web.Request) -> web.Response:
    progress = await _manager(request).get_batch_progress(request.match_info["batch_id"])
    return json_response(progress_json(progress))


async def compare_jobs_body(request: web.Request) -> web.Response:
    body = await _body(request, CompareJobsBody)
    comparison = await _manager(request).compare_jobs(body.job_id, body.other_job_id)
    return json_response(comparison_json(comparison))


async def compare_jobs_path(request: web.Request) -> web.Response:
    info = request.match_info
    comparison = await _manager(request).compare_jobs(info["job_id"], info["other_job_id"])
    return json_response(comparison_json(comparison))


async def get_strategy_history(request: web.Request) -> web.Response:
    limit = _int_query(request, "limit", None, low=1, high=MAX_LIST_LIMIT)
    entries = await _manager(request).get_strategy_history(request.match_info["strategy_id"], limit=limit)
    return json_response(history_json(entries))


# Strategies -------------------------------------------------------------------------------------------------
async def list_strategies(request: web.Request) -> web.Response:
    limit, offset = _page(request)
    strategies = await _manager(request).list_strategies(limit=limit, offset=offset)
    return json_response([strategy_json(s) for s in strategies])


async def create_strategy(request: web.Request) -> web.Response:
    body = await _body(request, CreateStrategyBody)
    strategy = await _manager(request).create_strategy(
        body.name,
        body.strategy,
        url=body.url,
        description=body.description,
        output_schema=body.output_schema,
        filter_config=body.filter_config,
    )
    return json_response(strategy_json(strategy), status=201)


async def generate_strategy(request: web.Request) -> web.Response:
    return error_response(
        501,
        "Strategy generation needs Meter's LLM, which meterlocal does not have: create the strategy explicitly "
        'with POST /api/strategies {"name", "url", "strategy": {"container": ..., "fields": {...}}}',
    )


async def get_strategy(request: web.Request) -> web.Response:
    strategy = await _manager(request).get_strategy(request.match_info["strategy_id"])
    return json_response(strategy_json(strategy))


async def update_strategy(request: web.Request) -> web.Response:
    body = await _body(request, UpdateStrategyBody)
    changes: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set}
    for name in ("name", "description", "strategy"):
        if name in changes and changes[name] is None:
            raise ApiError(400, f"Invalid request body: {name} cannot be null (leave it out to keep it)")
    strategy = await _manager(request).update_strategy(request.match_info["strategy_id"], **changes)
    return json_response(strategy_json(strategy))


async def delete_strategy(request: web.Request) -> web.Response:
    strategy_id = request.match_info["strategy_id"]
    await _manager(request).delete_strategy(strategy_id)
    return json_response({"strategy_id": strategy_id, "id": strategy_id, "deleted": True})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[_OPENAPI_KEY], content_type="application/json")
