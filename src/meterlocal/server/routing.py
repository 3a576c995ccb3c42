"""What a route is (`Route`), what its handler receives (`Call`), and how a table of routes becomes aiohttp's router.

Routes are registered exactly, with no trailing-slash variants and no redirects (meter-sdk does not follow
redirects); any other method on a path is a 405 naming exactly that path's methods.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from meterlocal.manager import JobManager
from meterlocal.server.parse import read_body, read_query

__all__ = ["EXECUTE_TIMEOUT_KEY", "MANAGER_KEY", "OPENAPI_KEY", "Call", "Route", "add_routes", "path_parameters"]

MANAGER_KEY: web.AppKey[JobManager] = web.AppKey("manager", JobManager)
EXECUTE_TIMEOUT_KEY: web.AppKey[float | None] = web.AppKey("execute_timeout")
OPENAPI_KEY: web.AppKey[bytes] = web.AppKey("openapi", bytes)

B = TypeVar("B", bound=BaseModel | None)
Q = TypeVar("Q", bound=BaseModel | None)


@dataclass(frozen=True)
class Call(Generic[B, Q]):
    """One request as a handler sees it: the parsed body and query (None when the route has none)."""

    request: web.Request
    body: B
    query: Q

    @property
    def manager(self) -> JobManager:
        return self.request.app[MANAGER_KEY]

    def path(self, name: str) -> str:
        """The value of `{name}` in the route's path."""
        return self.request.match_info[name]


@dataclass(frozen=True)
class Route(Generic[B, Q]):
    """One operation: `handler` answers `method path`; the rest describes it to the router and to OpenAPI.

    `response` is the type the handler returns (`JobOut`, `list[JobOut]`, `JobOut | BatchOut`), serialised with
    `status`; a handler may also return an aiohttp response as it is. `errors` are the route's own error statuses:
    every route under /api may also answer 500 and 503 (and 401 with a key), every route with a body 413.
    """

    method: str
    path: str
    handler: Callable[[Call[B, Q]], Awaitable[Any]]
    operation_id: str
    summary: str
    description: str | None = None
    body: type[B] | None = None
    query: type[Q] | None = None
    response: Any = None
    status: int = 200
    errors: tuple[int, ...] = ()


def _endpoint(route: Route[Any, Any]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of `route`: parse, call the route's handler, serialise what it returns."""
    adapter: TypeAdapter[Any] | None = TypeAdapter(route.response) if route.response is not None else None

    async def endpoint(request: web.Request) -> web.StreamResponse:
        body = await read_body(request, route.body) if route.body is not None else None
        query = read_query(request, route.query) if route.query is not None else None
        result = await route.handler(Call(request, body, query))
        if isinstance(result, web.StreamResponse):
            return result
        if adapter is None:
            raise TypeError(f"{route.operation_id} returned {type(result).__name__} but declares no response type")
        return web.Response(body=adapter.dump_json(result), status=route.status, content_type="application/json")

    return endpoint


def path_parameters(path: str) -> list[str]:
    """The names of a path's `{name}` segments, in order."""
    return [segment[1:-1] for segment in path.split("/") if segment.startswith("{") and segment.endswith("}")]


def _match_order(path: str) -> list[bool]:
    # aiohttp tries resources in the order they were added: a literal segment must come before a parameter at the
    # same place, or /api/jobs/{job_id} would answer /api/jobs/execute. Sorting on this makes table order free.
    return [segment.startswith("{") for segment in path.split("/")]


def add_routes(router: web.UrlDispatcher, routes: Iterable[Route[Any, Any]]) -> None:
    """Register `routes` on `router`: one resource per path, its methods, and a 405 for any other method."""
    by_path: dict[str, list[Route[Any, Any]]] = {}
    for route in routes:
        by_path.setdefault(route.path, []).append(route)
    for path in sorted(by_path, key=_match_order):
        resource = router.add_resource(path)
        methods = sorted(route.method for route in by_path[path])
        if len(set(methods)) != len(methods):
            raise ValueError(f"{path} has a method twice: {', '.join(methods)}")
        for route in by_path[path]:
            resource.add_route(route.method, _endpoint(route))
        # Without this, GET /api/jobs/execute would fall through to /api/jobs/{job_id}, and the Allow header
        # would mix in that route's methods.
        resource.add_route("*", _method_not_allowed(methods))


def _method_not_allowed(allowed: list[str]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMethodNotAllowed(request.method, allowed)

    return handler
