"""Handlers of Meter's `/discover` routes over the manager's discovery methods.

Meter documents `POST /discover` and `GET /discover/{discovery_id}`; its URL-list and execute endpoints exist but
their paths were not published, so meterlocal serves them at `/discover/{discovery_id}/urls` and
`/discover/{discovery_id}/execute`.
"""

from __future__ import annotations

from meterlocal.contract import (
    BatchOut,
    CreateDiscoveryBody,
    DiscoveryCreatedOut,
    DiscoveryOut,
    DiscoveryUrlsOut,
    DiscoveryUrlsQuery,
    ExecuteDiscoveryBody,
)
from meterlocal.errors import ValidationError
from meterlocal.server.routing import Call

__all__ = ["create_discovery", "execute_discovery", "get_discovery", "list_discovery_urls"]


async def create_discovery(call: Call[CreateDiscoveryBody, None]) -> DiscoveryCreatedOut:
    parameters = dict(call.body.discovery)
    method = parameters.pop("method", None)
    if not isinstance(method, str):
        raise ValidationError("discovery.method is required: sitemap, pagination or link_pattern")
    discovery = await call.manager.start_discovery(method, **parameters)
    return DiscoveryCreatedOut.created(discovery)


async def get_discovery(call: Call[None, None]) -> DiscoveryOut:
    return DiscoveryOut.of(await call.manager.get_discovery(call.path("discovery_id")))


async def list_discovery_urls(call: Call[None, DiscoveryUrlsQuery]) -> DiscoveryUrlsOut:
    discovery = await call.manager.get_discovery(call.path("discovery_id"))
    limit, offset = call.query.limit, call.query.offset
    return DiscoveryUrlsOut(
        discovery_id=discovery.discovery_id,
        status=discovery.status,
        total=len(discovery.urls),
        limit=limit,
        offset=offset,
        urls=discovery.urls[offset : offset + limit],
    )


async def execute_discovery(call: Call[ExecuteDiscoveryBody, None]) -> BatchOut:
    body = call.body
    batch = await call.manager.execute_discovery(call.path("discovery_id"), body.strategy_id, body.parameters)
    return BatchOut.of(batch)
