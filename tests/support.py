"""Test helpers importable from any test module (`from support import Site, load_strategy`)."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import mimetypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from meterlocal.clock import ManualClock
from meterlocal.models import Job, JobStatus, Strategy

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PAGES = FIXTURES / "pages"
STRATEGIES = FIXTURES / "strategies"
EXPECTED = FIXTURES / "expected"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A small shop page for strategy writing: a sponsored item in its own list before the real ones.
LAMPS = """<html><body>
<ul class="featured"><li class="item"><b class="name">Sponsored lamp</b><i class="price">$999</i></li></ul>
<ul class="main">
 <li class="item"><b class="name">Desk lamp</b><i class="price">$10</i></li>
 <li class="item"><b class="name">Floor lamp</b><i class="price">$20</i></li>
</ul></body></html>"""


@functools.cache
def accuracy_tool() -> Any:
    """`tools/infer_accuracy.py` as a module (the pages and examples the accuracy table is measured on)."""
    spec = importlib.util.spec_from_file_location("infer_accuracy", ROOT / "tools" / "infer_accuracy.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The books.toscrape.com catalogue page (fixtures/pages) and a strategy for its 20 books.
BOOKS = {
    "container": "article.product_pod",
    "fields": {
        "title": {"css": "h3 > a", "attr": "title"},
        "price": "p.price_color",
        "url": {"css": "h3 > a", "attr": "href"},
    },
}
BOOKS_PAGE = "/books_toscrape/catalogue_index.html"


class Site:
    """A real HTTP server on 127.0.0.1.

    GET /<path> serves `fixtures/pages/<path>` unless a test registered a handler for that path with
    `site.route(path, handler)`. `site.hits` counts requests per path, so tests can prove retries and caching.
    """

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[web.Request] = []
        self.base = ""
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "/") -> str:
        return self.base + ("" if path.startswith("/") else "/") + path

    def route(self, path: str, handler: Handler) -> str:
        """Serve `handler` at `path` (any method); return the absolute URL."""
        self.handlers[path] = handler
        return self.url(path)

    def page(self, path: str, body: bytes | str, *, content_type: str = "text/html", status: int = 200) -> str:
        """Serve a fixed body at `path`; return its URL."""
        data = body.encode() if isinstance(body, str) else body

        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=data, status=status, headers={"Content-Type": content_type})

        return self.route(path, handler)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        self.requests.append(request)
        handler = self.handlers.get(request.path)
        if handler is not None:
            return await handler(request)
        file = (PAGES / request.path.lstrip("/")).resolve()
        if request.method != "GET" or PAGES not in file.parents or not file.is_file():
            return web.Response(status=404, text="not found")
        ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return web.Response(body=file.read_bytes(), headers={"Content-Type": ctype})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # Cancel handlers whose client went away, and do not wait long for stragglers at teardown.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        tcp = web.TCPSite(self._runner, "127.0.0.1", 0)
        await tcp.start()
        port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def FakeClock(start: datetime = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)) -> ManualClock:  # noqa: N802
    """A clock a test moves by hand (`meterlocal.clock.ManualClock`), starting at a fixed time."""
    return ManualClock(start)


def strategy_record(document: dict[str, Any] | None = None, *, at: datetime | None = None) -> Strategy:
    """A `Strategy` to put straight into a store (`BOOKS` unless `document` is given)."""
    now = at or datetime.now(UTC)
    return Strategy(
        strategy_id=str(uuid.uuid4()),
        name="Books",
        strategy=document or BOOKS,
        created_at=now,
        updated_at=now,
    )


def pending_job(strategy_id: str, url: str, *, at: datetime | None = None) -> Job:
    """A `pending` job to put straight into a store with `add_jobs`."""
    return Job(
        job_id=str(uuid.uuid4()),
        strategy_id=strategy_id,
        url=url,
        status=JobStatus.PENDING,
        created_at=at or datetime.now(UTC),
    )


def load_strategy(name: str) -> dict[str, Any]:
    """The strategy document `fixtures/strategies/<name>.json`."""
    return json.loads((STRATEGIES / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def read_page(relative: str) -> bytes:
    """The bytes of `fixtures/pages/<relative>`."""
    return (PAGES / relative).read_bytes()


class Receiver:
    """A real webhook receiver on 127.0.0.1 that records every POST and answers as the test says.

    `mode` is "ok" (200), "fail" (500), "slow" (answers after `delay` seconds) or "down" (the port is closed:
    `stop()` then `start()` again on the same port brings it back). `received` holds (headers, raw body) pairs;
    `arrived` is set at each delivery.
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.started = 0  # requests that arrived, answered or not
        self.arrived = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[Any]:
        return [json.loads(body) for _, body in self.received]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.started += 1
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        status = 500 if self.mode == "fail" else 200
        self.statuses.append(status)
        if status == 200:
            self.received.append((dict(request.headers), body))
            self.arrived.set()
        return web.Response(status=status, text="ok" if status == 200 else "boom")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Wait until `count` deliveries were accepted (a deadline, not a sleep)."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without METERLOCAL_ variables, unbuffered, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METERLOCAL_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


class Foreground:
    """`python -m meterlocal <args>` as a real process, its stderr read line by line in a thread."""

    def __init__(self, *args: str | Path, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "meterlocal", *map(str, args)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 20) -> str:
        """The next line of stderr that contains `text`; fail after `timeout` seconds without one."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {text!r} in {self.seen}"
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=20)

    def close(self) -> None:
        """Kill the process if it still runs, and release its pipe."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.reader.join(10)
        assert self.process.stderr is not None
        self.process.stderr.close()
