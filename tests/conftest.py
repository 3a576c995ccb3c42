"""Shared fixtures: a real aiohttp site on 127.0.0.1 serving fixtures/pages and test routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from support import Site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    server = Site()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
