"""Fetch test fixtures: fast settings and HTTP fetchers that are always closed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from meterlocal.fetch import HttpFetcher
from meterlocal.settings import Settings
from support import Site

# Short waits so retry and timeout tests take milliseconds, not the production seconds.
FAST: dict[str, Any] = {
    "backoff_base": 0.01,
    "backoff_max": 2.0,
    "connect_timeout": 2.0,
    "read_timeout": 2.0,
    "total_timeout": 5.0,
}


def fast_settings(**overrides: Any) -> Settings:
    return Settings(**{**FAST, **overrides})


@pytest.fixture
async def make_http() -> AsyncIterator[Callable[..., HttpFetcher]]:
    """Build `HttpFetcher`s from `FAST` settings plus overrides; close them all at the end."""
    made: list[HttpFetcher] = []

    def make(*, allow_private_hosts: tuple[str, ...] = (), **overrides: Any) -> HttpFetcher:
        fetcher = HttpFetcher(fast_settings(**overrides), allow_private_hosts=allow_private_hosts)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()


@pytest.fixture
async def silent(site: Site) -> AsyncIterator[Callable[[str], str]]:
    """Register paths whose handler accepts the request and never answers (until the test ends)."""
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="too late")

    yield lambda path: site.route(path, hang)
    release.set()


@pytest.fixture
def unused_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
