"""Serve an app until told to stop: the embeddable part of `meterlocal serve` (the CLI adds signals and output)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from meterlocal.manager import JobManager
from meterlocal.server.app import DEFAULT_MAX_BODY_BYTES, create_app

__all__ = ["run_server"]

logger = logging.getLogger(__name__)


async def run_server(
    manager: JobManager,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    execute_timeout: float | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[list[tuple[str, int]]], None] | None = None,
    shutdown_timeout: float = 5.0,
    access_log: bool = False,
) -> None:
    """Open `manager`, serve Meter's API on `host:port` until `stop` is set (or the task is cancelled), then
    stop accepting, give requests in flight `shutdown_timeout` seconds, and close the manager.

    `ready` is called with the bound (host, port) pairs once the socket listens (port 0 picks a free port).
    No signal handlers are installed: that is the caller's business.
    """
    app = create_app(manager, api_key=api_key, max_body_bytes=max_body_bytes, execute_timeout=execute_timeout)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        shutdown_timeout=shutdown_timeout,
    )
    await manager.open()
    try:
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            if ready is not None:
                ready([(str(a[0]), int(a[1])) for a in runner.addresses])
            await (stop.wait() if stop is not None else asyncio.get_running_loop().create_future())
        finally:
            await runner.cleanup()
    finally:
        await manager.close()
