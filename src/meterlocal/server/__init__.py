"""Meter's Jobs API over HTTP, as a thin aiohttp layer over `JobManager`.

    app = create_app(manager, api_key="sk_local_...")    # embed in your own aiohttp runner
    await run_server(manager, host="127.0.0.1", port=8080, stop=event)    # or let meterlocal run it

`import meterlocal` does not import this package; it needs nothing beyond meterlocal's core dependencies.
"""

from __future__ import annotations

from meterlocal.server.app import DEFAULT_MAX_BODY_BYTES, MANAGER_KEY, create_app
from meterlocal.server.auth import INVALID_KEY
from meterlocal.server.openapi import build_openapi
from meterlocal.server.runner import run_server

__all__ = ["DEFAULT_MAX_BODY_BYTES", "INVALID_KEY", "MANAGER_KEY", "build_openapi", "create_app", "run_server"]
